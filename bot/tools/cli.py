"""The `aftersales` command. Every failure is one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from bot.tools.claims_cli import add_parser as add_claims_parser
from config.settings import ConfigError, Settings, load_settings


class CliError(Exception):
    pass


def _config_option() -> argparse.ArgumentParser:
    """`--config` on every level, so `aftersales --config F serve` and `aftersales serve --config F` agree.

    SUPPRESS keeps a level that was not given the option from overwriting the one that was; argparse copies
    a subcommand's values over its parent's, so the value written after the subcommand wins.
    """
    option = argparse.ArgumentParser(add_help=False)
    option.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="TOML config file (default: $AFTERSALES_CONFIG or config/default.toml)",
    )
    return option


CONFIG_OPTION = _config_option()
SHUTDOWN_TIMEOUT = 5.0  # seconds for requests in flight once the server stops listening (webhooks are quick)


class _SubParsers(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Every subcommand, nested ones and those defined in other modules included, inherits `--config`."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs["parents"] = [*kwargs.get("parents", []), CONFIG_OPTION]
        return super().add_parser(name, **kwargs)  # type: ignore[no-any-return]


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _SubParsers)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> Parser:
    parser = Parser(
        prog="aftersales", description="After-sales chat-operations bot.", parents=[CONFIG_OPTION]
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    serve = sub.add_parser("serve", help="run the HTTP server, outbox dispatcher, pollers and scheduler")
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=int, help="override server.port")

    intake = sub.add_parser(
        "intake", help="the webhook process `serve` starts when server.intake_port is set (not run by hand)"
    )
    intake.add_argument("--link", required=True, help="the Unix socket `serve` stores messages through")
    intake.add_argument("--host", help="override server.host")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=Parser)
    db_sub.add_parser("upgrade", help="apply Alembic migrations up to the newest")

    demo = sub.add_parser("demo", help="demo data")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True, parser_class=Parser)
    demo_sub.add_parser("seed", help="create demo clients, contacts, orders, staff (idempotent)")

    add_claims_parser(sub)

    orders_cmd = sub.add_parser("orders", help="orders")
    orders_sub = orders_cmd.add_subparsers(dest="orders_command", required=True, parser_class=Parser)
    orders_import = orders_sub.add_parser("import", help="upsert orders and lines from a CSV file")
    orders_import.add_argument("file", type=Path, help="CSV, one row per order line")
    rota = sub.add_parser("rota", help="the on-call rota")
    rota_sub = rota.add_subparsers(dest="rota_command", required=True, parser_class=Parser)
    who = rota_sub.add_parser("who", help="who is on call, per rotation and policy level")
    who.add_argument("--at", help="ISO 8601 time (default: now), e.g. 2026-12-24T20:00+08:00")
    who.add_argument("--json", action="store_true", help="print JSON")
    report = sub.add_parser("report", help="reports")
    report_sub = report.add_subparsers(dest="report_command", required=True, parser_class=Parser)
    quality = report_sub.add_parser("quality", help="defect statistics, response times and claim cycle times")
    quality.add_argument(
        "--since", type=_date, help="only claims and escalations opened on or after this date (YYYY-MM-DD)"
    )
    quality.add_argument("--out", type=Path, help="write an HTML report with charts to this file")
    staff = sub.add_parser("staff", help="staff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True, parser_class=Parser)
    passwd = staff_sub.add_parser("passwd", help="set a staff member's console password (read from stdin)")
    passwd.add_argument("key", help="staff key, as in the rota")

    sim = sub.add_parser("simulate", help="play one client message into the running bot")
    sim.add_argument("channel", choices=["telegram", "whatsapp", "wechat", "email"])
    sim.add_argument("--from", dest="sender", required=True, help="sender id on that channel")
    sim.add_argument("--photo", type=Path, help="attach this image file")
    sim.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the bot's replies")
    sim.add_argument("text", nargs="+", help="the message text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(getattr(args, "config", None))
        return run(args, settings)
    except (ConfigError, CliError) as exc:
        print(f"aftersales: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        return serve(settings, args.host, args.port)
    if args.command == "intake":
        return intake(settings, args.host, args.link)
    if args.command == "db":
        from storage.migrate import upgrade

        asyncio.run(upgrade(settings.database.url))
        print(f"database at head: {safe_url(settings.database.url)}")
        return 0
    if args.command == "demo":
        return asyncio.run(_seed(settings))
    if args.command == "simulate":
        return asyncio.run(_simulate(settings, args))
    if args.command == "claims":
        from bot.tools.claims_cli import list_claims

        print(asyncio.run(list_claims(settings, args)))
        return 0
    if args.command == "orders":
        return asyncio.run(_import_orders(settings, args.file))
    if args.command == "rota":
        from escalation.cli import rota_who

        try:
            print(
                rota_who(
                    settings.escalation.rota_file,
                    args.at,
                    as_json=args.json,
                    calendar_file=settings.calendar.file,
                )
            )
        except ValueError as exc:
            raise CliError(str(exc)) from None
        return 0
    if args.command == "report":
        return asyncio.run(_quality_report(settings, args.since, args.out))
    if args.command == "staff":
        return asyncio.run(_staff_passwd(settings, args.key))
    raise CliError(f"unknown command {args.command}")  # pragma: no cover - argparse refuses first


def _date(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


async def _quality_report(settings: Settings, since: datetime | None, out: Path | None) -> int:
    from bot.tools.reports import render_html, render_response_text, render_text
    from storage.db import Database
    from storage.repos.quality import quality_stats
    from storage.repos.reports import claim_report, escalation_report

    db = Database(settings.database.url)
    try:
        async with db.read() as session:
            stats = await quality_stats(session, since)
            escalations = await escalation_report(session, since)
            claims = await claim_report(session, since)
    finally:
        await db.dispose()
    if out is None:
        print(render_text(stats) + "\n\n" + render_response_text(escalations, claims))
    else:
        out.write_text(render_html(stats, escalations, claims), encoding="utf-8")
        print(f"wrote {out} ({stats.total} claims)")
    return 0


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def serve(settings: Settings, host: str | None, port: int | None) -> int:
    from aiohttp import web

    from bot.app import build_runtime, create_app
    from bot.core import logs
    from bot.web.health import drain_on_sigterm
    from config.production import check_production_secrets

    check_production_secrets(settings)  # before anything listens: one line, exit 2
    redact = logs.configure(settings.secrets())
    runtime = build_runtime(settings, secret_sink=redact.runtime_secret)
    app = create_app(settings, runtime)
    app.on_startup.append(drain_on_sigterm(runtime.health, settings.cluster.drain_seconds))
    if runtime.link is not None:
        from bot.tools.intake import intake_argv, supervised_intake

        argv = partial(intake_argv, settings.source, host or settings.server.host)
        app.cleanup_ctx.append(supervised_intake(runtime.link, argv))
    web.run_app(
        app,
        host=host or settings.server.host,
        port=port or settings.server.port,
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        print=lambda text: print(text, file=sys.stderr),
    )
    return 0


def intake(settings: Settings, host: str | None, link: str) -> int:
    from aiohttp import web

    from bot.app import create_intake_app
    from bot.core import logs
    from config.production import check_production_secrets

    check_production_secrets(settings)
    logs.configure(settings.secrets())
    web.run_app(
        create_intake_app(settings, link),
        host=host or settings.server.host,
        port=settings.server.intake_port,
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        print=None,
    )
    return 0


async def _seed(settings: Settings) -> int:
    from bot.tools.demo import seed
    from storage.db import Database

    db = Database(settings.database.url)
    try:
        keys = await seed(db, sandbox=settings.server.sandbox)
    finally:
        await db.dispose()
    print(f"demo data ready: clients {', '.join(keys)}")
    return 0


async def _import_orders(settings: Settings, path: Path) -> int:
    from handlers.orders.csv_import import import_csv
    from storage.db import Database

    if not path.is_file():
        raise CliError(f"{path}: no such file")
    db = Database(settings.database.url)
    try:
        report = await import_csv(db, path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(str(exc)) from None
    finally:
        await db.dispose()
    print(report.render())
    return 1 if report.rejected else 0


async def _staff_passwd(settings: Settings, key: str) -> int:
    from bot.web.console.passwords import PasswordError, read_password, set_password
    from storage.db import Database

    db = Database(settings.database.url)
    try:
        await set_password(db, key, read_password())
    except PasswordError as exc:
        raise CliError(str(exc)) from None
    finally:
        await db.dispose()
    print(f"console password set for {key}")
    return 0


async def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.tools.simulate import SimulateError, render, simulate

    try:
        effects = await simulate(
            settings, args.channel, args.sender, " ".join(args.text), args.photo, args.timeout
        )
    except SimulateError as exc:
        raise CliError(str(exc)) from None
    print(render(effects))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
