"""Raw mail as clients and servers really write it: every message gives a ParsedEmail, none raises."""

import datetime as dt
from email.message import EmailMessage

import pytest

from tickets.inbound.parsing import Address, email_parse


def _raw(headers: str, body: bytes = b"Hello\r\n") -> bytes:
    return headers.strip().replace("\n", "\r\n").encode("ascii") + b"\r\n\r\n" + body


def test_threading_people_subject_and_date():
    parsed = email_parse(
        _raw("""
From: =?utf-8?q?Ada_Lovel=C3=A1ce?= <ADA@Math.example>
To: Support <support@example.com>, "Bob, B." <bob@example.com>
Cc: carol@example.com
Reply-To: ada.private@example.com
Subject: =?iso-8859-1?q?Re=3A_=5B=231042=5D_R=E9sum=E9?=
  still broken
Message-ID: <abc.123@mail.math.example>
In-Reply-To: <ticket-1042-7@help.example.com>
References: <ticket-1042-1@help.example.com> <ticket-1042-7@help.example.com>
Date: Tue, 01 Dec 2026 10:00:00 +0100
""")
    )
    assert parsed.sender == Address("ada@math.example", "Ada Lovel\u00e1ce")
    assert parsed.to == [Address("support@example.com", "Support"), Address("bob@example.com", "Bob, B.")]
    assert parsed.cc == [Address("carol@example.com")]
    assert parsed.reply_to == [Address("ada.private@example.com")]
    assert parsed.subject == "Re: [#1042] Résumé still broken"
    assert parsed.message_id == "abc.123@mail.math.example"
    assert parsed.thread_ids == ["ticket-1042-7@help.example.com", "ticket-1042-1@help.example.com"]
    assert parsed.date == dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert parsed.text == "Hello"
    assert (parsed.automated, parsed.bulk, parsed.report) == ("", "", None)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ("Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable",
         b"Gr=FC=DFe aus K=F6ln", "Grüße aus Köln"),
        ("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64",
         b"w4ljaGVjIGR1IHBhaWVtZW50", "Échec du paiement"),
        ("Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: 8bit",
         "\u201cquoted\u201d \u2013 5 \u20ac".encode("cp1252"), "\u201cquoted\u201d \u2013 5 \u20ac"),
        ("Content-Type: text/plain; charset=iso-8859-2\nContent-Transfer-Encoding: 8bit",
         "Dziękuję, łódź".encode("iso-8859-2"), "Dziękuję, łódź"),
        # a client that says utf-8 and sends Windows-1252 bytes
        ("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit",
         "Caf\u00e9 \u2013 merci".encode("cp1252"), "Caf\u00e9 \u2013 merci"),
        ("Content-Type: text/plain; charset=x-no-such-charset", b"plain ascii", "plain ascii"),
        ("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64", b"w4ljaGV!!!*", None),
    ],
    ids=["latin1-qp", "utf8-base64", "cp1252-8bit", "latin2", "wrong-declared-charset", "unknown-charset",
         "broken-base64"],
)  # fmt: skip
def test_charsets_and_transfer_encodings_never_crash(headers, body, expected):
    parsed = email_parse(_raw(f"From: a@example.com\nSubject: x\nMIME-Version: 1.0\n{headers}", body))
    if expected is None:
        assert isinstance(parsed.text, str)
    else:
        assert parsed.text == expected


def test_an_undecodable_subject_keeps_its_text():
    parsed = email_parse(_raw("From: a@example.com\nSubject: =?x-bogus?q?Hallo_Welt?="))
    assert "Hallo" in parsed.subject


def _multipart() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ada <ada@math.example>"
    message["To"] = "support@example.com"
    message["Subject"] = "Screenshot"
    message["Message-ID"] = "<m1@math.example>"
    message.set_content("See the screenshot.")
    message.add_alternative('<p>See the <img src="cid:shot1@math.example"> screenshot.</p>', subtype="html")
    message.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\nfake", maintype="image", subtype="png",
                                         cid="<shot1@math.example>")  # fmt: skip
    message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice.pdf")
    return message


