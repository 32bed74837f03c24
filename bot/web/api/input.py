"""Untrusted API input made safe before it reaches Python's parser limits or the database's types.

A 40-digit id is a valid Python int but not a BIGINT: PostgreSQL answers DataError and
SQLite OverflowError, both far from the route. A 100,000-deep `[[[[…]]]]` makes the JSON
parser raise RecursionError. Each becomes a 400 here, naming the field, so no route has
to remember the limits.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from bot.web.errors import ApiError
from storage.limits import INT64_MAX

MAX_DEPTH = 20  # far more nesting than any of our bodies has (an order's lines are 3 deep)


def db_int(raw: str, field: str) -> int:
    """Decimal digits that fit a 64-bit id; anything else is 400 naming `field`."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        raise ApiError(400, f"{field} must be a positive integer", field)
    if len(text.lstrip("0")) > 19 or int(text) > INT64_MAX:
        raise ApiError(400, f"{field} is out of range", field)
    return int(text)


def looks_numeric(raw: str) -> bool:
    return raw.strip().isascii() and raw.strip().isdigit()


class _Rejected(ValueError):
    """A JSON value we refuse to build: too big an integer, or a non-finite number."""


def _int(text: str) -> int:
    if len(text.lstrip("-").lstrip("0")) > 19:  # before int(): no 4,300-digit conversion
        raise _Rejected("integer out of range")
    value = int(text)
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise _Rejected("integer out of range")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected("number out of range")
    return value


def _constant(name: str) -> float:
    raise _Rejected(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (the value is untrusted)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(raw: bytes | str, *, field: str = "body") -> Any:
    """Any JSON value, bounded in depth and number size; 400 naming `field` otherwise."""
    try:
        value = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Rejected as exc:
        raise ApiError(400, f"{field}: {exc}", field) from None
    except RecursionError:
        raise ApiError(400, f"{field} is nested too deeply", field) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, f"{field} must be JSON", field) from None
    if _depth(value) > MAX_DEPTH:
        raise ApiError(400, f"{field} is nested too deeply (at most {MAX_DEPTH} levels)", field)
    return value


async def json_body(request: web.Request, *, empty: Any = None) -> Any:
    """The request's JSON body (`empty` when there is none)."""
    raw = await request.read()
    if not raw.strip():
        return empty
    return parse_json(raw)


async def json_object(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The request's body as a JSON object; an array, a string or a number is 400."""
    value = await json_body(request, empty=None if required else {})
    if not isinstance(value, dict):
        raise ApiError(400, "body must be a JSON object", "body")
    return value
