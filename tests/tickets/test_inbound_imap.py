"""IMAP polling against a real Dovecot: stored before it is flagged, moved or deleted; never twice."""

import imaplib
import time
from types import SimpleNamespace

import pytest

from tests.imap import ImapServer, available
from tests.tickets.factories import QueueFactory
from tests.tickets.test_inbound import mail
from tickets.inbound import sources
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.inbound.sources import imap_test_connection, mailbox_poll
from tickets.models import Ticket

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not available(), reason="Dovecot is not installed (apt-get install dovecot-imapd)"),
]


@pytest.fixture
def imap():
    with ImapServer() as server:
        yield server


def _mailbox(imap, **fields):
    return Mailbox.objects.create(
        address="support@helpdesk.localhost", queue=QueueFactory(), source=Mailbox.Source.IMAP,
        imap_host="127.0.0.1", imap_port=imap.port, imap_security=Mailbox.ImapSecurity.NONE,
        imap_user=imap.user, imap_password=imap.password, **fields,
    )  # fmt: skip


def test_unread_mail_is_stored_then_marked_seen_and_a_second_poll_takes_nothing(
    imap, django_capture_on_commit_callbacks
):
    imap.append(mail(subject="First", message_id="<imap-1@math.example>").as_bytes())
    imap.append(mail(subject="Second", message_id="<imap-2@math.example>").as_bytes())
    mailbox = _mailbox(imap)
    with django_capture_on_commit_callbacks(execute=True):
        assert mailbox_poll(mailbox) == 2
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["First", "Second"]
    assert imap.count(criteria="UNSEEN") == 0
    assert imap.count() == 2  # marked seen, not removed
    raw = bytes(InboundEmail.objects.get(message_id="imap-1@math.example").raw)
    assert b"Subject: First" in raw  # the server's bytes, as they were
    assert mailbox_poll(mailbox) == 0
    mailbox.refresh_from_db()
    assert (mailbox.last_poll_error, mailbox.last_polled_at is not None) == ("", True)


def test_a_message_seen_again_after_a_crash_is_stored_once(imap, django_capture_on_commit_callbacks):
    """A poll that stored a message but died before flagging it: the next poll finds it unread again."""
    raw = mail(subject="Once", message_id="<imap-once@math.example>").as_bytes()
    imap.append(raw)
    mailbox = _mailbox(imap)
    with django_capture_on_commit_callbacks(execute=True):
        mailbox_poll(mailbox)
    imap.append(raw)  # the same message, unread, as if the flag had never been set
    with django_capture_on_commit_callbacks(execute=True):
        mailbox_poll(mailbox)
    assert InboundEmail.objects.count() == 1
    assert Ticket.objects.count() == 1


def test_imported_mail_can_be_moved_or_deleted(imap):
    imap.append(mail(message_id="<imap-move@math.example>").as_bytes())
    mailbox = _mailbox(imap, after_import=Mailbox.AfterImport.MOVE, move_to_folder="Imported")
    assert mailbox_poll(mailbox) == 1
    assert (imap.count(), imap.count("Imported")) == (0, 1)
    imap.append(mail(message_id="<imap-delete@math.example>").as_bytes())
    mailbox.after_import = Mailbox.AfterImport.DELETE
    mailbox.save()
    assert mailbox_poll(mailbox) == 1
    assert imap.count() == 0


def test_test_connection_reports_the_count_or_the_exact_error(imap):
    imap.append(mail().as_bytes())
    mailbox = _mailbox(imap)
    assert imap_test_connection(mailbox) == (f"Connected to 127.0.0.1 as {imap.user}: 1 messages in INBOX, 1 unread.")
    mailbox.imap_password = "wrong"
    with pytest.raises(Exception, match=r"(?i)auth"):
        imap_test_connection(mailbox)
    assert mailbox_poll(mailbox) == 0
    mailbox.refresh_from_db()
    assert "auth" in mailbox.last_poll_error.lower()


# --- a chunk a command ---------------------------------------------------------------------------------


@pytest.fixture
def commands(monkeypatch):
    """The IMAP commands sent (``UID FETCH`` as "UID FETCH" with its arguments), from any client of the test."""
    sent = []
    simple_command = imaplib.IMAP4._simple_command

    def recording(client, name, *args):
        sent.append((name, *(a.decode() if isinstance(a, bytes) else a for a in args)))
        return simple_command(client, name, *args)

    monkeypatch.setattr(imaplib.IMAP4, "_simple_command", recording)
    return sent


