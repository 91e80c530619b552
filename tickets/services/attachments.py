"""Attachments: size, declared type, name and the bytes themselves are checked before anything is written,
and the file is written only when the transaction commits, so a rolled-back message leaves no file behind."""

import logging
import mimetypes
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import puremagic
from django.core.files import File
from django.db import transaction

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from tickets.models import Attachment, Message

logger = logging.getLogger(__name__)

#: types with no magic number: the bytes must be text (UTF-8, no NUL) that nothing recognises as markup or a program
TEXT_TYPES = frozenset({"text/plain", "text/csv", "application/json", "message/rfc822"})
#: zip containers: puremagic cannot tell a .docx from a .zip by the first bytes, the signature is enough
ZIP_TYPES = frozenset(
    {
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_HEAD_BYTES = 64 * 1024


def _declared_type(upload: Any) -> str:
    return (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()


def _head(upload: Any) -> bytes:
    upload.seek(0)
    head = upload.read(_HEAD_BYTES)
    upload.seek(0)
    return head if isinstance(head, bytes) else head.encode()


def _detected(head: bytes) -> list[Any]:
    """puremagic's candidates, best first ([] when nothing matches)."""
    if not head:
        return []
    try:
        return sorted(puremagic.magic_string(head), key=lambda match: -match.confidence)
    except puremagic.PureError:
        return []


def _is_text(head: bytes, candidates: list[Any]) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # only a character cut at the end of the head is forgiven
            return False
    strong = [match for match in candidates if match.confidence >= 0.5 and match.mime_type]
    return all(match.mime_type in TEXT_TYPES for match in strong)


def _family(content_type: str) -> frozenset[str]:
    for family in (TEXT_TYPES, ZIP_TYPES):
        if content_type in family:
            return family
    return frozenset({content_type})


def _contents_match(declared: str, head: bytes, candidates: list[Any]) -> bool:
    if declared in TEXT_TYPES:
        return _is_text(head, candidates)
    if declared in ZIP_TYPES:
        return head.startswith(_ZIP_SIGNATURES)
    return declared in {match.mime_type for match in candidates}


def attachments_validate(*, files: Sequence[Any]) -> None:
    """Raise ApplicationError unless every file is within ``ATTACHMENT_MAX_BYTES`` and of an allowed type.

    The declared type must be allowed and agree with the file name's extension (``x.html`` sent as
    ``text/plain`` is refused, so is ``x.png`` sent as ``image/jpeg``), and the bytes must be what both
    say: a PNG starts with PNG's magic number (puremagic), a .docx is a zip, a text file is UTF-8 text
    that is not HTML or SVG.
    """
    limit = helpdesk_setting("ATTACHMENT_MAX_BYTES")
    allowed = {value.lower() for value in helpdesk_setting("ATTACHMENT_CONTENT_TYPES")}
    for upload in files:
        name = os.path.basename(getattr(upload, "name", "") or "file")
        size = getattr(upload, "size", None)
        if size is None or size > limit:
            raise ApplicationError(
                f"{name} is larger than the limit of {limit // (1024 * 1024) or limit} "
                f"{'MB' if limit >= 1024 * 1024 else 'bytes'}.",
                {"attachment": name, "size": size, "max_bytes": limit},
            )
        declared = _declared_type(upload)
        guessed, _ = mimetypes.guess_type(name)
        guessed = guessed.lower() if guessed else None
        if declared not in allowed or (guessed is not None and guessed not in allowed):
            raise ApplicationError(
                f"Files of type {declared or guessed or 'unknown'} cannot be attached ({name}).",
                {"attachment": name, "content_type": declared},
            )
        if guessed is not None and guessed not in _family(declared):
            raise ApplicationError(
                f"{name} was sent as {declared}, which its name does not match.",
                {"attachment": name, "content_type": declared, "extension_type": guessed},
            )
        head = _head(upload)
        candidates = _detected(head)
        if not _contents_match(declared, head, candidates):
            detected = next((match.mime_type for match in candidates if match.mime_type), "unknown")
            raise ApplicationError(
                f"{name} is not really {declared}: its contents look like {detected}.",
                {"attachment": name, "content_type": declared, "detected": detected},
            )


def _spooled_copy(upload: Any) -> File:
    """The bytes, kept until the commit whatever happens to the upload (a request closes its files)."""
    copy = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115  (closed after the write)
    upload.seek(0)
    for chunk in upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(65536), b""):
        copy.write(chunk)
    copy.seek(0)
    return File(copy)


def _write_on_commit(pending: list[tuple[Attachment, File]]) -> None:
    for attachment, content in pending:
        try:
            with content:
                stored = attachment.file.storage.save(attachment.file.name, content, max_length=200)
        except Exception:
            # the row is committed but its bytes are not: drop the row rather than keep a broken link
            logger.exception("attachment %s could not be written; its row is removed", attachment.pk)
            Attachment.objects.filter(pk=attachment.pk).delete()
            continue
        if stored != attachment.file.name:  # the storage chose another free name
            Attachment.objects.filter(pk=attachment.pk).update(file=stored)


def attachments_store(*, message: Message, files: Sequence[Any]) -> list[Attachment]:
    """Rows for validated files under random names (see ``attachment_upload_to``); the bytes are written
    when the caller's transaction commits, so a rollback leaves neither a row nor a file."""
    pending = []
    for upload in files:
        name = os.path.basename(getattr(upload, "name", "") or "file")[:255]
        attachment = Attachment(message=message, filename=name, content_type=_declared_type(upload), size=upload.size)
        attachment.file.name = attachment.file.field.generate_filename(attachment, name)
        attachment.save()
        pending.append((attachment, _spooled_copy(upload)))
    if pending:
        transaction.on_commit(lambda: _write_on_commit(pending))
    return [attachment for attachment, _ in pending]
