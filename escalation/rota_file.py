"""Loading the on-call rota file: the TOML checked entry by entry, mistakes naming file and entry.

The types it builds live in `escalation.rota`, which re-exports these loaders for its importers.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import SOURCE_LANGUAGE, available_languages
from escalation.rota import (
    CONTACT_FIELDS,
    Level,
    Override,
    Policy,
    Rota,
    RotaError,
    Rotation,
    StaffMember,
)

# ---- loading -------------------------------------------------------------------------------------


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file of the escalation set-up (rota, keywords, FAQ); mistakes name the file."""
    file = str(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RotaError(file, "file", "not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RotaError(file, "file", f"invalid TOML: {exc}") from None


def load_rota(path: str | Path) -> Rota:
    return parse_rota(read_config_file(path), str(path))


def _zone(file: str, entry: str, name: Any) -> str:
    if not isinstance(name, str):
        raise RotaError(file, entry, "timezone must be a string such as 'Asia/Shanghai'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RotaError(file, entry, f"unknown time zone {name!r}") from None
    return name


def _instant(file: str, entry: str, value: Any, zone: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise RotaError(file, entry, f"bad time {value!r} (use 2026-12-24T18:00)") from None
    else:
        raise RotaError(file, entry, f"bad time {value!r} (use 2026-12-24T18:00)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed.astimezone(UTC)


def _language(file: str, entry: str, value: object) -> str:
    """A language staff read must have a catalog: a typo would silently page them in English."""
    known = available_languages()
    if not isinstance(value, str) or value not in known:
        raise RotaError(file, entry, f"unknown language {value!r}; one of {', '.join(known)}")
    return value


def parse_rota(raw: dict[str, Any], file: str = "rota.toml") -> Rota:
    known = {"timezone", "staff", "rotations", "overrides", "policies", "routing", "holiday_rotation"}
    for key in raw:
        if key not in known:
            raise RotaError(file, key, "unknown entry")
    zone = _zone(file, "timezone", raw.get("timezone", "UTC"))

    staff = _parse_staff(raw, file)
    rotations = _parse_rotations(raw, file, zone, staff)
    overrides = _parse_overrides(raw, file, staff, rotations)
    policies = _parse_policies(raw, file, staff, rotations)
    routing = _parse_routing(raw, file, policies)

    holiday = raw.get("holiday_rotation")
    if holiday is not None and holiday not in rotations:
        raise RotaError(file, "holiday_rotation", f"unknown rotation {holiday!r}")
    return Rota(zone, staff, rotations, overrides, policies, routing, source=file, holiday_rotation=holiday)


def _parse_staff(raw: dict[str, Any], file: str) -> dict[str, StaffMember]:
    """Each member needs a way to be paged; their language must have a catalog."""
    staff: dict[str, StaffMember] = {}
    for key, body in (raw.get("staff") or {}).items():
        entry = f"staff.{key}"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        unknown = set(body) - {"name", "roles", "timezone", "language", *CONTACT_FIELDS}
        if unknown:
            raise RotaError(file, entry, f"unknown key {sorted(unknown)[0]!r}")
        if not any(body.get(f) for f in CONTACT_FIELDS):
            raise RotaError(file, entry, "needs telegram_chat_id, whatsapp, email or wechat to be paged")
        roles = body.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise RotaError(file, f"{entry}.roles", "must be a list of strings")
        wa = body.get("whatsapp")
        if wa is not None and not (isinstance(wa, str) and wa.startswith("whatsapp:+")):
            raise RotaError(file, f"{entry}.whatsapp", "must look like whatsapp:+8613800000001")
        tg = body.get("telegram_chat_id")
        if tg is not None and not (isinstance(tg, int) or (isinstance(tg, str) and tg.lstrip("-").isdigit())):
            raise RotaError(file, f"{entry}.telegram_chat_id", "must be a number")
        staff[key] = StaffMember(
            key=key,
            name=str(body.get("name") or key),
            telegram_chat_id=str(tg) if tg is not None else None,
            whatsapp=wa,
            email=str(body["email"]).lower() if body.get("email") else None,
            wechat=body.get("wechat"),
            roles=tuple(roles),
            timezone=_zone(file, f"{entry}.timezone", body["timezone"]) if body.get("timezone") else None,
            language=_language(file, f"{entry}.language", body.get("language", SOURCE_LANGUAGE)),
            order=tuple(k for k in body if k in CONTACT_FIELDS),
        )
    if not staff:
        raise RotaError(file, "staff", "no staff defined")
    return staff


def _parse_rotations(
    raw: dict[str, Any], file: str, zone: str, staff: dict[str, StaffMember]
) -> dict[str, Rotation]:
    """Rotations name known staff and default to the rota's time zone."""
    rotations: dict[str, Rotation] = {}
    for name, body in (raw.get("rotations") or {}).items():
        entry = f"rotations.{name}"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        unknown = set(body) - {"members", "period", "handoff", "start", "end", "timezone"}
        if unknown:
            raise RotaError(file, entry, f"unknown key {sorted(unknown)[0]!r}")
        members = body.get("members")
        if not isinstance(members, list) or not members:
            raise RotaError(file, f"{entry}.members", "must be a non-empty list of staff keys")
        for m in members:
            if m not in staff:
                raise RotaError(file, f"{entry}.members", f"unknown staff key {m!r}")
        period = body.get("period", "weekly")
        if period not in {"daily", "weekly"}:
            raise RotaError(file, f"{entry}.period", f"must be 'daily' or 'weekly', got {period!r}")
        handoff_raw = body.get("handoff", "09:00")
        try:
            handoff = handoff_raw if isinstance(handoff_raw, time) else time.fromisoformat(str(handoff_raw))
        except ValueError:
            raise RotaError(file, f"{entry}.handoff", f"bad time {handoff_raw!r} (use HH:MM)") from None
        dates: dict[str, date | None] = {}
        for k in ("start", "end"):
            v = body.get(k)
            if v is None:
                if k == "start":
                    raise RotaError(file, f"{entry}.start", "required (a date such as 2026-11-30)")
                dates[k] = None
                continue
            try:
                dates[k] = v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(v)
            except (TypeError, ValueError):
                raise RotaError(file, f"{entry}.{k}", f"bad date {v!r} (use YYYY-MM-DD)") from None
        start_day, end_day = dates["start"], dates["end"]
        assert start_day is not None  # required above
        if end_day is not None and end_day < start_day:
            raise RotaError(file, f"{entry}.end", "ends before it starts")
        rotations[name] = Rotation(
            name=name,
            members=tuple(members),
            period=period,
            handoff=handoff.replace(tzinfo=None),
            start=start_day,
            end=end_day,
            timezone=_zone(file, f"{entry}.timezone", body.get("timezone", zone)),
        )
    return rotations


def _parse_overrides(
    raw: dict[str, Any], file: str, staff: dict[str, StaffMember], rotations: dict[str, Rotation]
) -> list[Override]:
    """An override's times are read in its rotation's zone, so a local swap means local hours."""
    overrides: list[Override] = []
    for i, body in enumerate(raw.get("overrides") or []):
        entry = f"overrides[{i}]"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        rot = body.get("rotation")
        if rot not in rotations:
            raise RotaError(file, f"{entry}.rotation", f"unknown rotation {rot!r}")
        if body.get("staff") not in staff:
            raise RotaError(file, f"{entry}.staff", f"unknown staff key {body.get('staff')!r}")
        start = _instant(file, f"{entry}.start", body.get("start"), rotations[rot].timezone)
        end = _instant(file, f"{entry}.end", body.get("end"), rotations[rot].timezone)
        if end <= start:
            raise RotaError(file, entry, "end must be after start")
        overrides.append(Override(rot, body["staff"], start, end))
    return overrides


def _parse_policies(
    raw: dict[str, Any], file: str, staff: dict[str, StaffMember], rotations: dict[str, Rotation]
) -> dict[str, Policy]:
    """Each level pages only known targets, and levels never go back in time."""
    policies: dict[str, Policy] = {}
    for name, body in (raw.get("policies") or {}).items():
        entry = f"policies.{name}"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        levels_raw = body.get("levels")
        if not isinstance(levels_raw, list) or not levels_raw:
            raise RotaError(file, f"{entry}.levels", "must be a non-empty list")
        levels: list[Level] = []
        previous = -1.0
        for j, lv in enumerate(levels_raw):
            lentry = f"{entry}.levels[{j}]"
            notify = lv.get("notify") if isinstance(lv, dict) else None
            if not isinstance(notify, list) or not notify:
                raise RotaError(file, f"{lentry}.notify", "must be a non-empty list")
            for target in notify:
                _check_target(file, f"{lentry}.notify", target, staff, rotations)
            after = lv.get("after_seconds", 0)
            if isinstance(after, bool) or not isinstance(after, int | float) or after < 0:
                raise RotaError(file, f"{lentry}.after_seconds", "must be a number of seconds >= 0")
            if after < previous:
                raise RotaError(file, f"{lentry}.after_seconds", "levels must not go back in time")
            previous = float(after)
            levels.append(Level(tuple(notify), float(after)))
        rounds = body.get("rounds", 1)
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise RotaError(file, f"{entry}.rounds", "must be an integer >= 1")
        timeout = body.get("ack_timeout_seconds")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
            raise RotaError(file, f"{entry}.ack_timeout_seconds", "must be a number of seconds")
        policies[name] = Policy(name, tuple(levels), rounds, float(timeout) if timeout is not None else None)
    if not policies:
        raise RotaError(file, "policies", "no policies defined")
    return policies


def _parse_routing(raw: dict[str, Any], file: str, policies: dict[str, Policy]) -> dict[str, str]:
    """Every reason routes to a defined policy: a typo would leave it unpaged."""
    routing: dict[str, str] = {}
    for reason, pname in (raw.get("routing") or {}).items():
        if pname not in policies:
            raise RotaError(file, f"routing.{reason}", f"unknown policy {pname!r}")
        routing[reason] = pname
    return routing


def _check_target(
    file: str, entry: str, target: Any, staff: dict[str, StaffMember], rotations: dict[str, Rotation]
) -> None:
    kind, _, name = str(target).partition(":")
    if kind == "rotation" and name in rotations:
        return
    if kind == "staff" and name in staff:
        return
    if kind == "role" and any(name in s.roles for s in staff.values()):
        return
    raise RotaError(file, entry, f"{target!r} names no rotation, staff member or role")
