"""A private Dovecot IMAP server for the email tests: its own config, maildir and port under tmp.

Debian's `dovecot-imapd` is started as a plain subprocess (`dovecot -F -c <tmp>/dovecot.conf`)
listening on a free 127.0.0.1 port, with one passwd-file user and plaintext auth (no TLS:
loopback only). It runs as the current user, so no system dovecot (which the package may
have started on 143/993) is touched or needed. Without Dovecot installed the tests skip,
saying so; `.ci/run` installs it so they never skip in CI.
"""

from __future__ import annotations

import contextlib
import getpass
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.base import free_port

USER = "support@factory.example"
PASSWORD = "imap-test-password"


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None
    )


def dovecot_version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = out.split()[0].split(".")[:2]
    return int(major), int(minor)


def _existing_user(name: str) -> str | None:
    try:
        return pwd.getpwnam(name).pw_name
    except KeyError:
        return None


def _mail_ids() -> tuple[int, int]:
    """Mail is accessed as the current user, or (as root, which Dovecot refuses) as `dovecot`."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    name = _existing_user("dovecot") or "nobody"
    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def _config(root: Path, port: int, version: tuple[int, int]) -> str:
    user = getpass.getuser()
    group = grp.getgrgid(os.getgid()).gr_name
    login_user, internal_user, chroot = (
        user,
        user,
        "service imap-login {\n  chroot =\n}\nservice anvil {\n  chroot =\n}\n",
    )
    if os.getuid() == 0:
        # Dovecot refuses to run its login processes as root; as root we use the package's
        # unprivileged users and keep the default chroot (entered before privileges drop).
        login_user = _existing_user("dovenull") or "nobody"
        internal_user = _existing_user("dovecot") or "nobody"
        group = grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
        chroot = ""
    uid, gid = _mail_ids()
    # 2.4 renamed a few settings; this fixture speaks both.
    cleartext = "auth_allow_cleartext = yes" if version >= (2, 4) else "disable_plaintext_auth = no"
    mail = (
        f"mail_driver = maildir\nmail_path = {root}/mail/%{{user}}\n"
        if version >= (2, 4)
        else f"mail_location = maildir:{root}/mail/%u\n"
    )
    header = "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n" if version >= (2, 4) else ""
    passdb = (
        f"passdb passwd-file {{\n  passwd_file_path = {root}/passwd\n}}\n"
        f"userdb static {{\n  fields {{\n    uid = {uid}\n    gid = {gid}\n"
        f"    home = {root}/home/%{{user}}\n  }}\n}}\n"
        if version >= (2, 4)
        else f"passdb {{\n  driver = passwd-file\n"
        f"  args = scheme=PLAIN username_format=%u {root}/passwd\n}}\n"
        f"userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={root}/home/%u\n}}\n"
    )
    # Dovecot hears of new mail through inotify and, where it cannot get an inotify instance (the
    # per-user limit, 128, is shared with every browser and server the suite starts), falls back to
    # checking every 30 s, past every test's deadline. A 1 s check keeps IDLE prompt either way.
    return f"""{header}base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
mailbox_idle_check_interval = 1 secs
{cleartext}
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
{mail}{passdb}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{chroot}"""


@dataclass
class Dovecot:
    host: str
    port: int
    user: str
    password: str
    root: Path

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _wait_listening(port: int, proc: subprocess.Popen[bytes], root: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (
                (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
            )
            raise RuntimeError(f"dovecot exited with {proc.returncode}: {log[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)  # a subprocess start-up poll, not a wait for our own work
    raise RuntimeError("dovecot did not start listening in time")


@pytest.fixture(name="dovecot")
def dovecot_fixture() -> Iterator[Dovecot]:
    """Import this into a test module; tests then ask for `dovecot`."""
    with running_dovecot() as server:
        yield server


# Everything Dovecot 2.3 advertises after login except IDLE: a server that can only be polled.
NO_IDLE = (
    "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT THREAD=REFERENCES "
    "MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED LITERAL+ MOVE\n"
)


@pytest.fixture(name="dovecot_without_idle")
def dovecot_without_idle_fixture() -> Iterator[Dovecot]:
    with running_dovecot(NO_IDLE) as server:
        yield server


@contextlib.contextmanager
def running_dovecot(extra_config: str = "") -> Iterator[Dovecot]:
    binary = dovecot_binary()
    if binary is None:
        if os.environ.get("AFTERSALES_REQUIRE_DOVECOT"):
            pytest.fail("dovecot is required here (AFTERSALES_REQUIRE_DOVECOT) but not installed")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; .ci/run does it)")
    version = dovecot_version(binary)
    # Not under pytest's tmp_path: that is private to the test user (0700), and Dovecot's
    # auth process runs as its own unprivileged user and must read the passwd-file.
    root = Path(tempfile.mkdtemp(prefix="aftersales-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(parents=True)
    for sub in ("mail", "home"):
        os.chown(root / sub, *_mail_ids())
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, version) + extra_config)
    console = (root / "console.log").open("wb")
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=console, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc, root)
        yield Dovecot("127.0.0.1", port, USER, PASSWORD, root)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        console.close()
        if not os.environ.get("KEEP_DOVECOT"):  # KEEP_DOVECOT=1 keeps config and log to debug
            for _ in range(3):  # a child process may still be writing its last index file
                shutil.rmtree(root, ignore_errors=True)
                if not root.exists():
                    break


async def imap_client(server: Dovecot, mailbox: str = "INBOX"):  # type: ignore[no-untyped-def]
    """A logged-in aioimaplib client with `mailbox` selected, for tests to look at the mailbox."""
    import aioimaplib

    client = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(server.user, server.password)
    await client.select(mailbox)
    return client


async def append(server: Dovecot, raw: bytes, mailbox: str = "INBOX") -> None:
    client = await imap_client(server, mailbox)
    try:
        resp = await client.append(raw, mailbox=mailbox)
        assert resp.result == "OK", resp
    finally:
        await client.logout()


async def flags_of(server: Dovecot, mailbox: str = "INBOX") -> dict[int, set[str]]:
    """UID → flags of every message in the mailbox."""
    import re

    client = await imap_client(server, mailbox)
    try:
        resp = await client.uid("fetch", "1:*", "(UID FLAGS)")
    finally:
        await client.logout()
    out: dict[int, set[str]] = {}
    for line in resp.lines:
        text = line.decode(errors="replace") if isinstance(line, bytes | bytearray) else str(line)
        m = re.search(r"UID (\d+)", text)
        f = re.search(r"FLAGS \(([^)]*)\)", text)
        if m and f:
            out[int(m.group(1))] = set(f.group(1).split())
    return out


__all__ = [
    "PASSWORD",
    "USER",
    "Dovecot",
    "append",
    "dovecot_fixture",
    "dovecot_without_idle_fixture",
    "flags_of",
    "imap_client",
    "running_dovecot",
]
