"""Config mistakes stop start-up with one message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


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


WECHAT_PLAIN = (
    '[wechat]\nenabled = true\napp_id = "wx1"\napp_secret = "s"\ntoken = "t"\nencoding_aes_key = ""\n'
)


def test_wechat_plain_mode_is_refused_outside_sandbox_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"wechat\.encoding_aes_key.*wechat\.allow_plain_mode") as err:
        load_settings(write(tmp_path, WECHAT_PLAIN), env={})
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"wechat\.allow_plain_mode"):
        load_settings(write(tmp_path, WECHAT_PLAIN), env={"AFTERSALES_WECHAT__ALLOW_PLAIN_MODE": "false"})


def test_wechat_plain_mode_allowed_by_the_key_or_in_sandbox_and_safe_mode_always(tmp_path: Path) -> None:
    allowed = load_settings(write(tmp_path, WECHAT_PLAIN + "allow_plain_mode = true\n"), env={})
    assert allowed.wechat.allow_plain_mode and not allowed.wechat.encoding_aes_key
    sandbox = load_settings(write(tmp_path, "[server]\nsandbox = true\n" + WECHAT_PLAIN), env={})
    assert sandbox.server.sandbox
    safe = WECHAT_PLAIN.replace('encoding_aes_key = ""', f'encoding_aes_key = "{"k" * 43}"')
    assert load_settings(write(tmp_path, safe), env={}).wechat.encoding_aes_key == "k" * 43
    disabled = WECHAT_PLAIN.replace("enabled = true", "enabled = false")
    assert not load_settings(write(tmp_path, disabled), env={}).wechat.enabled


def test_wechat_clock_window_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"wechat\.max_clock_skew_seconds"):
        load_settings(write(tmp_path, "[wechat]\nmax_clock_skew_seconds = 0\n"), env={})
