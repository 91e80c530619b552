"""Attachments: size and content type are checked before anything is written."""

import mimetypes
import os
from collections.abc import Sequence
from typing import Any

from core.exceptions import ApplicationError
from tickets.models import Attachment, Message
from tickets.services._common import conf


def _declared_type(upload: Any) -> str:
    return (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()


def attachments_validate(*, files: Sequence[Any]) -> None:
    """Raise ApplicationError unless every file is within ``ATTACHMENT_MAX_BYTES`` and of an allowed type.

    The declared type must be allowed, and so must the type its file name suggests (``x.html`` sent as
    ``text/plain`` is refused).
    """
    limit = conf("ATTACHMENT_MAX_BYTES")
    allowed = {value.lower() for value in conf("ATTACHMENT_CONTENT_TYPES")}
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
        if declared not in allowed or (guessed is not None and guessed.lower() not in allowed):
            raise ApplicationError(
                f"Files of type {declared or guessed or 'unknown'} cannot be attached ({name}).",
                {"attachment": name, "content_type": declared},
            )


def attachments_store(*, message: Message, files: Sequence[Any]) -> list[Attachment]:
    """Store validated files under random names (see ``attachment_upload_to``)."""
    stored = []
    for upload in files:
        name = os.path.basename(getattr(upload, "name", "") or "file")[:255]
        attachment = Attachment(message=message, filename=name, content_type=_declared_type(upload), size=upload.size)
        attachment.file.save(name, upload, save=False)
        attachment.save()
        stored.append(attachment)
    return stored
