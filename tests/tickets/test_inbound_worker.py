"""A real worker polling a real IMAP server is killed mid-poll: nothing is lost, nothing is processed twice."""

import pytest

from tests.imap import ImapServer, available
from tests.tickets.factories import QueueFactory
from tests.tickets.test_inbound import mail
from tests.worker import WorkerProcess, publishing_to_broker, wait_for
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.models import Ticket
from tickets.tasks import poll_mailboxes

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not available(), reason="Dovecot is not installed (apt-get install dovecot-imapd)"),
]
MESSAGES = 300
# a poll stores a chunk of this many messages a transaction: small, so that the kill lands mid-poll
# (with the default 100, a quiet machine stored all 300 before the test looked)
WORKER_ENV = {"HELPDESK_INBOUND_PROCESS_BATCH": "5"}


def test_a_worker_killed_mid_poll_loses_and_duplicates_nothing(tmp_path):
    with ImapServer() as imap, publishing_to_broker(tmp_path):
        for n in range(MESSAGES):
            imap.append(mail(message_id=f"<kill-{n}@math.example>", subject=f"Kill {n}").as_bytes())
        Mailbox.objects.create(
            address="support@helpdesk.localhost", queue=QueueFactory(), source=Mailbox.Source.IMAP,
            imap_host="127.0.0.1", imap_port=imap.port, imap_security=Mailbox.ImapSecurity.NONE,
            imap_user=imap.user, imap_password=imap.password,
        )  # fmt: skip
        email_url = f"filemail://{tmp_path / 'mail'}"
        worker = WorkerProcess(var_dir=tmp_path, email_url=email_url, extra_env=WORKER_ENV).start()
        try:
            poll_mailboxes.apply_async(queue="default")
            wait_for(lambda: InboundEmail.objects.count() >= 30, timeout=120, worker=worker)
            worker.kill()  # mid-poll: some messages stored, the rest still unread on the server
            stored_at_kill = InboundEmail.objects.count()
            assert stored_at_kill < MESSAGES
            worker = WorkerProcess(var_dir=tmp_path, email_url=email_url, extra_env=WORKER_ENV).start()

            def all_in():
                poll_mailboxes.apply_async(queue="default")  # what beat does every minute
                return InboundEmail.objects.filter(state="processed").count() == MESSAGES

            wait_for(all_in, timeout=240, interval=3, worker=worker)
        finally:
            worker.stop()
        assert imap.count(criteria="UNSEEN") == 0
    assert InboundEmail.objects.count() == MESSAGES
    assert Ticket.objects.count() == MESSAGES  # one ticket per message: none lost, none twice
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == sorted(f"Kill {n}" for n in range(MESSAGES))