def test_a_multipart_message_gives_text_html_inline_images_and_attachments():
    parsed = email_parse(_multipart().as_bytes())
    assert parsed.text == "See the ![image](cid:shot1@math.example) screenshot."  # from the HTML, image in place
    assert 'src="cid:shot1@math.example"' in parsed.html
    by_name = {a.filename: a for a in parsed.attachments}
    assert by_name["invoice.pdf"].content == b"%PDF-1.4 fake"
    assert by_name["invoice.pdf"].inline is False
    (image,) = [a for a in parsed.attachments if a.content_type == "image/png"]
    assert (image.content_id, image.inline) == ("shot1@math.example", True)


def test_an_html_only_message_gets_text_made_from_its_html():
    parsed = email_parse(
        _raw("From: a@example.com\nSubject: x\nContent-Type: text/html; charset=utf-8",
             b"<html><body><p>Hello <b>there</b></p><p>Line two</p></body></html>")
    )  # fmt: skip
    assert parsed.text == "Hello there\n\nLine two"
    assert "<b>there</b>" in parsed.html


@pytest.mark.parametrize(
    ("header", "automated", "bulk"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied", ""),
        ("Auto-Submitted: no", "", ""),
        ("X-Autoreply: yes", "X-Autoreply: yes", ""),
        ("X-Autorespond: Out of office", "X-Autorespond: Out of office", ""),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: All", ""),
        ("Precedence: bulk", "Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk", "Precedence: junk"),
        ("List-Id: News <news.example.com>", "List-Id: News <news.example.com>", "List-Id: News <news.example.com>"),
        ("Return-Path: <>", "Return-Path: <> (a bounce or other machine-sent mail)", ""),
    ],
)
def test_machine_written_and_bulk_mail_is_recognised(header, automated, bulk):
    parsed = email_parse(_raw(f"From: someone@example.com\nSubject: Away\n{header}"))
    assert (parsed.automated, parsed.bulk) == (automated, bulk)


def test_mail_from_mailer_daemon_is_machine_written():
    parsed = email_parse(_raw("From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered"))
    assert parsed.automated == "From: mailer-daemon@mx.example.com"


DSN = b"""From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r
To: support@example.com\r
Subject: Undelivered Mail Returned to Sender\r
Auto-Submitted: auto-replied\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r
\r
--B\r
Content-Type: text/plain\r
\r
This is the mail system. Your message could not be delivered.\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example.net\r
Arrival-Date: Tue,  1 Dec 2026 10:00:00 +0000\r
\r
Final-Recipient: rfc822; Gone@Client.example\r
Original-Recipient: rfc822;gone@client.example\r
Action: failed\r
Status: 5.1.1\r
Diagnostic-Code: smtp; 550 5.1.1 <gone@client.example>: Recipient address\r
    rejected: User unknown\r
\r
--B\r
Content-Type: text/rfc822-headers\r
\r
From: Support <support@example.com>\r
To: gone@client.example\r
Subject: We are down\r
Message-ID: <delivery-42.abc@help.example.com>\r
\r
--B--\r
"""


def test_a_delivery_status_notification_names_the_message_and_the_recipient():
    parsed = email_parse(DSN)
    report = parsed.report
    assert report.original_message_id == "delivery-42.abc@help.example.com"
    assert report.recipient == "gone@client.example"
    assert (report.action, report.status, report.permanent) == ("failed", "5.1.1", True)
    assert report.diagnostic == "550 5.1.1 <gone@client.example>: Recipient address rejected: User unknown"
    assert parsed.automated


def test_a_delayed_delivery_is_not_a_hard_bounce():
    delayed = DSN.replace(b"Action: failed", b"Action: delayed").replace(b"Status: 5.1.1", b"Status: 4.4.1")
    report = email_parse(delayed).report
    assert (report.action, report.permanent) == ("delayed", False)


def test_a_dsn_with_the_whole_original_message_attached():
    full = DSN.replace(b"Content-Type: text/rfc822-headers", b"Content-Type: message/rfc822").replace(
        b"Message-ID: <delivery-42.abc@help.example.com>\r\n\r\n", b"Message-ID: <d-7@help.example.com>\r\n\r\nBody\r\n"
    )
    assert email_parse(full).report.original_message_id == "d-7@help.example.com"


