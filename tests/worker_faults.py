"""Faults injected into a test's worker process only: ``tests.worker_faults_settings`` imports this module
into the worker (``CELERY_IMPORTS``), and each fault fires only for a message whose bytes hold the marker
its environment variable names. Nothing in the code under test knows about it.

- ``HELPDESK_TEST_CRASH_ON``: parsing the message segfaults the process (as a C parser's bug would);
- ``HELPDESK_TEST_HANG_ON``: cutting its quotes never returns, but a signal interrupts it (a regex that
  backtracks for ever: the soft time limit stops it);
- ``HELPDESK_TEST_STUCK_ON``: parsing it never returns and no signal reaches it (a C extension's loop: only
  the hard time limit, which kills the process, stops it).
"""

import ctypes
import os
import signal
import time

import tickets.inbound.services as services

_CRASH_ON = os.environ.get("HELPDESK_TEST_CRASH_ON", "").encode()
_HANG_ON = os.environ.get("HELPDESK_TEST_HANG_ON", "")
_STUCK_ON = os.environ.get("HELPDESK_TEST_STUCK_ON", "").encode()
_real_parse = services.email_parse
_real_reply_text = services.reply_text


def _parse(raw: bytes) -> object:
    if _CRASH_ON and _CRASH_ON in raw:
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    if _STUCK_ON and _STUCK_ON in raw:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM, signal.SIGINT, signal.SIGALRM})
        while True:
            time.sleep(1)
    return _real_parse(raw)


def _reply_text(text: str) -> str:
    if _HANG_ON and _HANG_ON in text:
        while True:
            time.sleep(0.05)
    return _real_reply_text(text)


services.email_parse = _parse  # type: ignore[assignment]
services.reply_text = _reply_text
