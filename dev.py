#!/usr/bin/env python3
"""The two set-up commands of the README. Needs only Python 3.11+.

    python3 dev.py up     install, migrate, load the demo and run web + worker + beat on embedded defaults
    python3 dev.py test   install and run the whole test suite (extra arguments go to pytest)

Both create ``.venv`` beside this file and install the pinned set in
``requirements/lock.txt`` (re-installed only when it or pyproject.toml changes).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".helpdesk-installed"
CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]


def say(message: str) -> None:
    print(f"[helpdesk] {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> int:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if check and result.returncode != 0:
        sys.exit(result.returncode)
    return result.returncode


def install(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed (this is %d.%d)." % sys.version_info[:2])
    if not PY.exists():
        say("creating the virtual environment in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "requirements/lock.txt"):
        digest.update((ROOT / name).read_bytes())
    wanted = f"{extras}:{digest.hexdigest()}"
    have = STAMP.read_text().splitlines() if STAMP.exists() else []
    if wanted in have or (extras == "" and any(line.endswith(digest.hexdigest()) for line in have)):
        return
    say("installing the pinned dependencies (first run takes a minute)")
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", "requirements/lock.txt", "-e", target)  # fmt: skip
    STAMP.write_text("\n".join([*have, wanted]) + "\n")


def django_env(environ: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    env.setdefault("DJANGO_DEBUG", "true")
    env.update(extra)
    return env


def site_url(host: str, port: str) -> str:
    """The address people open: a wildcard bind (0.0.0.0, ::) is reached through the loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"  # an IPv6 literal in a URL is bracketed
    return f"http://{shown}:{port}"


def up_env(environ: dict[str, str] | None = None) -> tuple[dict[str, str], str, str]:
    """The environment of ``up``'s processes, and the host and port the web server binds.

    Every link in an e-mail (confirmation, reply footer, survey, unsubscribe, status page, the
    article links agents insert) is built from HELPDESK_SITE_URL, which the worker and beat read
    too; so it follows HOST and PORT unless the deployer set it (e.g. behind a proxy).
    """
    env = django_env(environ)
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
    if not env.get("HELPDESK_SITE_URL"):
        env["HELPDESK_SITE_URL"] = site_url(host, port)
    return env, host, port


def up() -> None:
    install("")
    env, host, port = up_env()
    manage = [PY, "manage.py"]
    say("migrating the database")
    run(*manage, "migrate", "--no-input", env=env)
    say("loading the demo data")
    run(*manage, "load_demo", env=env)
    processes = {
        "web": [*manage, "runserver", f"{host}:{port}", "--noreload"],
        "worker": [BIN / "celery", "-A", "config", "worker", "--loglevel", "INFO",
                   "--queues", "transactional,default,bulk", "--concurrency", "2"],
        "beat": [BIN / "celery", "-A", "config", "beat", "--loglevel", "INFO"],
    }  # fmt: skip
    children = {name: subprocess.Popen([str(a) for a in cmd], cwd=ROOT, env=env) for name, cmd in processes.items()}
    base = env["HELPDESK_SITE_URL"]
    print(
        f"""
  The helpdesk is running (web, Celery worker and beat). Ctrl-C stops everything.

    Agent workspace  {base}/agent/
    Help center      {base}/help/
    Admin            {base}/admin/
    API schema       {base}/api/schema/   (browsable docs at {base}/api/docs/)
    Health           {base}/healthz
    Outgoing e-mail  {ROOT / "var" / "mail"}
    Incoming e-mail  drop an .eml file into {ROOT / "var" / "inbox"} (picked up within a minute),
                     or: .venv/bin/python manage.py mail_inbound < message.eml

  Demo sign-ins (password: demo)
    manager   manager@example.com   (agent workspace and admin)
    agent     agent@example.com     (agent workspace)
    customer  customer@example.com  (help center)
""",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        say("stopping")
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    say(f"{name} exited with code {child.returncode}; stopping the rest")
                    stop()
                    break
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop()


def find_chromium() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured and Path(configured).exists():
        return configured
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def ensure_browser(env: dict[str, str]) -> None:
    """Browser journeys need Chromium: the system's if there is one, else Playwright's own download."""
    chromium = find_chromium()
    if chromium:
        env["CHROMIUM_PATH"] = chromium
        return
    say("no system Chromium found; asking Playwright to download its own")
    if run(PY, "-m", "playwright", "install", "chromium", env=env, check=False) != 0:
        say("could not get a browser: the browser journeys will be skipped (install chromium to run them)")
        env["HELPDESK_NO_BROWSER"] = "1"


# tests marked so share one Celery broker (a real worker takes any test's tasks) or drive Chromium against a
# live server: they run one at a time after the rest. Those marked `serial` (serialized_rollback) go first
# in a process of their own: restoring the rows serialized with the test database fails on content types
# that a plain transactional test's flush re-created under new ids
SERIAL = "worker or browser or serial"
# arguments that choose workers or markers themselves (or need one process): the suite then runs once, as asked
OWN_SPLIT = ("-n", "--numprocesses", "--dist", "-m", "--pdb", "--trace", "no:xdist", "-pno:xdist")


def test_workers(args: list[str]) -> int:
    """How many pytest-xdist workers: HELPDESK_TEST_WORKERS, else one per core up to 2 (below 2: no xdist)."""
    for arg in args:
        if arg in OWN_SPLIT or arg.startswith(("--numprocesses=", "--dist=")) or re.fullmatch(r"-n\S+", arg):
            return 0
    wanted = os.environ.get("HELPDESK_TEST_WORKERS")
    return int(wanted) if wanted else min(2, os.cpu_count() or 1)


def test(args: list[str]) -> None:
    install("test")
    env = django_env(DJANGO_SETTINGS_MODULE="config.settings.test")
    env.pop("DJANGO_DEBUG", None)
    ensure_browser(env)
    pytest = [PY, "-m", "pytest"]
    workers = test_workers(args)
    if workers < 2:
        sys.exit(run(*pytest, *args, env=env, check=False))
    parallel = run(*pytest, "-n", str(workers), "--dist", "loadfile", "-m", f"not ({SERIAL})", *args, env=env,
                   check=False)  # fmt: skip
    restoring = run(*pytest, "-p", "no:xdist", "-m", "serial", *args, env=env, check=False)
    serial = run(*pytest, "-p", "no:xdist", "-m", f"({SERIAL}) and not serial", *args, env=env, check=False)
    sys.exit(combined_exit(parallel, restoring, serial))


def combined_exit(*codes: int) -> int:
    """pytest's exit codes of the parts: the first failure, else 0 when any part ran tests (5: none did)."""
    failed = [code for code in codes if code not in (0, 5)]
    if failed:
        return failed[0]
    return 0 if 0 in codes else 5


def main() -> None:
    command, *rest = sys.argv[1:] or ["up"]
    if command == "up":
        up()
    elif command == "test":
        test(rest)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