@pytest.mark.parametrize(
    ("value", "failures"),
    [
        ("mx.example.com; dkim=pass header.d=math.example; spf=pass smtp.mailfrom=math.example; dmarc=pass", []),
        ("mx.example.com; dkim=fail header.d=math.example; spf=softfail smtp.mailfrom=math.example;"
         " dmarc=fail header.from=math.example", ["dkim=fail", "spf=softfail", "dmarc=fail"]),
        ("this is not ; a valid = header ===", []),
    ],
    ids=["pass", "fail", "garbage"],
)  # fmt: skip
def test_authentication_results_failures(value, failures):
    parsed = email_parse(_raw(f"From: a@math.example\nSubject: x\nAuthentication-Results: {value}"))
    assert parsed.auth_failures == failures


def test_a_sender_is_verified_only_when_the_topmost_results_pass_and_nothing_fails():
    def verified(*values):
        headers = "".join(f"Authentication-Results: {v}\n" for v in values)
        return email_parse(_raw(f"From: a@math.example\nSubject: x\n{headers}")).sender_verified

    assert verified("mx.example; dkim=pass header.d=math.example")
    assert not verified("mx.example; dkim=pass header.d=math.example; spf=fail smtp.mailfrom=math.example")
    assert not verified("mx.example; spf=pass smtp.mailfrom=math.example")  # SPF alone vouches for no From
    assert not verified()
    # a header the sender wrote below ours proves nothing
    assert not verified("mx.example; dkim=none", "forged.example; dkim=pass header.d=math.example")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="never"\r\n\r\nno parts at all',
        b"From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nbroken",
        b"From: <<<@@@>>>\r\nTo: ,,,\r\nDate: yesterday-ish\r\nMessage-ID: \r\n\r\nbody",
        b"Subject: " + b"x" * 100_000 + b"\r\n\r\nlong header",
    ],
    ids=["empty", "binary", "no-parts", "no-boundary", "bad-headers", "huge-header"],
)
def test_broken_messages_parse_without_raising(raw):
    parsed = email_parse(raw)
    assert isinstance(parsed.text, str)
    assert parsed.date is None or isinstance(parsed.date, dt.datetime)


def test_format_flowed_text_has_its_soft_line_breaks_joined():
    from tickets.inbound.parsing import unflow

    flowed = "One long \nsentence here.\n> quoted \n> line\n>> deeper\n -- stuffed\n-- \nsig"
    assert unflow(flowed) == "One long sentence here.\n> quoted line\n>> deeper\n-- stuffed\n-- \nsig"
    assert unflow("with \ndelsp", delsp=True) == "withdelsp"


def test_a_multipart_without_its_boundary_is_read_with_the_one_its_body_uses():
    parsed = email_parse(
        _raw("From: a@example.com\nSubject: x\nContent-Type: multipart/mixed",
             b"--b1\r\nContent-Type: text/plain\r\n\r\nThe text.\r\n--b1--\r\n")
    )  # fmt: skip
    assert parsed.text == "The text."
    assert "multipart without its boundary: read with --b1" in parsed.defects
    no_parts = email_parse(_raw("From: a@example.com\nSubject: x\nContent-Type: multipart/mixed", b"Just text.\r\n"))
    assert no_parts.text == "Just text."


@pytest.mark.parametrize(
    ("encoding", "subject", "name"),
    [("utf-8", "Größe der Rechnung", "Zoë Müller"), ("cp1252", "Problème d'accès", "René Lefèvre")],
    ids=["rfc6532-utf8", "cp1252"],
)
def test_raw_8bit_headers_are_decoded_like_a_body(encoding, subject, name):
    raw = f"From: {name} <x@math.example>\r\nSubject: {subject}\r\n\r\nHallo\r\n".encode(encoding)
    parsed = email_parse(raw)
    assert (parsed.subject, parsed.sender) == (subject, Address("x@math.example", name))
