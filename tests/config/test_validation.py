"""Checks across settings: the intake process's port and what it cannot serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings

WECHAT = '[wechat]\nenabled = true\napp_id = "wx1"\napp_secret = "s"\ntoken = "t"\nallow_plain_mode = true\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_an_intake_port_is_a_port_of_its_own(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[server]\nport = 8080\nintake_port = 8081\n"), env={})
    assert settings.server.intake_port == 8081
    for value in ("8080", "70000", "-1"):
        with pytest.raises(ConfigError, match=r"server\.intake_port"):
            load_settings(write(tmp_path, f"[server]\nport = 8080\nintake_port = {value}\n"), env={})


def test_passive_wechat_replies_cannot_go_through_an_intake_process(tmp_path: Path) -> None:
    api = load_settings(write(tmp_path, f"[server]\nintake_port = 8081\n{WECHAT}"), env={})
    assert api.wechat.reply_mode == "api"
    passive = f'[server]\nintake_port = 8081\n{WECHAT}reply_mode = "passive"\n'
    with pytest.raises(ConfigError, match=r"server\.intake_port.*wechat\.reply_mode"):
        load_settings(write(tmp_path, passive), env={})
    assert load_settings(write(tmp_path, f'{WECHAT}reply_mode = "passive"\n'), env={}).server.intake_port == 0
