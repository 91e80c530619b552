"""Inline images (cid:) of an e-mail are attachments shown in the message, to those who may see it only."""

import re
from email.message import EmailMessage
from urllib.parse import urljoin

import pytest
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from tests.factories import AgentFactory, CustomerUserFactory, UserFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory
from tickets.inbound.models import Mailbox
from tickets.inbound.parsing import email_parse
from tickets.inbound.services import inbound_store
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

SUPPORT = "support@helpdesk.localhost"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
HTML_PAGE = b"<html><script>alert(1)</script></html>"


def inline_mail(*, image=PNG, html=None, sender="Ada Lovelace <ada@math.example>", to=SUPPORT,
                message_id="<inline-1@math.example>", headers=None):  # fmt: skip
    """An Outlook-style message: plain and HTML alternatives, the screenshot related to the HTML."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Export button"
    message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content("The export button is grey:\n\n[cid:image001.png@01DB4F2A.5C3E8B90]\n\nAda")
    message.add_alternative(
        html
        or '<html><body><p>The export button is grey:</p><p><img src="cid:image001.png@01DB4F2A.5C3E8B90" '
        'alt="button [grey]" width="300"></p><p>Ada</p></body></html>',
        subtype="html",
    )
    message.get_payload()[1].add_related(image, "image", "png", cid="<image001.png@01DB4F2A.5C3E8B90>",
                                         filename="image001.png", disposition="inline")  # fmt: skip
    return message.as_bytes()


@pytest.fixture
def mailbox():
    return Mailbox.objects.create(address=SUPPORT, queue=QueueFactory(slug="support"))


@pytest.fixture
def receive(mailbox, django_capture_on_commit_callbacks):
    def go(raw):
        with django_capture_on_commit_callbacks(execute=True):
            inbound_store(mailbox=mailbox, raw=raw, via="api")
        return Ticket.objects.get()

    return go


def test_the_parser_puts_an_inline_image_where_the_html_shows_it():
    parsed = email_parse(inline_mail())
    assert parsed.text == (
        "The export button is grey:\n\n![button grey](cid:image001.png@01DB4F2A.5C3E8B90)\n\nAda"
    )  # from the HTML: the plain part has only Outlook's placeholder
    assert [(a.filename, a.content_id, a.inline) for a in parsed.attachments] == [
        ("image001.png", "image001.png@01DB4F2A.5C3E8B90", True)
    ]


def test_a_remote_image_is_not_put_in_the_text():
    pixel = '<img src="https://tracker.example/pixel.gif">'
    parsed = email_parse(inline_mail(html=f'<p>Hi {pixel} <img src="cid:image001.png@01DB4F2A.5C3E8B90"></p>'))
    assert parsed.text == "Hi ![image](cid:image001.png@01DB4F2A.5C3E8B90)"


def test_an_inline_image_is_shown_to_the_agent_and_a_stranger_gets_404(receive, mailbox):
    ticket = receive(inline_mail())
    message = ticket.messages.get()
    attachment = Attachment.objects.get(message=message)
    assert (attachment.filename, attachment.content_type) == ("image001.png", "image/png")
    assert message.body == f"The export button is grey:\n\n![button grey](attachments/{attachment.pk}/)\n\nAda"

    agent = AgentFactory()
    QueueMembershipFactory(queue=mailbox.queue, agent=agent)
    agent_client = Client()
    agent_client.force_login(agent)
    page_url = f"/agent/tickets/{ticket.pk}/"
    page = agent_client.get(page_url)
    assert page.status_code == 200
    sources = re.findall(r'<img src="([^"]+)" alt="button grey">', page.content.decode())
    assert sources == [f"attachments/{attachment.pk}/"]
    image_url = urljoin("http://testserver" + page_url, sources[0])
    assert image_url == f"http://testserver/agent/tickets/{ticket.pk}/attachments/{attachment.pk}/"
    image = agent_client.get(image_url)
    assert image.status_code == 200
    assert b"".join(image.streaming_content) == PNG
    assert image["Content-Type"] == "image/png"
    assert "img-src 'self'" in page["Content-Security-Policy"]  # the page may load it

    # an agent outside the ticket's queue, a customer at the agent's URL, another customer at their own: 404
    outsider = Client()
    outsider.force_login(AgentFactory())
    assert outsider.get(image_url).status_code == 404
    stranger = Client()
    stranger.force_login(CustomerUserFactory())
    assert stranger.get(image_url).status_code == 404
    assert stranger.get(f"/help/requests/{ticket.pk}/attachments/{attachment.pk}/").status_code == 404


def test_the_requester_sees_the_image_on_their_help_page(receive):
    ticket = receive(inline_mail())
    user = UserFactory(email="ada@math.example", email_verified_at=timezone.now())
    Customer.objects.filter(email="ada@math.example").update(user=user)
    requester = Client()
    requester.force_login(user)
    page_url = f"/help/requests/{ticket.pk}/"
    page = requester.get(page_url)
    assert page.status_code == 200, page.content
    (source,) = re.findall(r'<img src="([^"]+)"', page.content.decode())
    image = requester.get(urljoin(page_url, source))
    assert image.status_code == 200
    assert b"".join(image.streaming_content) == PNG


def test_an_inline_image_that_fails_the_upload_rules_is_not_kept_and_shows_its_name(receive):
    ticket = receive(inline_mail(image=HTML_PAGE))  # an HTML page behind a PNG's name and type
    message = ticket.messages.get()
    assert not Attachment.objects.exists()
    assert message.body.startswith("The export button is grey:\n\n[button grey]\n\nAda")
    assert "Attachments not kept: image001.png" in message.body
    assert "<img" not in message.body_html


def test_the_requesters_signed_link_shows_the_image_without_an_account(receive):
    from tickets.services.requests import request_link

    ticket = receive(inline_mail())
    attachment = Attachment.objects.get()
    anonymous = Client()
    page_url = request_link(ticket=ticket)
    page = anonymous.get(page_url)
    assert page.status_code == 200
    (source,) = re.findall(r'<img src="([^"]+)"', page.content.decode())
    assert urljoin(page_url, source) == f"{page_url}attachments/{attachment.pk}/"
    image = anonymous.get(urljoin(page_url, source))
    assert image.status_code == 200
    assert b"".join(image.streaming_content) == PNG


def test_the_image_follows_its_message_into_the_ticket_it_is_merged_into(receive, mailbox):
    from tests.tickets.factories import make_ticket
    from tickets.services import ticket_merge

    source = receive(inline_mail())
    target = make_ticket(queue=mailbox.queue, requester=source.requester, subject="Older")
    agent = AgentFactory()
    QueueMembershipFactory(queue=mailbox.queue, agent=agent)
    ticket_merge(source=source, target=target, actor=agent)
    client = Client()
    client.force_login(agent)
    page_url = f"/agent/tickets/{target.pk}/"
    (image_source,) = re.findall(r'<img src="([^"]+)" alt="button grey">', client.get(page_url).content.decode())
    assert client.get(urljoin("http://testserver" + page_url, image_source)).status_code == 200


def test_an_agents_public_e_mail_reply_goes_on_to_the_customer_without_image_references(receive, mailbox):
    from customers.models import Delivery
    from tickets.inbound.addresses import reply_address

    ticket = receive(inline_mail())
    agent = AgentFactory(email="alex@support.example")
    QueueMembershipFactory(queue=mailbox.queue, agent=agent)
    # Alex answers from Outlook: the signature's logo is an inline image; the receiving server vouches for him
    raw = inline_mail(
        sender="Alex <alex@support.example>",
        to=reply_address(mailbox_address=SUPPORT, ticket_id=ticket.pk),
        message_id="<agent-1@support.example>",
        headers={"Authentication-Results": "mx.example; dkim=pass header.d=support.example"},
    )
    assert receive(raw) == ticket

    message = ticket.messages.order_by("id").last()
    assert (message.author_user, message.is_internal) == (agent, False)
    assert message.body == "The export button is grey:\n\nAda"  # the image is not referenced
    assert list(message.attachments.values_list("filename", flat=True)) == ["image001.png"]
    sent = Delivery.objects.get(idempotency_key=f"ticket:{ticket.pk}:message:{message.pk}")
    assert "cid:" not in sent.body
    assert "attachments/" not in sent.body
    assert "<img" not in sent.html_body
