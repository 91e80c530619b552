"""What the benchmark commands share: a real Celery worker (and beat) started and stopped by the command."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celery import current_app


class CeleryProcesses:
    """A worker (and a beat, apart as in production) in sessions of their own, logging under ``self.dir``.

    ``env`` adds to this process's environment; ``own_var_dir`` points ``HELPDESK_VAR_DIR`` at ``self.dir``
    (leave it off where the worker must share this process's, e.g. the embedded filesystem broker)."""

    def __init__(self, *, env: dict[str, str], concurrency: int, own_var_dir: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-celery-"))
        self.env = {**os.environ, **env, **({"HELPDESK_VAR_DIR": str(self.dir)} if own_var_dir else {})}
        self.concurrency = concurrency
        self.worker: subprocess.Popen[bytes] | None = None
        self.beat: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        self.starts += 1
        log = (self.dir / f"{args[0]}-{self.starts}.log").open("ab")
        return subprocess.Popen(  # noqa: S603  (our interpreter, fixed arguments)
            [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel", "WARNING"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def start_worker(self) -> None:
        self.worker = self._spawn(
            "worker", "--queues", "transactional,default,bulk", "--concurrency", str(self.concurrency),
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--hostname", f"bench-{self.starts}@%h",
        )  # fmt: skip

    def start(self) -> None:
        self.start_worker()
        self.beat = self._spawn("beat", "--schedule", str(self.dir / "celerybeat-schedule"))

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the worker answers a ping (its pool is up and consuming)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if current_app.control.ping(timeout=1.0):  # the project's app (config imports it first)
                return
        raise RuntimeError(f"the worker did not start within {timeout:.0f} s: see {self.dir}")

    def kill_worker(self) -> None:
        if self.worker and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)

    def stop(self) -> None:
        for process in (self.worker, self.beat):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
