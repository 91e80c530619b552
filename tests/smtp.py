"""A real SMTP server on loopback (aiosmtpd) for tests, with switches to refuse or reject."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller


@dataclass
class SmtpSink:
    messages: list[Message] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    #: answer this many DATA commands with a transient 451 before accepting again
    refuse_next: int = 0
    #: recipients answered with a permanent 550
    reject: set[str] = field(default_factory=set)
    #: recipients answered with a transient 450 (a full or greylisting mailbox), every time
    defer: set[str] = field(default_factory=set)
    #: answer this many DATA commands with 421 (the server is going away), as a dropped session would
    close_next: int = 0
    #: seconds each DATA takes, to slow a fan-out down enough for a fault to land in the middle
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 mailbox unavailable"
        if address.lower() in self.defer:
            return "450 4.2.1 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.sessions.add(id(session))
            if self.close_next > 0:
                self.close_next -= 1
                return "421 4.3.2 service shutting down"
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "451 4.3.0 try again later"
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"

    def recipients(self) -> list[str]:
        with self.lock:
            return [str(m["To"]) for m in self.messages]


class SmtpServer:
    def __init__(self) -> None:
        self.sink = SmtpSink()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=_free_port())

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
