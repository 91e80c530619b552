"""Where mail comes from when nobody pushes it to us: IMAP mailboxes and drop folders, polled by beat.

Messages are stored (and committed) by ``inbound_store_many``, up to ``INBOUND_PROCESS_BATCH`` (and
``_STORE_BYTES``) at a time, before the source is told they were taken: the IMAP flag, move or delete (one
command for the chunk, as its fetch is), or the files' move to ``processed/``. A crash between the two leaves
the message at the source, and the next poll stores it again as the same row (its Message-ID), so
nothing is lost and nothing is processed twice.

One poll of a mailbox at a time: a PostgreSQL advisory lock per mailbox (released by the server when the
holder dies), or on the embedded default a cache entry (files under ``var/``, shared by the machine's
processes) that expires after ``_LOCK_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from core.conf import helpdesk_setting
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.inbound.services import inbound_store_many

log = logging.getLogger(__name__)

_LOCK_SECONDS = 300
#: messages listed at a time; a poll goes on listing until the mailbox is empty or its time is up
POLL_BATCH = 500
#: messages stored in one transaction hold at most this many bytes between them (a message may be 25 MB)
_STORE_BYTES = 32 * 1024 * 1024
#: a poll of one mailbox stops taking new batches after this long (the lock is held for at most _LOCK_SECONDS)
POLL_BUDGET_SECONDS = 240


def mailboxes_poll() -> dict[str, int]:
    stored = 0
    polled = 0
    for mailbox in Mailbox.objects.filter(is_active=True, source__in=[Mailbox.Source.IMAP, Mailbox.Source.FOLDER]):
        with _poll_lock(mailbox) as locked:
            if not locked:
                continue  # another process is polling this mailbox
            stored += mailbox_poll(mailbox)
            polled += 1
    return {"polled": polled, "stored": stored}


@contextmanager
def _poll_lock(mailbox: Mailbox) -> Iterator[bool]:
    """One poll of a mailbox at a time, across processes and machines.

    On PostgreSQL a session advisory lock: the server drops it the moment the holder's connection dies, so
    a worker killed mid-poll blocks nobody. Elsewhere (SQLite: one machine) a cache entry naming the holding
    process, which expires after ``_LOCK_SECONDS``; a poll that finds it held by a process that is gone (a
    killed worker) takes it over at once instead of leaving the mailbox unread for five minutes."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"helpdesk.mailbox-poll.{mailbox.pk}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            locked = bool(cursor.fetchone()[0])
        try:
            yield locked
        finally:
            if locked:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    with _process_lock(f"helpdesk:mailbox-poll:{mailbox.pk}") as locked:
        yield locked


@contextmanager
def _process_lock(name: str) -> Iterator[bool]:
    """A cache entry naming the holding process (``host:pid``), taken over when that process is gone."""
    me = f"{socket.gethostname()}:{os.getpid()}"
    locked = cache.add(name, me, timeout=_LOCK_SECONDS)
    if not locked and _holder_gone(cache.get(name)):
        cache.delete(name)
        locked = cache.add(name, me, timeout=_LOCK_SECONDS)
    try:
        yield locked
    finally:
        if locked:
            cache.delete(name)


def _holder_gone(holder: Any) -> bool:
    """Whether the process named by a poll lock (``host:pid``) is no longer running on this machine."""
    host, _, pid = str(holder or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's (or an old-style) lock: only its expiry frees it
    try:
        os.kill(int(pid), 0)  # signal 0: is it there?
    except ProcessLookupError:
        return True
    except PermissionError:  # there, under another user
        return False
    return False


def mailbox_poll(mailbox: Mailbox) -> int:
    """Fetch one mailbox now; records the error on the mailbox instead of raising."""
    try:
        count = _poll_folder(mailbox) if mailbox.source == Mailbox.Source.FOLDER else _poll_imap(mailbox)
    except Exception as exc:
        log.warning("polling %s failed: %s", mailbox, exc)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_polled_at=timezone.now(), last_poll_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return 0
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=timezone.now(), last_poll_error="")
    return count


# drop folder ---------------------------------------------------------------------------------------------


