"""`aftersales rota who [--at]`: the rota's answer for one moment, for people and for scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from escalation.coverage import bind_calendar
from escalation.runtime import read_calendar, read_rota


def rota_who(rota_file: str, at: str | None, *, as_json: bool = False, calendar_file: str = "") -> str:
    """Raises ConfigError for a bad rota or calendar, ValueError for a bad --at."""
    rota = read_rota(rota_file)
    calendar = read_calendar(calendar_file, rota.timezone)
    bind_calendar(rota, calendar)  # on a holiday the policies page the holiday rotation
    if at:
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"--at must be an ISO 8601 time such as 2026-12-24T20:00+08:00, got {at!r}"
            ) from None
        if moment.tzinfo is None:
            from zoneinfo import ZoneInfo

            moment = moment.replace(tzinfo=ZoneInfo(rota.timezone))  # like the rota file: local time
    else:
        moment = datetime.now(UTC)
    answer = rota.who(moment)
    day_off = calendar.day_off(moment)
    answer["day_off"] = day_off
    if as_json:
        return json.dumps(answer, ensure_ascii=False, indent=2)
    lines = [f"On call at {moment.isoformat()}" + (f" (factory off: {day_off})" if day_off else "") + ":"]
    for name, r in answer["rotations"].items():
        who = f"{r['name']} ({r['staff']})" if r["staff"] else "NOBODY (coverage gap)"
        until = f" until {r['shift_end']}" if r["shift_end"] else ""
        lines.append(f"  rotation {name}: {who}{until}")
    for pname, levels in answer["policies"].items():
        for level in levels:
            staff = ", ".join(level["staff"]) or "nobody"
            lines.append(f"  policy {pname} level {level['level']}: {staff}  ({', '.join(level['notify'])})")
    return "\n".join(lines)
