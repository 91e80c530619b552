"""Raw e-mail bytes to the facts the help desk routes on, for mail as real clients and servers write it.

``email_parse(raw)`` never raises on bad input: a message whose MIME is broken, whose charset is
wrong or unknown, or whose headers do not parse still gives a ``ParsedEmail``, with what went wrong
listed in ``defects``. What it reads:

- the threading headers (``Message-ID``, ``In-Reply-To``, ``References``) without their brackets;
- the people (``From``, ``Reply-To``, ``To``, ``Cc``) as lower-cased addresses and display names,
  RFC 2047 encoded words decoded;
- the text: the ``text/plain`` body, or text made from the HTML body when a client sent only HTML
  (``text_from_html``); the HTML itself is kept as sent and is sanitized where it is shown;
- attachments, including inline images (``Content-ID``), as bytes with their declared name and type;
  when the HTML shows inline images (``<img src="cid:...">``) the text is made from the HTML, with each
  image where the sender put it as ``![alt](cid:...)`` (``tickets.inbound.inline`` points it at the
  attachment it became): the plain-text part of such mail has no images, or only a "[image: x.png]";
- whether a machine wrote it (RFC 3834: ``Auto-Submitted``, ``X-Autoreply``, ``Precedence``, an empty
  ``Return-Path``, ``MAILER-DAEMON``) and whether it is bulk or list mail (``List-Id``, ``Precedence``);
- a delivery status notification (RFC 3464 ``multipart/report``): which message bounced, for whom,
  and whether the failure is permanent;
- what the receiving server's ``Authentication-Results`` header says failed (DKIM, SPF, DMARC).

Quote stripping lives in ``tickets.inbound.quotes``.
"""

from __future__ import annotations

import datetime as dt
import email
import email.errors
import email.parser
import email.policy
import re
from dataclasses import dataclass, field
from email.header import Header, decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import unquote

import authres

#: tried in turn when a part's declared charset is missing, unknown or wrong; latin-1 decodes any bytes
FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")
#: the charsets mail clients declare that Python knows under another name
CHARSET_ALIASES = {"unicode-1-1-utf-7": "utf-7", "x-unknown": "utf-8", "unknown-8bit": "utf-8", "us-ascii": "utf-8"}


@dataclass(frozen=True)
class Address:
    email: str
    name: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""  # without brackets; set for inline images referenced as cid: in the HTML
    inline: bool = False


@dataclass(frozen=True)
class DeliveryReport:
    """What an RFC 3464 delivery status notification says about one message we sent."""

    original_message_id: str
    recipient: str
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # e.g. 5.1.1
    diagnostic: str

    @property
    def permanent(self) -> bool:
        """A hard bounce: the address does not work, as opposed to a full mailbox or a slow server."""
        return self.action == "failed" and self.status.startswith("5")


@dataclass
class ParsedEmail:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str = ""
    sender: Address | None = None
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    date: dt.datetime | None = None
    text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    automated: str = ""  # why we think a machine wrote it ("Auto-Submitted: auto-replied"), "" for a person
    bulk: str = ""  # why it is bulk or list mail ("List-Id: <news.example.com>")
    report: DeliveryReport | None = None
    auth_failures: list[str] = field(default_factory=list)  # e.g. ["dkim=fail", "dmarc=fail"]
    auth_passes: list[str] = field(default_factory=list)  # e.g. ["dkim=pass", "dmarc=pass"]

    @property
    def sender_verified(self) -> bool:
        """The receiving server vouched for the sender's domain (DKIM or DMARC passed, nothing failed)."""
        return bool(self.auth_passes) and not self.auth_failures

    defects: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """The Message-IDs this message answers, nearest first (In-Reply-To, then References newest first)."""
        seen: dict[str, None] = {}
        for message_id in [*self.in_reply_to, *reversed(self.references)]:
            seen.setdefault(message_id, None)
        return list(seen)


