"""IMAP polling against a real Dovecot: stored before it is flagged, moved or deleted; never twice."""

import pytest

from tests.imap import ImapServer, available
from tests.tickets.factories import QueueFactory
from tests.tickets.test_inbound import mail
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