def _append_all(imap, raws):
    client = imap.client()
    try:
        for raw in raws:
            client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
    finally:
        client.logout()


def _on_the_server(raw):
    return raw.replace(b"\n", b"\r\n")  # what an APPEND stores (imaplib sends CRLF lines)


def _body_fetches(commands):
    """The UID sets of the poll's BODY.PEEK[] fetches, each as a list of UIDs."""
    sets = [c[2] for c in commands if c[:2] == ("UID", "FETCH") and "BODY.PEEK[]" in c[3]]
    return [[uid for part in s.split(",") for uid in _expand(part)] for s in sets]


def _expand(part):
    first, _, last = part.partition(":")
    return [str(n) for n in range(int(first), int(last or first) + 1)]


def test_many_messages_in_one_poll_arrive_once_each_with_the_exact_bytes_in_a_command_a_chunk(
    imap, commands, django_capture_on_commit_callbacks
):
    raws = [
        mail(subject=f"Many {n}", message_id=f"<many-{n}@math.example>", body=f"Line {n}  \n\ttabbed\n").as_bytes()
        for n in range(250)
    ]
    _append_all(imap, raws)
    mailbox = _mailbox(imap)
    commands.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert mailbox_poll(mailbox) == 250
    stored = {e.message_id: bytes(e.raw) for e in InboundEmail.objects.all()}
    assert stored == {f"many-{n}@math.example": _on_the_server(raw) for n, raw in enumerate(raws)}
    assert Ticket.objects.count() == 250
    assert imap.count(criteria="UNSEEN") == 0
    # the listing, its sizes, and a fetch and a flag per chunk of 100: not a command per message
    fetches = _body_fetches(commands)
    assert [len(uids) for uids in fetches] == [100, 100, 50]
    assert sorted(int(uid) for uids in fetches for uid in uids) == list(range(1, 251))
    uid_commands = [c[1] for c in commands if c[0] == "UID"]
    assert uid_commands == ["SEARCH", "FETCH", "FETCH", "STORE", "FETCH", "STORE", "FETCH", "STORE", "SEARCH"]
    assert max(len(" ".join(c)) for c in commands) < 100  # ranges (1:100), not a hundred UIDs a command
    assert mailbox_poll(mailbox) == 0


