"""A delivery's e-mail as the bytes an SMTP server receives: the hottest code of a fan-out.

Django's ``EmailMultiAlternatives`` goes through the ``email`` package, whose header folding
and address parsing cost about half a millisecond a message, more than everything else a
worker does for it. These are the same headers and MIME parts written directly: plain
ASCII headers as they are, other ones RFC 2047-encoded, each body part 7bit, 8bit or, when
a line is longer than SMTP allows, quoted-printable. The From address is parsed once.
"""

import binascii
import functools
import secrets
from dataclasses import dataclass
from email.header import Header
from email.utils import formatdate

from django.conf import settings
from django.core.mail.message import sanitize_address

CRLF = "\r\n"
#: RFC 5321: a line of the message, CRLF excluded, may hold 998 octets
MAX_LINE = 998


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: list[str]
    data: bytes


@functools.cache
def _from(value: str, encoding: str) -> str:
    return sanitize_address(value, encoding)


def _header(name: str, value: str) -> str:
    value = " ".join(value.splitlines())  # no header injection, whatever the caller passed
    if value.isascii() and len(name) + 2 + len(value) <= MAX_LINE:
        return f"{name}: {value}"
    return f"{name}: {Header(value, 'utf-8', header_name=name).encode(linesep=CRLF)}"


def _address(value: str, encoding: str) -> str:
    return value if value.isascii() else sanitize_address(value, encoding)


def _part(text: str, subtype: str) -> tuple[list[str], bytes]:
    """The headers and the CRLF-terminated payload of one ``text/<subtype>`` part."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    raw = "\n".join(lines).encode()
    if max((len(line.encode()) for line in lines), default=0) <= MAX_LINE:
        encoding = "7bit" if text.isascii() else "8bit"
        payload = raw.replace(b"\n", b"\r\n")
    else:
        encoding = "quoted-printable"
        payload = binascii.b2a_qp(raw, istext=True).replace(b"\n", b"\r\n")
    headers = [f'Content-Type: text/{subtype}; charset="utf-8"', f"Content-Transfer-Encoding: {encoding}"]
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    return headers, payload


def email_envelope_build(
    *, subject: str, body: str, html_body: str, recipient: str, message_id: str, headers: dict[str, str]
) -> Envelope:
    """The envelope sender, the recipients and the message of one delivery."""
    encoding = settings.DEFAULT_CHARSET
    sender = _from(settings.DEFAULT_FROM_EMAIL, encoding)
    headers = dict(headers)
    # a row may name its own From (a queue's mailbox, an agent's name); the envelope sender stays ours
    shown_from = _from(headers.pop("From"), encoding) if headers.get("From") else sender
    to = _address(recipient, encoding)
    top = [
        _header("Subject", subject),
        f"From: {shown_from}",
        f"To: {to}",
        f"Date: {formatdate(localtime=settings.EMAIL_USE_LOCALTIME)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        *(_header(name, value) for name, value in headers.items()),
    ]
    if not html_body:
        part_headers, text = _part(body, "plain")
        data = CRLF.join([*top, *part_headers, "", ""]).encode() + text
        return Envelope(sender=sender, recipients=[to], data=data)
    boundary = f"=_{secrets.token_hex(12)}"
    head = CRLF.join([*top, f'Content-Type: multipart/alternative; boundary="{boundary}"', "", ""]).encode()
    parts = b"".join(
        f"--{boundary}{CRLF}{CRLF.join(part_headers)}{CRLF}{CRLF}".encode() + payload
        for part_headers, payload in (_part(body, "plain"), _part(html_body, "html"))
    )
    return Envelope(sender=sender, recipients=[to], data=head + parts + f"--{boundary}--{CRLF}".encode())
