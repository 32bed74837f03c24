"""The shipped nginx site (deploy/nginx/aftersales.conf) in front of two real `aftersales serve` processes.

README "Running in production" puts the site, as it is in the repository, in front of two
processes on one PostgreSQL. Here the real nginx runs it as a child process, with only what
must differ on a test machine rendered in: ports on 127.0.0.1, the processes' ports in the
upstream, a certificate from a CA the test makes, the ACME webroot. The clients post
signed Telegram updates over HTTPS through it while each process in turn gets SIGTERM and
is restarted: what they were answered, what the fake Bot API delivered and what the
database holds say whether the site fails over as the README promises.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PgDatabases, wait_until
from tests.e2e import test_cluster
from tests.e2e.cluster_kit import Load, Process, handled_in_arrival_order, inbound_rows, settled
from tests.e2e.test_serve_process import ROOT, free_port
from tests.fakes.telegram import FakeTelegram

SITE = ROOT / "deploy" / "nginx" / "aftersales.conf"
HOST = "bot.example.com"  # the site's server_name, as shipped
MESSAGES = 40 * 5
FAIL_TIMEOUT = 5.0  # the site's `fail_timeout`: how long nginx leaves out a process that failed

# The processes and their fixtures are the cluster tests' own (tests/e2e/test_cluster.py).
need_pg = test_cluster.need_pg
processes = test_cluster.processes


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        if os.environ.get("AFTERSALES_REQUIRE_NGINX"):
            pytest.fail("nginx is required here (AFTERSALES_REQUIRE_NGINX) but not installed")
        pytest.skip("nginx is not installed (apt install nginx); the shipped site is not tested")
    return found


# ---- a CA and the site's certificate --------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for HOST it signed: ca.pem, and fullchain.pem, privkey.pem as certbot's."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("aftersales test CA"))
        .issuer_name(_name("aftersales test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(HOST))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, chain, privkey = directory / "ca.pem", directory / "fullchain.pem", directory / "privkey.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    privkey.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    privkey.chmod(0o600)
    return ca_file, chain, privkey


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


# ---- the site, rendered for this machine, and nginx running it ------------------------------------


def render_site(
    *, http_port: int, https_port: int, upstreams: list[int], chain: Path, privkey: Path, webroot: Path
) -> str:
    """The shipped site with only the machine-specific parts replaced; each must be found exactly once."""
    text = SITE.read_text()
    replacements = [
        ("    listen [::]:80;\n", ""),  # this machine need not have IPv6
        ("    listen [::]:443 ssl http2;\n", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("server 127.0.0.1:8081 ", f"server 127.0.0.1:{upstreams[0]} "),
        ("server 127.0.0.1:8082 ", f"server 127.0.0.1:{upstreams[1]} "),
        (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(chain)),
        (f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(privkey)),
        ("root /var/www/html;", f"root {webroot};"),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"{SITE} no longer has {old!r} exactly once: update this test"
        text = text.replace(old, new)
    directives = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    for outside in ("/etc/", "/var/", "listen 80", "listen 443"):
        assert outside not in directives, f"{SITE} has another machine-specific {outside!r}: render it here"
    return text


class Nginx:
    """The real nginx with a minimal nginx.conf around the site (as Debian's includes sites-enabled/)."""

    def __init__(self, prefix: Path, site: str) -> None:
        self.binary = nginx_binary()
        self.prefix = prefix
        (prefix / "sites-enabled").mkdir(parents=True)
        (prefix / "sites-enabled" / "aftersales.conf").write_text(site)
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};" for kind in kinds)
        user = "user root;\n" if os.geteuid() == 0 else ""  # as root the workers would be nobody
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(
            f"daemon off;\n{user}worker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n    access_log {prefix}/access.log;\n{temp}\n"
            f"    include {prefix}/sites-enabled/*.conf;\n}}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", f"{self.prefix}/", "-c", str(self.conf), "-e", str(self.error_log), *extra]

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def check(self) -> None:
        """`nginx -t`, as the README runs it before reloading."""
        tested = subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)
        assert tested.returncode == 0, tested.stderr

    async def start(self, port: int) -> None:
        self.proc = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        async def listening() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {self.error_log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        await wait_until(listening, timeout=15, interval=0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown of master and workers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ToLocalhost(AbstractResolver):
    """The site's server_name resolves to 127.0.0.1: the client connects, sends SNI and checks HOST."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        local = ResolveResult(
            hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0,
            flags=socket.AI_NUMERICHOST,
        )  # fmt: skip
        return [local]

    async def close(self) -> None:
        return None


class HttpsFront:
    """What the clients post to (cluster_kit.Load): https://HOST:port, verified against the test's CA."""

    def __init__(self, https_port: int, http_port: int, ca: Path) -> None:
        self.url = f"https://{HOST}:{https_port}"
        self.plain_url = f"http://{HOST}:{http_port}"
        self.ca = ca
        self.http: aiohttp.ClientSession | None = None

    async def open(self) -> HttpsFront:
        context = ssl.create_default_context(cafile=str(self.ca))
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, resolver=ToLocalhost()))
        return self

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        assert self.http is not None
        async with self.http.get(f"{self.url}/healthz") as r:
            return r.status, await r.json() if r.status == 200 else {}


