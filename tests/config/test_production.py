"""`aftersales serve` with sandbox = false refuses secrets that are empty, short or from the demo config."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from config.production import check_production_secrets, demo_values
from config.settings import ConfigError, load_settings
from tests.e2e.test_serve_process import Server, free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "demo.toml"
STRONG = "prod-admin-token-" + "x" * 24


def serve(config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `serve` and expect it to refuse at once (a started server would hit the timeout)."""
    return subprocess.run(
        [sys.executable, "-m", "bot.tools.cli", "--config", str(config), "serve"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def write(tmp_path: Path, body: str) -> Path:
    cfg = tmp_path / "prod.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/p.db"\n[media]\ndir = "{tmp_path}/m"\n' + body
    )
    return cfg


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    return lines[0]


def test_the_demo_config_with_sandbox_off_is_refused_naming_the_admin_token(tmp_path: Path) -> None:
    demo = DEMO.read_text().replace(
        "sqlite+aiosqlite:///var/aftersales.db", f"sqlite+aiosqlite:///{tmp_path}/d.db"
    )
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo)
    line = one_line(serve(cfg, AFTERSALES_SERVER__SANDBOX="false", AFTERSALES_EMAIL__ENABLED="false"))
    assert "server.admin_token" in line and "config/demo.toml" in line
    assert "demo-admin-token" not in line  # the message names the key, never the secret


def test_a_demo_webhook_secret_is_refused_naming_its_key(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        f'[server]\nadmin_token = "{STRONG}"\n'
        '[telegram]\nenabled = true\ntoken = "123456:AAH-a-real-looking-bot-token"\n'
        'webhook_secret = "demo-webhook-secret"\n',
    )
    line = one_line(serve(cfg))
    assert line.startswith("aftersales: config: telegram.webhook_secret ") and "demo.toml" in line


@pytest.mark.parametrize(
    ("body", "key", "why"),
    [
        ("", "server.admin_token", "is empty"),
        ('[server]\nadmin_token = "short-token"\n', "server.admin_token", "shorter than 16"),
        (
            f'[server]\nadmin_token = "{STRONG}"\n[whatsapp]\nenabled = true\naccount_sid = "AC1"\n'
            'auth_token = "tiny"\nfrom_number = "whatsapp:+1"\n',
            "whatsapp.auth_token",
            "shorter than 16",
        ),
    ],
)
def test_empty_or_short_secrets_are_refused(tmp_path: Path, body: str, key: str, why: str) -> None:
    line = one_line(serve(write(tmp_path, body)))
    assert f"config: {key} " in line and why in line


def test_every_secret_shipped_in_the_demo_config_is_refused_in_turn() -> None:
    """Fix one key at a time: each secret of every enabled channel is caught, by its own name."""
    env = {"AFTERSALES_SERVER__SANDBOX": "false", "AFTERSALES_EMAIL__ENABLED": "false"}
    settings = load_settings(DEMO, env=env)
    check_production_secrets(load_settings(DEMO, env={}))  # the sandbox demo itself is fine
    named: list[str] = []
    for _ in range(20):
        try:
            check_production_secrets(settings)
            break
        except ConfigError as exc:
            key = str(exc).removeprefix("config: ").split(" ", 1)[0]
            named.append(key)
            section, field = key.split(".")
            value = secrets.token_urlsafe(32)[:43] if field == "encoding_aes_key" else secrets.token_hex(16)
            setattr(getattr(settings, section), field, value)
    assert named == [
        "server.admin_token",
        "telegram.token",
        "telegram.webhook_secret",
        "whatsapp.auth_token",
        "wechat.app_secret",
        "wechat.token",
        "wechat.encoding_aes_key",
    ]
    # read from the file, not a copy: each of those demo values is in the set the check uses
    with DEMO.open("rb") as fh:
        shipped = tomllib.load(fh)
    assert shipped["server"]["admin_token"] in demo_values()
    assert shipped["wechat"]["app_secret"] in demo_values()


async def test_strong_secrets_start_the_server(tmp_path: Path) -> None:
    port = free_port()
    cfg = write(tmp_path, f'[server]\nport = {port}\nadmin_token = "{STRONG}"\n')
    upgraded = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.tools.cli", "--config", str(cfg), "db", "upgrade"],
        cwd=ROOT,
        timeout=60,
    )
    assert upgraded.returncode == 0
    server = Server(cfg, port, tmp_path / "serve.log")
    try:
        await server.start()  # healthz answers 200
    finally:
        server.stop()


def test_trusted_proxies_take_addresses_and_networks_and_refuse_anything_else() -> None:
    ok = load_settings(DEMO, env={"AFTERSALES_SERVER__TRUSTED_PROXIES": "10.0.0.5, 172.16.0.0/12, ::1"})
    assert ok.server.trusted_proxies == ["10.0.0.5", "172.16.0.0/12", "::1"]
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies\[1\] must be an IP address or CIDR"):
        load_settings(DEMO, env={"AFTERSALES_SERVER__TRUSTED_PROXIES": "10.0.0.5, proxy.internal"})
