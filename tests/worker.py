"""A real Celery worker process for integration tests, against the configured broker and the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database this test process uses (the test database, not the configured one)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, *, var_dir: Path, email_url: str, extra_env: dict[str, str] | None = None,
                 concurrency: int = 1, beat: bool = False) -> None:  # fmt: skip
        self.var_dir = var_dir
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "worker-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "EMAIL_URL": email_url,
            "HELPDESK_VAR_DIR": str(var_dir),
            **(extra_env or {}),
        }
        self.concurrency = concurrency
        self.beat = beat  # run the beat schedule in the worker (-B), as the sweeper's tests need
        self.process: subprocess.Popen[bytes] | None = None
        self.log = var_dir / "worker.log"

    def start(self) -> WorkerProcess:
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
            "--queues", "transactional,default,bulk", "--concurrency", str(self.concurrency),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]  # fmt: skip
        if self.beat:
            command += ["--beat", "--schedule", str(self.var_dir / "celerybeat-schedule")]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and its pool children), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(condition: Callable[[], bool], *, timeout: float = 60.0, interval: float = 0.2,
             worker: WorkerProcess | None = None) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    detail = f"\n--- worker log ---\n{worker.output()[-4000:]}" if worker else ""
    raise AssertionError(f"condition not met within {timeout} s{detail}")


@contextmanager
def publishing_to_broker(var_dir: Path) -> Iterator[None]:
    """Let this test process publish real messages (unit tests run tasks eagerly).

    With the filesystem broker the test and the worker share a private folder under ``var_dir``.
    """
    saved = celery_app.conf.task_always_eager, celery_app.conf.broker_transport_options
    celery_app.conf.task_always_eager = False
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = var_dir / "broker"
        (folder / "queue").mkdir(parents=True, exist_ok=True)
        (folder / "processed").mkdir(parents=True, exist_ok=True)
        celery_app.conf.broker_transport_options = {
            "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
            "store_processed": False,
        }  # fmt: skip
    _reset_connection_pools()
    try:
        yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.broker_transport_options = saved
        _reset_connection_pools()


def _reset_connection_pools() -> None:
    """Drop pooled broker connections so the next publish connects with the current options."""
    kombu_pools.reset()  # the pools are global, keyed by connection: drop them all
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