def test_a_chunk_holds_at_most_store_bytes_and_a_larger_message_is_fetched_alone(
    imap, commands, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(sources, "_STORE_BYTES", 4000)
    raws = [
        mail(subject=f"Sized {n}", message_id=f"<sized-{n}@math.example>", body="x" * 800).as_bytes() for n in range(7)
    ]
    raws.insert(3, mail(subject="Large", message_id="<large@math.example>", body="y\n" * 5000).as_bytes())
    _append_all(imap, raws)  # UIDs 1 to 8; the large one is 4
    sizes = {str(uid): len(_on_the_server(raw)) for uid, raw in enumerate(raws, start=1)}
    assert sizes["4"] > 4000
    assert all(size < 4000 / 2 for uid, size in sizes.items() if uid != "4")
    mailbox = _mailbox(imap)
    commands.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert mailbox_poll(mailbox) == 8
    fetches = _body_fetches(commands)
    assert ["4"] in fetches
    assert all(sum(sizes[uid] for uid in uids) <= 4000 for uids in fetches if uids != ["4"])
    assert sorted(uid for uids in fetches for uid in uids) == sorted(sizes)
    assert bytes(InboundEmail.objects.get(message_id="large@math.example").raw) == _on_the_server(raws[3])
    assert InboundEmail.objects.count() == 8
    assert imap.count(criteria="UNSEEN") == 0


def test_a_message_gone_between_the_listing_and_its_fetch_is_skipped_and_the_rest_are_taken(imap, monkeypatch):
    _append_all(imap, [mail(message_id=f"<gone-{n}@math.example>").as_bytes() for n in range(5)])
    fetch_sizes = sources._fetch_sizes

    def another_client_deletes_uid_2(box, uids):
        sizes = fetch_sizes(box, uids)
        client = imap.client()
        client.select("INBOX")
        client.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
        client.expunge()
        client.logout()
        return sizes

    monkeypatch.setattr(sources, "_fetch_sizes", another_client_deletes_uid_2)
    assert mailbox_poll(_mailbox(imap)) == 4
    assert sorted(InboundEmail.objects.values_list("message_id", flat=True)) == [
        f"gone-{n}@math.example" for n in (0, 2, 3, 4)
    ]
    assert (imap.count(), imap.count(criteria="UNSEEN")) == (4, 0)


def test_a_chunk_is_moved_or_deleted_with_one_command_of_uid_ranges(imap, commands):
    _append_all(imap, [mail(message_id=f"<range-{n}@math.example>").as_bytes() for n in range(5)])
    mailbox = _mailbox(imap, after_import=Mailbox.AfterImport.MOVE, move_to_folder="Imported")
    commands.clear()
    assert mailbox_poll(mailbox) == 5
    assert (imap.count(), imap.count("Imported")) == (0, 5)
    # the sizes, the bodies, then the move (a copy and a delete: Dovecot's greeting does not offer MOVE)
    uid_commands = [c[1:3] for c in commands if c[0] == "UID" and c[1] != "SEARCH"]
    assert uid_commands == [("FETCH", "1:5"), ("FETCH", "1:5"), ("COPY", "1:5"), ("STORE", "1:5")]
    _append_all(imap, [mail(message_id=f"<range-{n}@math.example>").as_bytes() for n in range(5, 8)])
    mailbox.after_import = Mailbox.AfterImport.DELETE
    mailbox.save()
    commands.clear()
    assert mailbox_poll(mailbox) == 3
    assert imap.count() == 0
    uid_commands = [c[1:3] for c in commands if c[0] == "UID" and c[1] != "SEARCH"]
    assert uid_commands == [("FETCH", "6:8"), ("FETCH", "6:8"), ("STORE", "6:8")]
    assert InboundEmail.objects.count() == 8


class _ScriptedClient:
    """An IMAP client that answers each UID FETCH with the next scripted (status, data), as imaplib gives it."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked = []
        self.held_back = None

    def uid(self, command, uid_set, items):
        self.asked.append(uid_set)
        status, data = self.answers.pop(0)
        if status == "NO":  # imaplib keeps the responses for .response() and gives the tagged text
            self.held_back = data
            return status, [b"Some messages could not be read"]
        return status, data

    def response(self, code):
        data, self.held_back = self.held_back, None
        return code, data or [None]


def test_each_literal_is_paired_with_its_own_uid_whatever_the_order_and_unsolicited_lines():
    client = _ScriptedClient(
        (
            "OK",
            [
                b"9 (FLAGS (\\Seen))",  # another message's unsolicited update
                (b"3 (UID 12 BODY[] {7}", b"twelve\n"),
                b" FLAGS (\\Recent))",
                (b"1 (BODY[] {4}", b"ten\n"),
                b" UID 10)",  # the UID after the literal
                b"2 (UID 11 FLAGS ())",  # a FLAGS update of a message asked for, without its body
                (b"7 (UID 99 BODY[] {5}", b"nine\n"),  # one not asked for
                b")",
            ],
        )
    )
    raws = sources._fetch_raws(SimpleNamespace(client=client), ["10", "11", "12"])
    assert raws == {"10": b"ten\n", "12": b"twelve\n"}  # 11 not returned: left for the next poll
    assert client.asked == ["10:12"]


def test_a_failed_chunk_fetch_asks_for_each_message_it_did_not_return_alone():
    client = _ScriptedClient(
        ("NO", [(b"1 (UID 10 BODY[] {4}", b"ten\n"), b")"]),  # stopped at 11, unreadable
        ("NO", [None]),
        ("OK", [(b"3 (UID 12 BODY[] {7}", b"twelve\n"), b")"]),
    )
    raws = sources._fetch_raws(SimpleNamespace(client=client), ["10", "11", "12"])
    assert raws == {"10": b"ten\n", "12": b"twelve\n"}
    assert client.asked == ["10:12", "11", "12"]


def test_a_uid_set_writes_contiguous_runs_as_ranges():
    assert sources._uid_set(["7", "3", "4", "5", "9", "10", "12"]) == "3:5,7,9:10,12"
    assert sources._uid_set(str(n) for n in range(1, 501)) == "1:500"
