"""The statements every handled message runs, executed on SQLite's driver connection itself.

Measured on the 2-core VM: one indexed SELECT through an AsyncSession cost about 104 µs of
CPU, through an AsyncConnection 60 µs, and on the inline aiosqlite connection
(storage/sqlite_inline.py) 6 µs. SQLAlchemy's share is per execution (coercion, the cache
key, the execution context, result metadata, two greenlet switches), and handling one
message runs some fifteen fixed statements, so that share was a large part of a turn.

A `Prepared` is a Core statement compiled once per dialect into SQL text, the order of its
parameters with each one's bind processor, and each result column's result processor, so a
value goes in and comes out exactly as through SQLAlchemy (UTC datetimes, JSON). On SQLite
it runs on the connection of the caller's transaction (`session.connection()`: BEGIN has
been sent, a savepoint still covers it); elsewhere it runs through that AsyncConnection.
Neither path autoflushes the session: a statement here must not read rows the ORM has
pending, which holds for the callers (their tables are written only through this module or
flushed at once).

Statements with Python-side defaults or expanding IN lists are refused when first compiled:
an INSERT here names every column it sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import BindParameter, ClauseElement, ColumnElement

Row = tuple[Any, ...]
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Arg:
    name: str | None  # a parameter the caller passes, or None for a value fixed in the statement
    fixed: Any
    process: Processor


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    args: tuple[_Arg, ...]
    results: tuple[Processor, ...]

    def bind(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for arg in self.args:
            value = arg.fixed if arg.name is None else params[arg.name]
            out.append(value if arg.process is None or value is None else arg.process(value))
        return out

    def read(self, rows: Sequence[Sequence[Any]]) -> list[Row]:
        if not any(self.results):
            return [tuple(r) for r in rows]
        procs = self.results
        return [tuple(v if p is None else p(v) for p, v in zip(procs, r, strict=True)) for r in rows]


class Prepared:
    """One hot-path statement; `rows()` runs it in the caller's transaction or connection."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    async def rows(self, on: AsyncSession | AsyncConnection, params: Mapping[str, Any]) -> list[Row]:
        conn = on if isinstance(on, AsyncConnection) else await on.connection()
        dialect = conn.dialect
        if dialect.name != "sqlite":
            result = await conn.execute(self.statement, dict(params))
            return [tuple(r) for r in result] if result.returns_rows else []
        plan = self._plans.get(dialect.name) or self._compile(dialect)
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        cursor = await driver.execute(plan.sql, plan.bind(params))
        try:
            found = await cursor.fetchall() if cursor.description else []
        finally:
            await cursor.close()
        return plan.read(found)

    async def first(self, on: AsyncSession | AsyncConnection, params: Mapping[str, Any]) -> Row | None:
        found = await self.rows(on, params)
        return found[0] if found else None

    async def scalar(self, on: AsyncSession | AsyncConnection, params: Mapping[str, Any]) -> Any:
        row = await self.first(on, params)
        return row[0] if row is not None else None

    def bound(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and the driver's arguments `rows()` sends on SQLite (for EXPLAIN in tests)."""
        plan = self._plans.get(dialect.name) or self._compile(dialect)
        return plan.sql, plan.bind(params)

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled: Any = cast(ClauseElement, self.statement).compile(dialect=dialect)
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise ValueError("a prepared statement names every value: no Python-side defaults")
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("a prepared statement takes no expanding IN list")
        args = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                args.append(_Arg(bind.key, None, process))
            else:
                args.append(_Arg(None, bind.effective_value, process))
        columns: Sequence[ColumnElement[Any]] = list(getattr(self.statement, "exported_columns", ()))
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        plan = _Plan(compiled.string, tuple(args), results)
        self._plans[dialect.name] = plan
        return plan


def named(table: Table, *names: str) -> dict[str, BindParameter[Any]]:
    """`INSERT … VALUES` parameters named after `table`'s columns, each of the column's type."""
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


T = TypeVar("T")


def adopt(session: AsyncSession, row: T, **related: Any) -> T:
    """A row a prepared INSERT just wrote, as the ORM object the session would have after a flush.

    Every column must be set on `row` (an unset one would load lazily, which async sessions
    cannot), and every relationship in `related` (None, or the object it points to).
    """
    make_transient_to_detached(row)
    session.add(row)
    for name, value in related.items():
        set_committed_value(row, name, value)
    return row
