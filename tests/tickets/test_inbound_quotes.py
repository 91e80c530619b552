"""The new text of replies as the clients people use write them, in the languages we serve."""

import pytest

from tickets.inbound.parsing import text_from_html
from tickets.inbound.quotes import reply_text

GMAIL_EN = """Thanks, that fixed it!

Best,
Ada

On Tue, Dec 1, 2026 at 10:00 AM Support <support@example.com> wrote:
> Please try again.
> Cheers
"""
GMAIL_WRAPPED = """Ok.

On Tue, Dec 1, 2026 at 10:00 AM Support Team <support@example.com>
wrote:
> Please try again.
"""
GMAIL_DE = """Danke, geht wieder.

Am Di., 1. Dez. 2026 um 10:00 Uhr schrieb Support <support@example.com>:
> Bitte erneut versuchen.
"""
GMAIL_FR = """Merci !

Le mar. 1 déc. 2026 à 10:00, Support <support@example.com> a écrit :
> Réessayez.
"""
GMAIL_ES = """Gracias.

El mar, 1 dic 2026 a las 10:00, Support (<support@example.com>) escribió:
> Inténtelo de nuevo.
"""
OUTLOOK_EN = """Sure thing.

From: Support <support@example.com>
Sent: Tuesday, December 1, 2026 10:00 AM
To: Ada <ada@example.com>
Subject: RE: [#1042] Login

Please try again.
"""
OUTLOOK_DE = """Passt.

Von: Support <support@example.com>
Gesendet: Dienstag, 1. Dezember 2026 10:00
An: Ada <ada@example.com>
Betreff: AW: [#1042] Login

Bitte erneut.
"""
OUTLOOK_FR = """D'accord.

De : Support <support@example.com>
Envoyé : mardi 1 décembre 2026 10:00
À : Ada
Objet : RE: Login

Réessayez.
"""
OUTLOOK_ES = """Vale.

De: Support <support@example.com>
Enviado: martes, 1 de diciembre de 2026 10:00
Para: Ada
Asunto: RE: Login

Inténtelo.
"""
OUTLOOK_ORIGINAL = """Yes.

-----Original Message-----
From: Support
Sent: Tuesday
Please.
"""
APPLE_MAIL = """Works now.

Sent from my iPhone

> On 1 Dec 2026, at 10:00, Support <support@example.com> wrote:
>
> Please try again.
"""
THUNDERBIRD = """Still broken, see the attached screenshot.

On 01.12.26 10:00, Support wrote:
> Please try again.
"""
SIGNATURE = "OK then.\n-- \nAda Lovelace\nCTO, Math Ltd\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GMAIL_EN, "Thanks, that fixed it!\n\nBest,\nAda"),
        (GMAIL_WRAPPED, "Ok."),
        (GMAIL_DE, "Danke, geht wieder."),
        (GMAIL_FR, "Merci !"),
        (GMAIL_ES, "Gracias."),
        (OUTLOOK_EN, "Sure thing."),
        (OUTLOOK_DE, "Passt."),
        (OUTLOOK_FR, "D'accord."),
        (OUTLOOK_ES, "Vale."),
        (OUTLOOK_ORIGINAL, "Yes."),
        (APPLE_MAIL, "Works now."),
        (THUNDERBIRD, "Still broken, see the attached screenshot."),
        (SIGNATURE, "OK then."),
    ],
    ids=["gmail-en", "gmail-wrapped", "gmail-de", "gmail-fr", "gmail-es", "outlook-en", "outlook-de",
         "outlook-fr", "outlook-es", "outlook-original", "apple-mail", "thunderbird", "signature"],
)  # fmt: skip
def test_the_new_text_of_a_reply(text, expected):
    assert reply_text(text) == expected


def test_a_message_that_is_only_a_quote_or_has_no_reply_header_is_kept_whole():
    only_quote = "> Please try again.\n> Cheers"
    assert reply_text(only_quote) == only_quote
    plain = "My invoice is wrong.\n\nIt says 40 EUR, it should be 20."
    assert reply_text(plain) == plain
    assert reply_text("") == ""


def test_a_forwarded_message_opening_a_ticket_keeps_what_was_forwarded():
    forwarded = "See below.\n\n---------- Forwarded message ---------\nFrom: Bob\n\nThe export fails with E42."
    assert "E42" in reply_text(forwarded)


GMAIL_HTML = """<div dir="ltr">Thanks, <b>fixed</b>!</div><br><div class="gmail_quote"><div dir="ltr"
class="gmail_attr">On Tue, Dec 1, 2026 at 10:00 AM Support &lt;support@example.com&gt; wrote:<br></div>
<blockquote class="gmail_quote" style="margin:0px">Please try again.</blockquote></div>"""
APPLE_HTML = """<html><head><style>p{color:red}</style></head><body>Works now.<div><br><blockquote type="cite">
<div>On 1 Dec 2026, at 10:00, Support &lt;support@example.com&gt; wrote:</div><div>Please try again.</div>
</blockquote></div></body></html>"""
OUTLOOK_WEB_HTML = """<div>Sure thing.</div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg">
<b>From:</b> Support &lt;support@example.com&gt;<br><b>Sent:</b> Tuesday, December 1, 2026 10:00 AM<br>
<b>To:</b> Ada<br><b>Subject:</b> RE: Login</div><div>Please try again.</div>"""
THUNDERBIRD_HTML = """<p>Still broken.</p><div class="moz-cite-prefix">On 01.12.26 10:00, Support wrote:<br></div>
<blockquote type="cite"><p>Please try again.</p></blockquote>"""


@pytest.mark.parametrize(
    ("html", "expected"),
    [(GMAIL_HTML, "Thanks, fixed!"), (APPLE_HTML, "Works now."), (OUTLOOK_WEB_HTML, "Sure thing."),
     (THUNDERBIRD_HTML, "Still broken.")],
    ids=["gmail", "apple-mail", "outlook-web", "thunderbird"],
)  # fmt: skip
def test_the_new_text_of_an_html_only_reply(html, expected):
    assert reply_text(text_from_html(html)) == expected


def test_html_to_text_keeps_paragraphs_and_marks_quotes_and_drops_styles():
    text = text_from_html("<style>x{}</style><p>One</p><p>Two <i>words</i></p><blockquote>Old</blockquote>")
    assert text == "One\n\nTwo words\n\n> Old"


def test_a_forward_inside_the_quoted_thread_is_cut_with_the_quote():
    reply = (
        "Any news?\n\nFrom: Support <support@example.com>\nSent: Tuesday, December 1, 2026 10:00 AM\n"
        "Subject: RE: Fwd: Invoice\n\nWe are looking.\n\n---------- Forwarded message ---------\nFrom: Bob\n\nOld"
    )
    assert reply_text(reply) == "Any news?"


@pytest.mark.parametrize(
    "marker",
    ["---------- Forwarded message ---------", "Begin forwarded message:",
     "-------- Weitergeleitete Nachricht --------", "-------- Message transféré --------",
     "---------- Mensaje reenviado ----------"],
)  # fmt: skip
def test_a_forwarded_message_is_kept_whole_in_every_client_and_language(marker):
    text = f"FYI\n\n{marker}\nFrom: Bob <bob@example.com>\nDate: Tue, 1 Dec 2026\nSubject: Down\n\nIt is down."
    assert reply_text(text) == text
