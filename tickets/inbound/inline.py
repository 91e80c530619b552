"""Inline images (``cid:``) of an e-mail, shown in the message where the sender put them.

The parser (``tickets.inbound.parsing``) writes each inline image that the HTML shows as
``![alt](cid:<content-id>)`` in the text. Their parts become attachments under the same rules as uploads
(size, declared type, the bytes' magic number). Once the message and its attachments are saved,
``message_inline_images_link`` points each reference at its attachment by the relative URL
``attachments/<id>/``.

Relative on purpose: a message is shown at ``/agent/tickets/<t>/``, ``/help/requests/<t>/`` and
``/help/r/<token>/``, and against each of those pages the URL resolves to that page's own attachment view
(``agent-attachment``, ``help-request-attachment``, ``help-request-link-attachment``). Each checks that
the viewer may see the ticket (a customer: and the message) and answers 404 otherwise, so a customer sees
an image only where they may see its ticket. The URL names no ticket, so it still works after a merge
moves the message. nh3 keeps relative URLs already (its scheme allow-list is for absolute ones) and CSP's
``img-src 'self'`` covers them: the sanitizer allows nothing new. A reference whose image was refused or
is missing becomes its name in brackets (the message's note lists the refused attachments).

An agent's public reply by e-mail goes on to the customer as e-mail, where neither a Markdown image nor a
URL relative to our pages means anything (and Outlook puts the signature's logo inline): its references
are taken out with ``inline_images_unlinked`` before it is saved, and its images stay attachments.
"""

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from core.markdown import render_markdown
from tickets.models import Message
from tickets.services._common import waiting

_REFERENCE = re.compile(r"!\[([^\]\n]*)\]\(cid:([^)\s]+)\)")


def message_inline_images_link(*, message: Message, files: Sequence[Any]) -> None:
    """Point the message's ``cid:`` images at the attachments ``files`` became (saved in this order)."""
    if "](cid:" not in message.body:
        return
    by_cid: dict[str, int] = {}
    saved = message.attachments.order_by("id").values_list("pk", flat=True)  # the files' rows, in their order
    for upload, attachment_id in zip(files, saved, strict=False):
        if content_id := getattr(upload, "content_id", ""):
            by_cid.setdefault(content_id.lower(), attachment_id)

    def link(match: re.Match[str]) -> str:
        attachment_id = by_cid.get(unquote(match.group(2)).lower())
        return f"![{match.group(1)}](attachments/{attachment_id}/)" if attachment_id else f"[{match.group(1)}]"

    message.body = _REFERENCE.sub(link, message.body)
    message.body_html = render_markdown(message.body)
    if not waiting(message):  # a batch's waiting message is written as it is now
        message.save(update_fields=["body", "body_html"])


def inline_images_unlinked(text: str) -> str:
    """The text without its ``cid:`` image references (the images stay the message's attachments)."""
    if "](cid:" not in text:
        return text
    return re.sub(r"\n{3,}", "\n\n", _REFERENCE.sub("", text)).strip()