def _poll_folder(mailbox: Mailbox) -> int:
    folder = Path(mailbox.folder_path)
    if not folder.is_dir():
        raise FileNotFoundError(f"the drop folder {folder} does not exist")
    done = folder / "processed"
    done.mkdir(exist_ok=True)
    count = 0
    deadline = time.monotonic() + POLL_BUDGET_SECONDS
    while time.monotonic() < deadline and (batch := sorted(folder.glob("*.eml"))[:POLL_BATCH]):
        for chunk in _chunks(batch, lambda path: path.stat().st_size):
            raws = [(path, path.read_bytes()) for path in chunk]
            mail = [raw for _, raw in raws if raw.strip()]
            if mail:
                inbound_store_many(mailbox=mailbox, raws=mail, via=InboundEmail.Via.FOLDER)
                count += len(mail)
            for path, _ in raws:
                shutil.move(str(path), done / path.name)  # only once the rows are committed
    return count


def _chunks(items: list[Any], size_of: Callable[[Any], int]) -> Iterator[list[Any]]:
    """Runs of at most ``INBOUND_PROCESS_BATCH`` items and ``_STORE_BYTES`` bytes (at least one item)."""
    chunk: list[Any] = []
    total = 0
    for item in items:
        size = size_of(item)
        if chunk and (len(chunk) >= helpdesk_setting("INBOUND_PROCESS_BATCH") or total + size > _STORE_BYTES):
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += size
    if chunk:
        yield chunk


# IMAP ---------------------------------------------------------------------------------------------------


def _imap_client(mailbox: Mailbox) -> Any:
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted  # noqa: PLC0415

    security = mailbox.imap_security
    if security == Mailbox.ImapSecurity.SSL:
        return MailBox(mailbox.imap_host, mailbox.imap_port or 993, timeout=30)
    if security == Mailbox.ImapSecurity.STARTTLS:
        return MailBoxStartTls(mailbox.imap_host, mailbox.imap_port or 143, timeout=30)
    return MailBoxUnencrypted(mailbox.imap_host, mailbox.imap_port or 143, timeout=30)


def _login(mailbox: Mailbox) -> Any:
    return _imap_client(mailbox).login(mailbox.imap_user, mailbox.imap_password, initial_folder=mailbox.imap_folder)


def imap_test_connection(mailbox: Mailbox) -> str:
    """Log in and count the folder's messages: what the admin's "test connection" reports."""
    from imap_tools import A  # noqa: PLC0415

    with _login(mailbox) as box:
        total = len(box.uids(A(all=True)))
        unseen = len(box.uids(A(seen=False)))
    return (
        f"Connected to {mailbox.imap_host} as {mailbox.imap_user}: "
        f"{total} messages in {mailbox.imap_folder}, {unseen} unread."
    )


def _poll_imap(mailbox: Mailbox) -> int:
    from imap_tools import A  # noqa: PLC0415

    count = 0
    deadline = time.monotonic() + POLL_BUDGET_SECONDS
    with _login(mailbox) as box:
        while time.monotonic() < deadline and (uids := box.uids(A(seen=False))[:POLL_BATCH]):
            imported = _import_batch(box, mailbox, uids, deadline)
            count += imported
            if not imported:  # nothing of this batch could be fetched: do not spin on it until the deadline
                break
    return count


def _import_batch(box: Any, mailbox: Mailbox, uids: list[str], deadline: float) -> int:
    """Fetch, store and mark a listing's messages, one command a chunk (``_STORE_BYTES`` bounds the memory).

    The listing's sizes come first (one command), so that each chunk is cut before it is fetched; a message
    gone since the listing is not asked for, and one the server does not return stays unread for the next poll."""
    sizes = _fetch_sizes(box, uids)
    count = 0
    for chunk in _chunks([uid for uid in uids if uid in sizes], sizes.__getitem__):
        if time.monotonic() >= deadline:
            break
        raws = _fetch_raws(box, chunk)
        taken = [(uid, raws[uid]) for uid in chunk if raws.get(uid, b"").strip()]
        if taken:
            count += _import_chunk(box, mailbox, taken)
    return count


