"""The `aftersales` command line: help everywhere, one clear line and a non-zero exit on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.tools.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
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


def _clean_env() -> dict[str, str]:
    """The subprocess sees no AFTERSALES_* override, so only the --config file decides."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}


def run_clean(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.tools.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
    )


def _db_config(tmp_path: Path, name: str) -> tuple[Path, Path]:
    db = tmp_path / f"{name}.db"
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n')
    return cfg, db


@pytest.mark.parametrize("where", ["before", "after"])
def test_db_upgrade_reads_config_before_or_after_the_subcommand(tmp_path: Path, where: str) -> None:
    cfg, db = _db_config(tmp_path, "one")
    args = (
        ["--config", str(cfg), "db", "upgrade"]
        if where == "before"
        else ["db", "upgrade", "--config", str(cfg)]
    )
    result = run_clean(*args)
    assert result.returncode == 0, result.stderr
    assert db.is_file() and str(db) in result.stdout


def test_config_after_the_subcommand_wins(tmp_path: Path) -> None:
    first, first_db = _db_config(tmp_path, "first")
    second, second_db = _db_config(tmp_path, "second")
    result = run_clean("--config", str(first), "db", "upgrade", "--config", str(second))
    assert result.returncode == 0, result.stderr
    assert second_db.is_file() and not first_db.exists()


def _rota_config(tmp_path: Path, name: str, rota: str) -> Path:
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(f'[escalation]\nrota_file = "{ROOT / rota}"\n')
    return cfg


def test_rota_who_reads_config_in_either_place(tmp_path: Path) -> None:
    demo = _rota_config(tmp_path, "demo", "config/rota.toml")
    duty = _rota_config(tmp_path, "duty", "tests/fakes/rota.toml")
    at = ["--at", "2026-11-03T10:00+08:00"]
    before = run_clean("--config", str(demo), "rota", "who", *at)
    after = run_clean("rota", "who", *at, "--config", str(demo))
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert "rotation primary: Li Wei (li)" in before.stdout
    assert after.stdout == before.stdout
    both = run_clean("--config", str(demo), "rota", "who", *at, "--config", str(duty))
    assert both.returncode == 0, both.stderr
    assert "Duty Phone (duty)" in both.stdout and "Li Wei" not in both.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["serve"],
        ["db", "upgrade"],
        ["demo", "seed"],
        ["rota", "who"],
        ["claims", "list"],
        ["orders", "import"],
        ["report", "quality"],
        ["staff", "passwd"],
        ["simulate"],
    ],
)
def test_every_subcommand_offers_config(args: list[str]) -> None:
    result = run_clean(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: aftersales" in result.stdout and "--config CONFIG" in result.stdout


@pytest.mark.parametrize("args", [["db", "upgrade"], ["rota", "who"], ["claims", "list"]])
def test_missing_config_after_the_subcommand_is_one_line_naming_the_file(
    tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "nowhere.toml"
    result = run_clean(*args, "--config", str(missing))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0], result.stderr