def email_parse(raw: bytes) -> ParsedEmail:
    parsed = ParsedEmail()
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # the stdlib parser is lenient; this is the last resort
        parsed.defects.append(f"unparseable message: {exc}")
        parsed.text = _decode(raw, None, parsed.defects)
        return parsed
    if message.get_content_maintype() == "multipart" and not message.is_multipart():
        message = _without_missing_boundary(message, parsed)
    parsed.defects.extend(type(defect).__name__ for defect in message.defects)
    parsed.message_id = next(iter(_ids(_header(message, "Message-ID", parsed))), "")
    parsed.in_reply_to = _ids(_header(message, "In-Reply-To", parsed))
    parsed.references = _ids(_header(message, "References", parsed))
    parsed.subject = " ".join(_header(message, "Subject", parsed).split())
    senders = _addresses(message, "From", parsed)
    parsed.sender = senders[0] if senders else None
    parsed.reply_to = _addresses(message, "Reply-To", parsed)
    parsed.to = _addresses(message, "To", parsed)
    parsed.cc = _addresses(message, "Cc", parsed)
    parsed.date = _date(_header(message, "Date", parsed))
    parsed.automated, parsed.bulk = _automation(message, parsed)
    parsed.auth_failures, parsed.auth_passes = _auth_results(message)
    _walk(message, parsed)
    if parsed.html and (not parsed.text or _shows_inline_images(parsed)):
        parsed.text = text_from_html(parsed.html)
    if message.get_content_type() == "multipart/report":
        parsed.report = _delivery_report(message, parsed)
    return parsed


def email_head(header_block: bytes) -> tuple[str, Address | None, str]:
    """(Message-ID, sender, subject) from a message's header block, read as ``email_parse`` reads them:
    what storing a message keeps, at a fraction of a whole parse's cost."""
    parsed = ParsedEmail()
    message = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header_block)
    senders = _addresses(message, "From", parsed)
    return (
        next(iter(_ids(_header(message, "Message-ID", parsed))), ""),
        senders[0] if senders else None,
        " ".join(_header(message, "Subject", parsed).split()),
    )


def _without_missing_boundary(message: Message, parsed: ParsedEmail) -> Message:
    """A multipart message that declares no boundary (or one its body never uses): read again with the
    boundary its first ``--`` line shows, else as plain text, so that its text is not lost."""
    body = message.get_payload()
    found = re.search(r"^--([^\s]{1,70})[ \t\r]*$", body if isinstance(body, str) else "", flags=re.MULTILINE)
    if found:
        parsed.defects.append(f"multipart without its boundary: read with --{found.group(1)}")
        message.set_param("boundary", found.group(1))
        try:
            return email.message_from_bytes(message.as_bytes(), policy=email.policy.compat32)
        except Exception:  # noqa: S110 - a message the stdlib cannot write back is read as text below
            pass
    parsed.defects.append("multipart without a boundary: read as text")
    message.set_type("text/plain")
    return message


# headers -----------------------------------------------------------------------------------------


def _header(message: Message, name: str, parsed: ParsedEmail) -> str:
    """A header's text, RFC 2047 encoded words decoded; undecodable parts kept as they were."""
    value = message.get(name)
    return "" if value is None else _decoded(value, name, parsed)


def _decoded(value: object, name: str, parsed: ParsedEmail) -> str:
    if isinstance(value, Header):
        # raw 8-bit bytes in a header (RFC 6532 UTF-8, or a client's local charset): the stdlib keeps them as
        # "unknown-8bit" and would print them as replacement characters; decode them as a body would be
        return " ".join(_decode_words_leniently(value).split())
    value = str(value)
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError) as exc:
        parsed.defects.append(f"{name}: {exc}")
        return _decode_words_leniently(value)


def _decode_words_leniently(value: str) -> str:
    pieces = []
    for chunk, charset in decode_header(value):
        if isinstance(chunk, str):
            pieces.append(chunk)
        else:
            pieces.append(_decode(chunk, charset, []))
    return "".join(pieces)


