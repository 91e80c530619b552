"""PostgreSQL helpers the hot bulk statements share (fan-out planning, event ingestion)."""

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from django.db import connection


class _LoggedCursor:
    """The psycopg cursor, adding each statement to Django's query log while that log is on (DEBUG, or a
    test's ``django_assert_num_queries``), so a query count counts these statements too."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, query: str, params: Any = None, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return self._cursor.execute(query, params, **kwargs)
        finally:
            connection.queries_log.append({"sql": query, "time": f"{time.monotonic() - start:.3f}"})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@contextlib.contextmanager
def server_side_cursor() -> Iterator[Any]:
    """A psycopg cursor with server-side binding on Django's connection (and in its transaction).

    Django's cursor binds on the client: it quotes every element of a list parameter in Python (150 ms for
    the six arrays of a 1,000-event insert) and can neither prepare a statement nor send a list as one
    array parameter. PostgreSQL only. (Behind PgBouncer in transaction mode, prepared statements need 1.21+
    and ``max_prepared_statements``.)"""
    import psycopg  # noqa: PLC0415  (PostgreSQL only)

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        yield _LoggedCursor(cursor) if connection.queries_logged else cursor
