"""The one error shape of every JSON answer: {"error": "...", "field": "..."}."""

from __future__ import annotations

from aiohttp import web


def json_error(status: int, error: str, field: str | None = None) -> web.Response:
    body: dict[str, str] = {"error": error}
    if field:
        body["field"] = field
    return web.json_response(body, status=status)


async def not_found(_request: web.Request) -> web.Response:
    """Any /api path nobody routes: JSON like every API error, not aiohttp's HTML page."""
    return json_error(404, "not found")


class ApiError(Exception):
    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field
