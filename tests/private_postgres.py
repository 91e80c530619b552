"""A PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port), for faults such as a restart.

The shared server serves every other test and process, so a test that restarts or crashes the
database starts one of these (see /work/shared/recipes/private-postgres.md). The schema is copied
from the test database with ``pg_dump --schema-only``, which takes about a second where running the
migrations takes half a minute.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from django.db import connection

from tests.smtp import _free_port


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return candidates[-1]


class PrivatePostgres:
    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="private-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", f"-p {self.port} -k {self.dir}",
            "-l", str(self.dir / "pg.log"), "-w", *args,
        )  # fmt: skip

    def start(self) -> PrivatePostgres:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self._pg_ctl("start")
        return self

    def copy_schema_of_test_database(self) -> None:
        db = connection.settings_dict
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "--schema-only", "--no-owner", "-h", db["HOST"] or "127.0.0.1",
             "-p", str(db["PORT"] or 5432), "-U", db["USER"] or "postgres", db["NAME"]],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        subprocess.run(
            [str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.url],
            input=dump, check=True, capture_output=True,
        )  # fmt: skip

    def crash_and_restart(self, down_seconds: float) -> None:
        """Kill the server as a crash would (no checkpoint), keep it down, start it again."""
        self._pg_ctl("stop", "-m", "immediate")
        time.sleep(down_seconds)
        self._pg_ctl("start")

    def query(self, sql: str, params: object = None) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def stop(self) -> None:
        try:
            self._pg_ctl("stop", "-m", "fast")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