def _import_chunk(box: Any, mailbox: Mailbox, chunk: list[tuple[str, bytes]]) -> int:
    inbound_store_many(mailbox=mailbox, raws=[raw for _, raw in chunk], via=InboundEmail.Via.IMAP)
    # the rows are committed: now the server may forget the messages (one command for the chunk)
    taken = _uid_set(uid for uid, _ in chunk)
    if mailbox.after_import == Mailbox.AfterImport.MOVE and mailbox.move_to_folder:
        box.move(taken, mailbox.move_to_folder)
    elif mailbox.after_import == Mailbox.AfterImport.DELETE:
        box.delete(taken)
    else:
        _mark_seen(box, taken)
    return len(chunk)


def _mark_seen(box: Any, uid_set: str) -> None:
    """One silent ``STORE``: no response per message, and no ``EXPUNGE`` (imap_tools' ``flag`` sends one after
    it, which also expunged what another client had only marked deleted)."""
    from imap_tools.errors import MailboxFlagError  # noqa: PLC0415
    from imap_tools.utils import check_command_status  # noqa: PLC0415

    check_command_status(box.client.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Seen)"), MailboxFlagError)


# a UID FETCH response, as imaplib gives it: its text (literals left out) and the literal that follows BODY[]
_FETCH_UID = re.compile(rb"[( ]UID (\d+)", re.IGNORECASE)
_FETCH_SIZE = re.compile(rb"[( ]RFC822\.SIZE (\d+)", re.IGNORECASE)
_FETCH_BODY = re.compile(rb"[( ]BODY\[\](?:<0>)? ?\{\d+\}$", re.IGNORECASE)


def _uid_set(uids: Iterable[str]) -> str:
    """The UIDs as an IMAP set with contiguous runs as ranges (``3:102,105``), so that a command stays short
    (servers limit a command's line: Dovecot to 64 KB). A range holds only UIDs asked for."""
    runs: list[list[int]] = []
    for uid in sorted({int(uid) for uid in uids}):
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(str(first) if first == last else f"{first}:{last}" for first, last in runs)


def _uid_fetch(box: Any, uids: list[str], items: str) -> tuple[bool, list[tuple[str, bytes, bytes | None]]]:
    """One ``UID FETCH`` of these messages: whether it succeeded, and (UID, text, BODY[] literal) per response.

    Responses are paired with the UIDs they name, in whatever order the server sends them; another message's
    unsolicited one (a FLAGS update) is left out. A command answered NO (a message gone or unreadable) still
    gives the responses that came before the answer."""
    status, data = box.client.uid("FETCH", _uid_set(uids), items)
    if status != "OK":
        _, data = box.client.response("FETCH")  # imaplib keeps them back when the answer is NO
    wanted = set(uids)
    responses = []
    # imaplib gives a response as (text up to a literal, the literal) pairs, then the text after the last one
    text, body = b"", None
    for item in data or []:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes):
            text += item[0]
            if _FETCH_BODY.search(item[0]) and isinstance(item[1], bytes):
                body = item[1]
            continue
        if isinstance(item, bytes):
            text += item
            found = _FETCH_UID.search(text)
            if found and (uid := found.group(1).decode()) in wanted:
                responses.append((uid, text, body))
        text, body = b"", None
    return status == "OK", responses


def _fetch_sizes(box: Any, uids: list[str]) -> dict[str, int]:
    """The listed messages' sizes by UID (one command); a message gone since the listing has none."""
    _, responses = _uid_fetch(box, uids, "(UID RFC822.SIZE)")
    return {uid: int(size.group(1)) for uid, text, _ in responses if (size := _FETCH_SIZE.search(text))}


def _fetch_raws(box: Any, uids: list[str]) -> dict[str, bytes]:
    """The messages' bytes exactly as the server holds them, by UID, in one command (``BODY.PEEK``: not marked
    seen by fetching). When the server fails the command, each message it did not return is asked for alone,
    so that one unreadable message does not hold back the rest of its chunk; one never returned is left out."""
    ok, responses = _uid_fetch(box, uids, "(UID BODY.PEEK[])")
    raws = {uid: body for uid, _, body in responses if body is not None}
    if not ok and len(uids) > 1:
        for uid in uids:
            if uid not in raws:
                raws.update(_fetch_raws(box, [uid]))
    return raws
