"""Take one e-mail from standard input, as an MTA pipe delivers it (Postfix ``pipe``, an Exim transport).

    manage.py mail_inbound < message.eml
    manage.py mail_inbound --mailbox sales@example.com < message.eml

The message is stored raw (and committed) before the command exits, then a worker routes it. The exit
status is 0 whenever the message was stored, however broken its MIME (a parse failure is the worker's
to record and retry, never a reason for the MTA to bounce or retry), and also when it was stored
before; it is non-zero only when nothing was stored: empty input, or no such mailbox (75, EX_TEMPFAIL,
so that an MTA keeps the message and tries again once the mailbox exists).
"""

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.inbound.models import InboundEmail
from tickets.inbound.selectors import mailbox_default, mailbox_for_address
from tickets.inbound.services import inbound_store

EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Store one e-mail read from standard input for a mailbox (an MTA pipe)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mailbox", help="The support address it was sent to (default: the From address's).")

    def handle(self, *args: object, **options: object) -> None:
        address = options.get("mailbox")
        mailbox = mailbox_for_address(address=str(address)) if address else mailbox_default()
        if mailbox is None:
            raise CommandError(
                f"No active mailbox {address}." if address else "No default mailbox: name one with --mailbox.",
                returncode=EX_TEMPFAIL,
            )
        raw = sys.stdin.buffer.read()
        if not raw.strip():
            raise CommandError("Nothing on standard input: no message was stored.", returncode=EX_TEMPFAIL)
        inbound, created = inbound_store(mailbox=mailbox, raw=raw, via=InboundEmail.Via.PIPE)
        what = "stored" if created else "already stored"
        self.stdout.write(f"{what}: message {inbound.pk} for {mailbox.address} ({inbound.size} bytes)")
