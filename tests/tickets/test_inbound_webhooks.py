"""E-mail services' inbound webhooks, posted as the services post them, through anymail's views to the ticket."""

import base64
import hashlib
import hmac
import json
import time
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.test import Client

from tests.tickets.factories import QueueFactory
from tickets.inbound.addresses import reply_address
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SUPPORT = "help@webhook.example"
SIGNING_KEY = "key-0123456789abcdef0123456789abcdef"
POSTMARK = "/inbound/anymail/postmark/inbound/"
BASIC = "Basic " + base64.b64encode(b"anymail:s3cret-hook").decode()


@pytest.fixture(autouse=True)
def _anymail(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["anymail:s3cret-hook"], "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


@pytest.fixture
def mailbox():
    return Mailbox.objects.create(address=SUPPORT, queue=QueueFactory(slug="web"), source=Mailbox.Source.WEBHOOK)


def raw_mail(*, to=SUPPORT, subject="Invoice is wrong", body="The invoice total is wrong.", message_id=None):
    message = EmailMessage()
    message["From"] = "Grace Hopper <grace@navy.example>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="navy.example")
    message.set_content(body)
    return message.as_string()


def mailgun_form(raw, *, recipient=SUPPORT, key=SIGNING_KEY):
    """Mailgun's forward() to a URL with "mime" in it: the raw message as ``body-mime``, signed."""
    timestamp, token = str(int(time.time())), "a3f1c2d4e5b6a7980f1e2d3c4b5a69788796a5b4c3d2e1f0a9"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "recipient": recipient, "sender": "grace@navy.example", "from": "Grace Hopper <grace@navy.example>",
        "subject": "Invoice is wrong", "body-mime": raw, "timestamp": timestamp, "token": token,
        "signature": signature,
    }  # fmt: skip


def post_mailgun(client, form, **extra):
    return client.post("/inbound/anymail/mailgun/inbound_mime/", form, HTTP_AUTHORIZATION=BASIC, **extra)


def test_a_signed_mailgun_post_stores_the_raw_message_and_opens_a_ticket(
    client: Client, mailbox, django_capture_on_commit_callbacks
):
    raw = raw_mail()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_mailgun(client, mailgun_form(raw))
    assert response.status_code == 200
    inbound = InboundEmail.objects.get()
    assert (inbound.mailbox, inbound.via, inbound.sender) == (mailbox, "webhook", "grace@navy.example")
    assert bytes(inbound.raw) == raw.encode()  # the bytes Mailgun posted, not a re-serialization
    assert inbound.state == "processed"
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.requester.email, ticket.queue) == ("Invoice is wrong", "grace@navy.example",
                                                                       mailbox.queue)  # fmt: skip
    assert ticket.messages.get().body == "The invoice total is wrong."


def test_a_mailgun_post_with_a_wrong_signature_is_refused_and_stores_nothing(client: Client, mailbox):
    response = post_mailgun(client, mailgun_form(raw_mail(), key="key-somebody-else"))
    assert response.status_code == 400
    assert not InboundEmail.objects.exists()
    assert not Ticket.objects.exists()


def test_a_mailgun_post_without_the_basic_auth_is_refused(client: Client, mailbox):
    response = client.post("/inbound/anymail/mailgun/inbound_mime/", mailgun_form(raw_mail()))
    assert response.status_code == 400
    assert not InboundEmail.objects.exists()


def test_the_same_message_posted_twice_is_stored_once(client: Client, mailbox, django_capture_on_commit_callbacks):
    raw = raw_mail(message_id="<retry-1@navy.example>")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_mailgun(client, mailgun_form(raw))
        # a retry after a lost 200 comes through a relay that added a Received line: the same message
        second = post_mailgun(client, mailgun_form("Received: from relay.example\r\n" + raw))
    assert (first.status_code, second.status_code) == (200, 200)
    assert InboundEmail.objects.count() == 1
    assert Ticket.objects.count() == 1


def test_the_message_goes_to_the_mailbox_of_its_recipient_and_a_reply_address_is_its_mailboxs(
    client: Client, mailbox, django_capture_on_commit_callbacks
):
    other = Mailbox.objects.create(address="sales@webhook.example", queue=QueueFactory(slug="sales"),
                                   source=Mailbox.Source.WEBHOOK)  # fmt: skip
    tagged = reply_address(mailbox_address=other.address, ticket_id=4242)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_mailgun(client, mailgun_form(raw_mail(to=tagged), recipient=tagged)).status_code == 200
    assert InboundEmail.objects.get().mailbox == other


def test_a_message_for_no_webhook_mailbox_is_a_503_so_the_service_retries(client: Client, mailbox):
    Mailbox.objects.create(address="imap@webhook.example", queue=mailbox.queue, source=Mailbox.Source.IMAP)
    for address in ("nobody@webhook.example", "imap@webhook.example"):
        response = post_mailgun(client, mailgun_form(raw_mail(to=address), recipient=address))
        assert response.status_code == 503
        assert response.json() == {"message": "The message is for no mailbox here.", "extra": {}}
    assert not InboundEmail.objects.exists()


