"""Request bodies that carry an e-mail: read in chunks up to a limit of their own, not Django's form limit.

Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB) guards forms, and reading ``request.body`` or a
multipart form's fields over it is a 400: an ordinary 10 MB e-mail, posted raw to the API, as Mailgun's
``body-mime`` field or inside Postmark's JSON, would be refused. The endpoints that take mail read the
stream themselves, up to the message size limit plus headroom, so that a message a little over
``INBOUND_MAX_BYTES`` is still stored raw and opens a ticket that says it was too large (the worker's
rule); only a body no mail server would relay is refused, with a 413, before it is read. A service's
webhook may take twice that: it wraps the message (Postmark's JSON carries it as ``RawEmail`` and again as
its text, HTML and base64 attachments; Mailgun's form posts its text and HTML beside ``body-mime``).
"""

import email
import email.policy
import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from core.conf import helpdesk_setting

_CHUNK = 1024 * 1024


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The message is larger than {limit / 1024 / 1024:.1f} MB, the most this endpoint takes.")


def inbound_request_max_bytes(*, wrapped: bool = False) -> int:
    """The largest body an endpoint that takes mail reads: the message size limit and half of it again;
    twice that for a service's webhook, whose post wraps the message (``wrapped``)."""
    limit: int = helpdesk_setting("INBOUND_MAX_BYTES")
    return (limit + limit // 2) * (2 if wrapped else 1)


def declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def read_limited(stream: Any, *, limit: int) -> bytes:
    """All of ``stream``, or ``BodyTooLarge`` one byte past ``limit`` (a body longer than it declared)."""
    chunks, size = [], 0
    while chunk := stream.read(min(_CHUNK, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
    return b"".join(chunks)


def request_body_load(request: HttpRequest) -> None:
    """A webhook's post: read the body (``BodyTooLarge`` over the limit) so that ``request.body``,
    ``request.POST`` and ``FILES`` are there without Django's form limit (multipart parsed by ``email``)."""
    limit = inbound_request_max_bytes(wrapped=True)
    if declared_length(request) > limit:
        raise BodyTooLarge(limit)
    body = read_limited(request, limit=limit) if declared_length(request) else b""
    request._body = body  # what HttpRequest.body would have read, without its DATA_UPLOAD check
    request._stream = io.BytesIO(body)
    if request.content_type == "multipart/form-data":
        request._post, request._files = _multipart(request.META.get("CONTENT_TYPE", ""), body)


def _multipart(content_type: str, body: bytes) -> tuple[QueryDict, MultiValueDict]:
    form = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace") + body, policy=email.policy.HTTP
    )
    post, files = QueryDict(mutable=True), MultiValueDict()
    for part in form.iter_parts() if form.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            post.appendlist(name, content.decode(part.get_content_charset() or "utf-8", "replace"))
        else:
            files.appendlist(name, SimpleUploadedFile(filename, content, part.get_content_type()))
    post._mutable = False
    return post, files