@pytest_asyncio.fixture
async def front_door(
    tmp_path: Path, need_pg: PgDatabases, processes: list[Process],
    fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[HttpsFront, Nginx, list[Process], str]]:  # fmt: skip
    """Two processes configured as README's common.env says, nginx running the site in front."""
    nginx_binary()
    monkeypatch.setenv("AFTERSALES_SERVER__PUBLIC_URL", f"https://{HOST}")
    monkeypatch.setenv("AFTERSALES_SERVER__TRUSTED_PROXIES", "127.0.0.1")
    db_url = await need_pg.fresh()
    cluster = test_cluster.make(tmp_path, processes, 2, db_url, fake_telegram)
    await asyncio.gather(*(p.start() for p in cluster))
    ca, chain, privkey = make_certificates(tmp_path)
    webroot = tmp_path / "www"
    http_port, https_port = free_port(), free_port()
    site = render_site(
        http_port=http_port, https_port=https_port, upstreams=[p.port for p in cluster],
        chain=chain, privkey=privkey, webroot=webroot,
    )  # fmt: skip
    nginx = Nginx(tmp_path / "nginx", site)
    nginx.check()
    front = HttpsFront(https_port, http_port, ca)
    try:
        await nginx.start(https_port)
        yield await front.open(), nginx, cluster, db_url
    finally:
        if front.http is not None:
            await front.http.close()
        nginx.stop()


# ---- the test ---------------------------------------------------------------------------------------


async def webhooks_answered(process: Process) -> float:
    """The process's own count of Telegram webhooks it answered 200 (scraped directly, not via nginx)."""
    async with aiohttp.ClientSession() as http, http.get(f"{process.url}/metrics") as r:
        text = await r.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "aftersales_webhooks_total"
        and sample.labels == {"channel": "telegram", "status": "200"}
    )


async def routed_to(front: HttpsFront, process: Process) -> bool:
    """nginx sends requests to `process` again (it leaves a failed one out for fail_timeout)."""
    status, body = await front.healthz()
    return status == 200 and body.get("instance") == process.name


async def test_the_shipped_site_balances_fails_over_and_keeps_metrics_inside(
    tmp_path: Path, front_door: tuple[HttpsFront, Nginx, list[Process], str], fake_telegram: FakeTelegram
) -> None:
    front, nginx, (first, second), db_url = front_door
    assert front.http is not None

    # port 80: everything but the ACME challenge goes to https; certbot's renewals are served
    async with front.http.get(f"{front.plain_url}/webhooks/telegram", allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (301, f"https://{HOST}/webhooks/telegram")
    challenge = tmp_path / "www" / ".well-known" / "acme-challenge" / "token-1"
    challenge.parent.mkdir(parents=True)
    challenge.write_text("token-1.thumbprint")
    async with front.http.get(f"{front.plain_url}/.well-known/acme-challenge/token-1") as r:
        assert (r.status, await r.text()) == (200, "token-1.thumbprint")
    # https: the metrics stay inside, /healthz is the processes', HSTS on every answer
    async with front.http.get(f"{front.url}/metrics") as r:
        assert r.status == 404 and "Strict-Transport-Security" in r.headers
    names = {(await front.healthz())[1].get("instance") for _ in range(4)}
    assert names == {first.name, second.name}  # round robin over both

    stopping: dict[str, asyncio.Task[int]] = {}
    back_after: list[float] = []  # seconds from a restarted process's /healthz 200 to nginx using it

    async def between(wave: int) -> None:
        """After each wave of one question per chat: SIGTERM a process or restart it (a rolling restart)."""
        target = first if wave < 2 else second
        if wave == 0:
            took = [await webhooks_answered(p) for p in (first, second)]
            assert all(n > 0 for n in took) and sum(took) >= 40, took  # both processes took traffic
        if wave in (0, 2):
            stopping[target.name] = asyncio.create_task(target.terminate())  # the next wave meets its drain
        elif wave in (1, 3):
            assert await stopping.pop(target.name) == 0
            assert target.stopped_in is not None and target.stopped_in <= 15
            await target.start()
            healthy_at = time.monotonic()
            # README's rolling restart waits fail_timeout after /healthz is 200: nginx takes it back by then
            await wait_until(lambda: routed_to(front, target), timeout=FAIL_TIMEOUT + 10, interval=0.2)
            back_after.append(time.monotonic() - healthy_at)

    load = Load(front)
    await load.run(between)
    assert load.statuses == [200] * MESSAGES, sorted(set(load.statuses))  # no 5xx while another was up
    await settled(db_url, MESSAGES)
    rows = await inbound_rows(db_url)
    assert len(rows) == MESSAGES and len({r.provider_message_id for r in rows}) == MESSAGES  # none lost
    assert handled_in_arrival_order(rows)
    test_cluster.assert_every_chat_in_order(fake_telegram, load, repeats_allowed=0)  # none doubled
    # nginx met each draining or stopped process and went on to the other
    failovers = nginx.error_log.read_text()
    for p in (first, second):
        assert f"127.0.0.1:{p.port}" in failovers, failovers[-2000:]
    assert max(back_after) <= FAIL_TIMEOUT + 1, back_after
    retried = sum("upstream server temporarily disabled" in line for line in failovers.splitlines())
    print(
        f"nginx: {retried} requests met a draining process and went to the other; restarted processes"
        f" back in nginx {', '.join(f'{s:.1f}' for s in back_after)} s after their /healthz said 200;"
        f" stops took {first.stopped_in:.1f}, {second.stopped_in:.1f} s"
    )
