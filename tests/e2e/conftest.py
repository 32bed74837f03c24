"""What the end-to-end modules share: the `serve` processes a test started, stopped after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_serve_process import Server


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()
