"""Config mistakes stop start-up with one message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_default_and_demo_configs_load() -> None:
    default = load_settings(ROOT / "config/default.toml", env={})
    assert default.server.port == 8080 and not default.telegram.enabled
    demo = load_settings(ROOT / "config/demo.toml", env={})
    assert demo.server.sandbox and demo.telegram.enabled


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key telegram\.tokn"):
        load_settings(write(tmp_path, '[telegram]\ntokn = "x"\n'), env={})


def test_unknown_section_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[telegramm\]"):
        load_settings(write(tmp_path, "[telegramm]\nenabled = true\n"), env={})


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[server]\nport = "8080"\n', "server.port"),
        ('[telegram]\nenabled = "yes"\n', "telegram.enabled"),
        ("[media]\nallowed_hosts = 3\n", "media.allowed_hosts"),
        ("[outbox]\nbackoff_base_seconds = true\n", "outbox.backoff_base_seconds"),
    ],
)
def test_wrong_type_is_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(write(tmp_path, text), env={})


def test_missing_secret_of_enabled_channel_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"telegram\.webhook_secret is required.*AFTERSALES_TELEGRAM__WEBHOOK_SECRET"
    ):
        load_settings(write(tmp_path, '[telegram]\nenabled = true\ntoken = "1:x"\n'), env={})
    with pytest.raises(ConfigError, match=r"whatsapp\.account_sid"):
        load_settings(write(tmp_path, "[whatsapp]\nenabled = true\n"), env={})


def test_environment_overrides_with_types(tmp_path: Path) -> None:
    env = {
        "AFTERSALES_TELEGRAM__ENABLED": "true",
        "AFTERSALES_TELEGRAM__TOKEN": "1:from-env",
        "AFTERSALES_TELEGRAM__WEBHOOK_SECRET": "s3cret",
        "AFTERSALES_SERVER__PORT": "9090",
        "AFTERSALES_MEDIA__ALLOWED_HOSTS": "a.example, b.example",
        "UNRELATED": "ignored",
    }
    s = load_settings(write(tmp_path, "[server]\nport = 1\n"), env=env)
    assert s.telegram.enabled and s.telegram.token == "1:from-env"
    assert s.server.port == 9090
    assert s.media.allowed_hosts == ["a.example", "b.example"]


def test_bad_environment_values_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"server\.port \(from environment\)"):
        load_settings(path, env={"AFTERSALES_SERVER__PORT": "eighty"})
    with pytest.raises(ConfigError, match=r"unknown key server\.prot"):
        load_settings(path, env={"AFTERSALES_SERVER__PROT": "1"})


def test_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"wechat\.reply_mode"):
        load_settings(write(tmp_path, '[wechat]\nreply_mode = "push"\n'), env={})
    with pytest.raises(ConfigError, match=r"database\.url"):
        load_settings(write(tmp_path, '[database]\nurl = "mysql://x"\n'), env={})
    with pytest.raises(ConfigError, match=r"file not found"):
        load_settings(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match=r"invalid TOML"):
        load_settings(write(tmp_path, "[server\n"), env={})
