"""The statements every handled message runs, executed on SQLite's driver connection itself.

Measured on the 2-core VM: one indexed SELECT through an AsyncSession cost about 104 µs of
CPU, through an AsyncConnection 60 µs, and here, on the inline aiosqlite connection
(storage/sqlite_inline.py) of the session's transaction, 4 µs. SQLAlchemy's share is per
execution (coercion, the cache key, the execution context, result metadata, two greenlet
switches), and handling one
message runs some fifteen fixed statements, so that share was a large part of a turn.

A `Prepared` is a Core statement compiled once per dialect into SQL text, the order of its
parameters with each one's bind processor, and each result column's result processor, so a
value goes in and comes out exactly as through SQLAlchemy (UTC datetimes, JSON). On SQLite
it runs on the driver connection of the caller's transaction, remembered per transaction and
savepoint (the first statement of each sends its BEGIN or SAVEPOINT through
`session.connection()`); elsewhere it runs through that AsyncConnection.
Neither path autoflushes the session: a statement here must not read rows the ORM has
pending, which holds for the callers (their tables are written only through this module or
flushed at once).

Statements with Python-side defaults or expanding IN lists are refused when first compiled:
an INSERT here names every column it sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Table, bindparam, insert, inspect, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import DeclarativeBase, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import BindParameter, ClauseElement, ColumnElement

from storage.sqlite_inline import driver_rows

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
        dialect, driver = await _driver_of(on)
        if dialect.name != "sqlite":
            conn = on if isinstance(on, AsyncConnection) else await on.connection()
            result = await conn.execute(self.statement, dict(params))
            return [tuple(r) for r in result] if result.returns_rows else []
        plan = self._plan(dialect)
        return plan.read(await driver_rows(driver, plan.sql, plan.bind(params)))

    async def many(self, on: AsyncSession | AsyncConnection, params: Sequence[Mapping[str, Any]]) -> None:
        """The statement once per parameter set, no rows back (the driver's executemany)."""
        if not params:
            return
        dialect, driver = await _driver_of(on)
        if dialect.name != "sqlite":
            conn = on if isinstance(on, AsyncConnection) else await on.connection()
            await conn.execute(self.statement, [dict(p) for p in params])
            return
        plan = self._plan(dialect)
        cursor = await driver.executemany(plan.sql, [plan.bind(p) for p in params])
        await cursor.close()

    async def first(self, on: AsyncSession | AsyncConnection, params: Mapping[str, Any]) -> Row | None:
        found = await self.rows(on, params)
        return found[0] if found else None

    async def scalar(self, on: AsyncSession | AsyncConnection, params: Mapping[str, Any]) -> Any:
        row = await self.first(on, params)
        return row[0] if row is not None else None

    def bound(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and the driver's arguments `rows()` sends on SQLite (for EXPLAIN in tests)."""
        plan = self._plan(dialect)
        return plan.sql, plan.bind(params)

    def _plan(self, dialect: Dialect) -> _Plan:
        return self._plans.get(dialect.name) or self._compile(dialect)

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


# The driver connection of each open session transaction and savepoint: `session.connection()`
# and the raw connection's look-up were two greenlet hops, more than a prepared statement's own cost.
_drivers: WeakKeyDictionary[SessionTransaction, tuple[Dialect, Any]] = WeakKeyDictionary()


async def _driver_of(on: AsyncSession | AsyncConnection) -> tuple[Dialect, Any]:
    if isinstance(on, AsyncConnection):
        return on.dialect, _raw(on)
    transaction = _innermost(on)
    # An inactive transaction (rolled back by a failed flush) is not used: `connection()` below
    # raises as the session would, where the driver would run the statement in autocommit.
    known = _drivers.get(transaction) if transaction is not None and transaction.is_active else None
    if known is not None:
        return known
    # Begins what has not begun on the connection: the transaction (BEGIN IMMEDIATE), or the
    # savepoint of a `begin_nested()` (SQLAlchemy sends SAVEPOINT only when it is first used).
    conn = await on.connection()
    found = (conn.dialect, _raw(conn))
    transaction = _innermost(on)
    if transaction is not None:
        _drivers[transaction] = found
    return found


def _innermost(session: AsyncSession) -> SessionTransaction | None:
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


def _raw(conn: AsyncConnection) -> Any:
    sync = conn.sync_connection
    assert sync is not None, "a connection that has started"
    return sync.connection.driver_connection


def named(table: Table, *names: str) -> dict[str, BindParameter[Any]]:
    """`INSERT … VALUES` parameters named after `table`'s columns, each of the column's type."""
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


def inserting(table: Table) -> tuple[Prepared, tuple[str, ...]]:
    """An INSERT of every column but the key, RETURNING the key, and the names it takes."""
    names = tuple(c.key for c in table.columns if not c.primary_key)
    return Prepared(insert(table).values(named(table, *names)).returning(*table.primary_key.columns)), names


T = TypeVar("T")
M = TypeVar("M", bound=DeclarativeBase)


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


class PreparedLoad(Generic[M]):
    """A SELECT of one row of a mapped class on the driver, handed back as the ORM's object.

    `where` filters the class's table (bound parameters by name). A row the session already
    holds, or any object of the class with changes the ORM would flush before its query, sends
    the read to the ORM query instead (which refreshes an expired object, and autoflushes);
    otherwise the row becomes a persistent object of the session (`adopt`), its relationships
    loading as after any query. Measured: 104 µs through the session, about 35 µs so (the
    statement, the object, `session.add`).
    """

    def __init__(
        self, model: type[M], where: ColumnElement[bool], *, order_by: ColumnElement[Any] | None = None
    ) -> None:
        mapper = inspect(model)
        self.model = model
        self.names = [attr.key for attr in mapper.column_attrs]
        columns: list[ColumnElement[Any]] = [attr.columns[0] for attr in mapper.column_attrs]
        query = select(*columns).where(where)
        self.orm = select(model).where(where)
        if order_by is not None:
            query, self.orm = query.order_by(order_by), self.orm.order_by(order_by)
        query, self.orm = query.limit(1), self.orm.limit(1)
        self.prepared = Prepared(query)
        self.ident = columns.index(mapper.primary_key[0])

    async def first(self, session: AsyncSession, params: Mapping[str, Any]) -> M | None:
        sync = session.sync_session
        if any(isinstance(pending, self.model) for pending in (*sync.new, *sync.dirty)):
            return await self._orm(session, params)  # only the ORM's autoflush would show those
        row = await self.prepared.first(session, params)
        if row is None:
            return None
        if identity_key(self.model, (row[self.ident],)) in sync.identity_map:
            return await self._orm(session, params)
        return adopt(session, self.model(**dict(zip(self.names, row, strict=True))))

    async def _orm(self, session: AsyncSession, params: Mapping[str, Any]) -> M | None:
        found: M | None = (await session.execute(self.orm, dict(params))).scalars().first()
        return found