_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def _ids(value: str) -> list[str]:
    found = _MESSAGE_ID.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip()]  # some clients leave the brackets off
    return found


def _addresses(message: Message, name: str, parsed: ParsedEmail) -> list[Address]:
    values = message.get_all(name) or []
    result = []
    for display, addr in getaddresses([_decoded(v, name, parsed) for v in values]):
        addr = addr.strip().lower()
        if "@" in addr:
            result.append(Address(email=addr, name=" ".join(display.split())))
    return result


def _date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


# RFC 3834 machines and lists ----------------------------------------------------------------------


def _automation(message: Message, parsed: ParsedEmail) -> tuple[str, str]:
    """(why a machine wrote it, why it is bulk): each "" when not."""
    bulk = ""
    if list_id := _header(message, "List-Id", parsed):
        bulk = f"List-Id: {list_id}"
    precedence = _header(message, "Precedence", parsed).strip().lower()
    if precedence in {"bulk", "junk", "list"}:
        bulk = bulk or f"Precedence: {precedence}"
    automated = ""
    auto_submitted = _header(message, "Auto-Submitted", parsed).strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        automated = f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if not automated and message.get(name) is not None:
            automated = f"{name}: {_header(message, name, parsed)}".rstrip(": ")
    return_path = message.get("Return-Path")
    if not automated and return_path is not None and parseaddr(str(return_path))[1] == "":
        automated = "Return-Path: <> (a bounce or other machine-sent mail)"
    sender = parseaddr(_header(message, "From", parsed))[1].lower()
    if not automated and sender.split("@")[0] in {"mailer-daemon", "postmaster"}:
        automated = f"From: {sender}"
    return automated or bulk, bulk


def _auth_results(message: Message) -> tuple[list[str], list[str]]:
    """(what failed, what passed) by the topmost Authentication-Results header, the one our receiving
    server added (lower ones may come from anywhere)."""
    value = message.get("Authentication-Results")
    if value is None:
        return [], []
    try:
        header = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {value}")
    except Exception:  # authres raises its own syntax errors; an unreadable header proves nothing
        return [], []
    failures, passes = [], []
    for result in header.results:
        method, outcome = str(result.method).lower(), str(result.result).lower()
        if method in {"dkim", "spf", "dmarc"} and outcome in {"fail", "softfail", "permerror"}:
            failures.append(f"{method}={outcome}")
        elif method in {"dkim", "dmarc"} and outcome == "pass":
            passes.append(f"{method}=pass")
    return failures, passes


# bodies --------------------------------------------------------------------------------------------


def _decode(payload: bytes, charset: str | None, defects: list[str]) -> str:
    """Bytes to text in the declared charset, else the first fallback that fits; never raises."""
    declared = (charset or "").strip().strip('"').lower()
    declared = CHARSET_ALIASES.get(declared, declared)
    for candidate in (declared, *FALLBACK_CHARSETS) if declared else FALLBACK_CHARSETS:
        try:
            return payload.decode(candidate)
        except LookupError:
            defects.append(f"unknown charset {candidate!r}")
        except UnicodeDecodeError:
            if candidate == declared:
                defects.append(f"not {candidate}: decoded with a fallback")
    return payload.decode("latin-1")  # unreachable: latin-1 maps every byte


