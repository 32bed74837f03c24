"""The `aftersales` command line: help everywhere, one clear line and a non-zero exit on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "args",
    [[], ["serve"], ["db"], ["db", "upgrade"], ["demo", "seed"], ["simulate"]],
)
def test_help_on_every_command(args: list[str]) -> None:
    result = run(*args, "--help")
    assert result.returncode == 0
    assert "usage: aftersales" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["frobnicate"], "invalid choice"),
        (["db"], "required"),
        (["simulate", "telegram", "hi"], "--from"),
        (["simulate", "fax", "--from", "1", "hi"], "invalid choice"),
        (["serve", "--port", "eighty"], "invalid int value"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line(args: list[str], needle: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_config_errors_are_one_line_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[telegram]\nenabled = true\ntoken = "1:x"\n')
    result = run("--config", str(bad), "db", "upgrade")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "aftersales: config: telegram.webhook_secret is required when telegram.enabled = true "
        "(set it in the file or as AFTERSALES_TELEGRAM__WEBHOOK_SECRET)"
    ]


def test_simulate_without_a_running_bot_says_so(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[server]\nport = 9\nsandbox = true\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/x.db"\n'
        '[telegram]\nenabled = true\ntoken = "1:x"\nwebhook_secret = "s"\n'
    )
    result = run("--config", str(cfg), "simulate", "telegram", "--from", "1", "hello")
    assert result.returncode == 2
    assert "no bot is listening" in result.stderr and len(result.stderr.strip().splitlines()) == 1