def test_without_a_webhook_secret_the_webhooks_are_404_and_store_nothing(client: Client, mailbox, settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}  # signed, but no basic auth configured
    response = client.post("/inbound/anymail/mailgun/inbound_mime/", mailgun_form(raw_mail()))
    assert response.status_code == 404
    postmark = client.post(POSTMARK, json.dumps(postmark_payload(raw_mail())), content_type="application/json")
    assert postmark.status_code == 404
    assert not InboundEmail.objects.exists()


def test_a_service_whose_key_is_not_set_is_404(client: Client, mailbox, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["anymail:s3cret-hook"]}  # no Mailgun signing key: it cannot be checked
    response = post_mailgun(client, mailgun_form(raw_mail()))
    assert response.status_code == 404
    assert not InboundEmail.objects.exists()


def postmark_payload(raw):
    """Postmark's inbound JSON with "Include raw email content" on (RawEmail)."""
    return {
        "FromName": "Grace Hopper", "From": "grace@navy.example", "FromFull": {"Email": "grace@navy.example"},
        "To": SUPPORT, "ToFull": [{"Email": SUPPORT, "Name": ""}], "OriginalRecipient": SUPPORT,
        "Subject": "Invoice is wrong", "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Thu, 3 Dec 2026 11:00:00 +0000", "TextBody": "The invoice total is wrong.", "HtmlBody": "",
        "StrippedTextReply": "", "Tag": "", "Headers": [{"Name": "Return-Path", "Value": "<grace@navy.example>"}],
        "Attachments": [], "RawEmail": raw,
    }  # fmt: skip


def test_a_postmark_post_with_the_raw_email_is_stored_once(client: Client, mailbox, django_capture_on_commit_callbacks):
    raw = raw_mail(message_id="<pm-1@navy.example>")
    body = json.dumps(postmark_payload(raw))
    with django_capture_on_commit_callbacks(execute=True):
        responses = [
            client.post(POSTMARK, body, content_type="application/json", HTTP_AUTHORIZATION=BASIC) for _ in range(2)
        ]
    assert [r.status_code for r in responses] == [200, 200]
    inbound = InboundEmail.objects.get()
    assert (bytes(inbound.raw), inbound.message_id, inbound.via) == (raw.encode(), "pm-1@navy.example", "webhook")
    assert Ticket.objects.get().subject == "Invoice is wrong"


def test_a_postmark_post_with_a_wrong_password_is_refused(client: Client, mailbox):
    wrong = "Basic " + base64.b64encode(b"anymail:guess").decode()
    response = client.post(POSTMARK, json.dumps(postmark_payload(raw_mail())),
                           content_type="application/json", HTTP_AUTHORIZATION=wrong)  # fmt: skip
    assert response.status_code == 400
    assert not InboundEmail.objects.exists()


# --- large messages: the mail endpoints' own limit, not Django's 2.5 MB form limit ---------------------------


def test_a_mailgun_message_over_djangos_form_limit_is_stored_whole(
    client: Client, mailbox, settings, django_capture_on_commit_callbacks
):
    raw = raw_mail(body="A long log line of the failing export, repeated.\n" * 80_000)  # about 4 MB
    assert len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    with django_capture_on_commit_callbacks(execute=True):
        response = post_mailgun(client, mailgun_form(raw))
    assert response.status_code == 200, response.content
    assert bytes(InboundEmail.objects.get().raw) == raw.encode()


def test_a_postmark_message_over_djangos_form_limit_is_stored_whole(
    client: Client, mailbox, settings, django_capture_on_commit_callbacks
):
    raw = raw_mail(body="A long log line of the failing export, repeated.\n" * 80_000)
    body = json.dumps(postmark_payload(raw))
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(POSTMARK, body, content_type="application/json", HTTP_AUTHORIZATION=BASIC)
    assert response.status_code == 200, response.content
    assert bytes(InboundEmail.objects.get().raw) == raw.encode()


def test_a_webhook_post_over_the_limit_is_a_413_and_stores_nothing(client: Client, mailbox, settings):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_BYTES": 1024 * 1024}  # posts up to 3 MB (1.5 MB x 2)
    line = "A long log line of the failing export, repeated.\n"
    assert post_mailgun(client, mailgun_form(raw_mail(body=line * 50_000))).status_code == 200  # 2.5 MB
    response = post_mailgun(client, mailgun_form(raw_mail(body=line * 70_000, message_id="<big@navy.example>")))
    assert response.status_code == 413  # 3.5 MB
    assert response.json() == {"message": "The message is larger than 3.0 MB, the most this endpoint takes.",
                               "extra": {}}  # fmt: skip
    assert InboundEmail.objects.get().message_id != "big@navy.example"


def test_the_form_parser_behind_the_limit_gives_fields_and_files_as_djangos_would():
    """The form parser behind the size limit gives anymail files as Django's would (Mailgun's parsed mode)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    from tickets.inbound.bodies import _multipart

    upload = SimpleUploadedFile("report.pdf", b"%PDF-1.4 the report", "application/pdf")
    body = encode_multipart(BOUNDARY, {"subject": "Réglage", "attachment-1": upload})
    post, files = _multipart(MULTIPART_CONTENT, body)
    assert post["subject"] == "Réglage"
    assert (files["attachment-1"].name, files["attachment-1"].read()) == ("report.pdf", b"%PDF-1.4 the report")