def _walk(message: Message, parsed: ParsedEmail) -> None:
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        if content_type in {"message/delivery-status", "message/rfc822", "text/rfc822-headers"}:
            continue  # read by _delivery_report; a forwarded message is an attachment below
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = part.get_filename()
        if filename:
            filename = _decode_words_leniently(filename)
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception as exc:  # bad base64 / quoted-printable: keep what there is
            parsed.defects.append(f"undecodable {content_type} part: {exc}")
            payload = str(part.get_payload()).encode("utf-8", "replace")
        content_id = (part.get("Content-ID") or "").strip().strip("<>")
        is_body = disposition != "attachment" and not filename and content_type in {"text/plain", "text/html"}
        if is_body:
            text = _decode(payload, part.get_content_charset(), parsed.defects)
            if content_type == "text/plain" and not parsed.text:
                if (part.get_param("format") or "").lower() == "flowed":
                    text = unflow(text, delsp=(part.get_param("delsp") or "").lower() == "yes")
                parsed.text = text.replace("\r\n", "\n").strip("\n")
            elif content_type == "text/html" and not parsed.html:
                parsed.html = text
            continue
        parsed.attachments.append(
            Attachment(
                filename=filename or _name_for(content_type, len(parsed.attachments) + 1),
                content_type=content_type,
                content=payload,
                content_id=content_id,
                inline=disposition == "inline" or (bool(content_id) and disposition != "attachment"),
            )
        )
    _forwarded(message, parsed)


def unflow(text: str, *, delsp: bool = False) -> str:
    """RFC 3676 ``format=flowed`` text (Thunderbird, Apple Mail) with its soft line breaks joined again.

    A line that ends in a space continues on the next line of the same quote depth; a leading space is
    stuffing; ``-- `` is the signature line, never a soft break."""
    out: list[str] = []
    depths: list[int] = []
    joining = False
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if joining and depths and depths[-1] == depth:
            out[-1] += content
        else:
            out.append((">" * depth + " " if depth else "") + content)
            depths.append(depth)
        joining = soft
    return "\n".join(line.rstrip() if line != "-- " else line for line in out)


def _forwarded(message: Message, parsed: ParsedEmail) -> None:
    """A forwarded message (message/rfc822) is kept as an .eml attachment, not merged into the body."""
    if message.get_content_type() == "multipart/report":
        return
    for part in message.walk():
        if part.get_content_type() == "message/rfc822" and part is not message:
            inner = part.get_payload()
            content = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
            parsed.attachments.append(Attachment("forwarded.eml", "message/rfc822", content))


_CID_SRC = re.compile(r"""src\s*=\s*["']?cid:([^"'\s>]+)""", re.IGNORECASE)


def cid_references(html: str) -> list[str]:
    """The Content-IDs an HTML body shows as images, in order (RFC 2392: a cid URL is URL-encoded)."""
    return [unquote(found) for found in _CID_SRC.findall(html)]


def _shows_inline_images(parsed: ParsedEmail) -> bool:
    inline = {a.content_id.lower() for a in parsed.attachments if a.content_id}
    return any(cid.lower() in inline for cid in cid_references(parsed.html))


def _name_for(content_type: str, n: int) -> str:
    extension = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "application/pdf": "pdf"}
    return f"attachment-{n}.{extension.get(content_type, 'bin')}"


# delivery status notifications (RFC 3464) ------------------------------------------------------------


def _delivery_report(message: Message, parsed: ParsedEmail) -> DeliveryReport | None:
    fields: dict[str, str] = {}
    original = ""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            fields |= _status_fields(part)
        elif content_type in {"message/rfc822", "text/rfc822-headers"} and not original:
            original = _original_message_id(part)
    if not fields:
        return None
    recipient = fields.get("final-recipient") or fields.get("original-recipient") or ""
    return DeliveryReport(
        original_message_id=original,
        recipient=recipient.split(";")[-1].strip().lower(),
        action=fields.get("action", "").strip().lower(),
        status=fields.get("status", "").strip().split(" ")[0],
        diagnostic=" ".join(fields.get("diagnostic-code", "").split(";")[-1].split()),
    )


