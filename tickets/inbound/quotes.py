"""The new text of an e-mail reply: the quoted thread and the signature cut off.

``mail-parser-reply`` knows the reply headers of Gmail, Outlook (desktop and web), Apple Mail and
Thunderbird in many languages. What it misses, seen in the tests' samples, is cut here as well:
Gmail's Spanish header (``El ..., Support (<support@example.com>) escribió:``), a header line wrapped
before its verb, the RFC 3676 signature delimiter (``-- ``, which the library keeps), the "sent from
my phone" lines of mobile clients, and a trailing block of ``>`` lines.

Outlook's header block above the quote (``From:``/``Sent:`` and its translations, e.g. Spanish
``De:``/``Enviado el:``, or French ``De :`` with a non-breaking space before the colon, which the library
misses) is cut too, with the rule Outlook draws above it and its "Get Outlook for iOS" line in each
language (``tests/tickets/corpus`` has each as a message).

A forwarded message is not a quote: the forwarded text is what the customer wants us to read, so
everything from the forward line on (``---------- Forwarded message ---------``, Apple Mail's ``Begin
forwarded message:``, ...) is kept whole unless a reply header stands above it (then it is part of the
quoted thread).

When cutting would leave nothing (a reply written under the quote, or a message that is only a
quote), the whole text is the answer: showing too much beats losing what the customer wrote.
"""

import re

from mailparser_reply import EmailReplyParser

LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt", "sv"]

#: a reply header a client puts above the quote: "On <date>, <who> wrote:" in the languages we serve,
#: possibly wrapped over two lines by the client
_WROTE = re.compile(
    r"^[ \t]*(On|Am|Le|El|Il|Op|Em|Den)\b[^\n]{0,300}?(\n[^\n]{0,200}?)?"
    r"(wrote|schrieb|a\s+écrit|escribió|ha\s+scritto|schreef|escreveu|skrev)\s*:[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ORIGINAL = re.compile(
    r"^[ \t]*-{2,}\s*(Original Message|Original-Nachricht|Ursprüngliche Nachricht|Message d'origine"
    r"|Mensaje original|Messaggio originale)"
    r"\s*-{2,}[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_OUTLOOK_HEADER = re.compile(
    r"^[ \t]*\*?(From|Von|De|Da|Van)[ \t\u00a0\u202f]?:\*?[^\n]*\n"  # French Outlook: "De\u00a0:"
    r"[ \t]*\*?(Sent|Gesendet|Envoyé|Enviado|Enviado el|Inviato|Verzonden)[ \t\u00a0\u202f]?:",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARDED = re.compile(
    r"^[ \t]*(-{2,}[ \t]*(Forwarded message|Weitergeleitete Nachricht|Message transféré|Mensaje reenviado"
    r"|Messaggio inoltrato|Doorgestuurd bericht)[ \t]*-{2,}|Begin forwarded message:"
    r"|Anfang der weitergeleiteten Nachricht:|Début du message réexpédié :|Inicio del mensaje reenviado:)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE = re.compile(r"^--[ \t]*$", re.MULTILINE)
_MOBILE = re.compile(
    r"^[ \t]*(Sent from my \w+|Sent from (Mail|Outlook) for \w+|Get Outlook for \w+|Von meinem \w+ gesendet"
    r"|Gesendet von meinem \w+|Outlook für \w+ beziehen|Envoyé de mon \w+|Télécharger Outlook pour \w+"
    r"|Enviado desde mi \w+|Obtener Outlook para \w+|Inviato da \w+)[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)

_parser = EmailReplyParser(languages=LANGUAGES)


def reply_text(text: str) -> str:
    """What the sender wrote this time, without the thread quoted below it or their signature."""
    full = text.replace("\r\n", "\n").strip("\n")
    if not full.strip():
        return ""
    if forwarded := _FORWARDED.search(full):
        headers = [m.start() for p in (_WROTE, _ORIGINAL, _OUTLOOK_HEADER) if (m := p.search(full))]
        if not headers or forwarded.start() < min(headers):
            note = reply_text(full[: forwarded.start()]) if full[: forwarded.start()].strip() else ""
            return "\n\n".join(part for part in (note, full[forwarded.start() :].strip()) if part)
    try:
        new = _parser.parse_reply(text=full) or ""
    except Exception:  # a parser bug must not lose the message; fall back to our own cuts
        new = full
    for pattern in (_WROTE, _ORIGINAL, _OUTLOOK_HEADER, _SIGNATURE, _MOBILE):
        match = pattern.search(new)
        if match and new[: match.start()].strip():
            new = new[: match.start()]
    new = _without_trailing_quote(new).strip()
    return new if new else full.strip()


_RULE = re.compile(r"^[ \t]*[_\-=]{5,}[ \t]*$")  # the line Outlook draws above its header block


def _without_trailing_quote(text: str) -> str:
    lines = text.rstrip().split("\n")
    while lines and (lines[-1].startswith(">") or not lines[-1].strip() or _RULE.match(lines[-1])):
        lines.pop()
    return "\n".join(lines)