def _status_fields(part: Message) -> dict[str, str]:
    """The per-recipient fields of a message/delivery-status part (the first recipient's block)."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the stdlib splits the blocks into Message objects
        text = "\n\n".join(p.as_string() for p in payload if isinstance(p, Message))
    else:
        text = _decode(part.get_payload(decode=True) or b"", part.get_content_charset(), [])
    fields: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        block_fields = {}
        for key, value in re.findall(r"^([A-Za-z-]+):[ \t]*(.*(?:\n[ \t].*)*)", block, flags=re.M):
            block_fields[key.lower()] = " ".join(value.split())
        if "final-recipient" in block_fields or "action" in block_fields:
            return fields | block_fields  # per-message fields first, then the first recipient
        fields |= block_fields
    return fields


def _original_message_id(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        value = payload[0].get("Message-ID", "")
    else:
        text = _decode(part.get_payload(decode=True) or b"", part.get_content_charset(), [])
        found = re.search(r"^Message-ID:\s*(.+)$", text, flags=re.M | re.I)
        value = found.group(1) if found else ""
    ids = _ids(str(value))
    return ids[0] if ids else ""


# HTML to text ------------------------------------------------------------------------------------------


class _TextMaker(HTMLParser):
    BLOCKS = frozenset({"div", "br", "tr", "li", "table", "hr"})
    PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "ul", "ol"})
    SKIP = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote_depth = 0
        self.skip_depth = 0
        self.line_depth = 0

    def _newline(self, *, paragraph: bool = False) -> None:
        if self.lines[-1].strip():
            self.lines.append("")
        if paragraph and len(self.lines) > 1 and self.lines[-2].strip():
            self.lines.append("")  # a blank line between paragraphs; text() collapses repeats
        self.line_depth = self.quote_depth

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip_depth += 1
        elif tag == "blockquote":
            self._newline(paragraph=True)
            self.quote_depth += 1
            self.line_depth = self.quote_depth
        elif tag in self.PARAGRAPHS:
            self._newline(paragraph=True)
        elif tag == "br" and not self.lines[-1].strip() and len(self.lines) > 1:
            self.lines.append("")  # a <br> on an empty line is a blank line (Outlook's and Gmail's <div><br></div>)
        elif tag in self.BLOCKS:
            self._newline()
        if tag == "li":
            self.lines[-1] = "> " * self.line_depth + "- "
        if tag == "img" and not self.skip_depth:
            self._image(dict(attrs))

    def _image(self, attrs: dict[str, str | None]) -> None:
        """An inline image (cid:) as a Markdown image where it stood; remote images are left out: loading
        them would tell the sender that and when the mail was read (and CSP would block them anyway)."""
        src = (attrs.get("src") or "").strip()
        if not src.lower().startswith("cid:"):
            return
        alt = " ".join(re.sub(r"[\[\]]", "", attrs.get("alt") or "").split()) or "image"
        if not self.lines[-1]:
            self.lines[-1] = "> " * self.line_depth
        elif not self.lines[-1].endswith(" "):
            self.lines[-1] += " "
        self.lines[-1] += f"![{alt}](cid:{src[4:].replace(')', '%29').replace(' ', '%20')}) "

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "blockquote":
            self._newline(paragraph=True)
            self.quote_depth = max(0, self.quote_depth - 1)
            self.line_depth = self.quote_depth
        elif tag in self.PARAGRAPHS:
            self._newline(paragraph=True)
        elif tag in self.BLOCKS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        text = " ".join(data.split())
        if not text:
            if data and self.lines[-1] and not self.lines[-1].endswith(" "):
                self.lines[-1] += " "
            return
        if not self.lines[-1]:
            self.lines[-1] = "> " * self.line_depth
        elif data[:1].isspace() and not self.lines[-1].endswith(" "):
            text = " " + text
        self.lines[-1] += text + (" " if data[-1:].isspace() else "")

    def text(self) -> str:
        out, blank = [], False
        for line in (line.rstrip() for line in self.lines):
            if not line.strip("> "):
                if not blank and out:
                    out.append("")
                blank = True
                continue
            out.append(line)
            blank = False
        return "\n".join(out).strip("\n")


def text_from_html(html: str) -> str:
    """Readable text of an HTML mail body; quoted blocks (<blockquote>) keep their "> " marks."""
    maker = _TextMaker()
    try:
        maker.feed(html)
        maker.close()
    except Exception:  # noqa: S110 - html.parser is lenient; a pathological input gives what it had so far
        pass
    return maker.text()
