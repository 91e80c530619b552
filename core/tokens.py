"""Signed, expiring, single-purpose tokens for the links we e-mail.

Every link that grants something without a sign-in (following a request, answering a survey,
unsubscribing, confirming an e-mail address) carries a token made here:

    token = token_make(purpose="request", value=[ticket.pk, customer.pk])
    value = token_read(purpose="request", token=token)   # raises TokenExpired / TokenInvalid

Each purpose has its own salt, so a token made for one purpose never reads as another (a survey
token is not a request token), and its own lifetime, a key of ``settings.HELPDESK`` read on every
call so that deployments and tests can change it. Tokens are ``TimestampSigner`` objects: the
lifetime is checked against the time the token was made.
"""

import datetime as dt
from typing import Any

from django.core import signing

from core.conf import helpdesk_setting


class TokenInvalid(Exception):
    """Tampered, malformed or made for another purpose."""


class TokenExpired(TokenInvalid):
    """Genuine, but older than its purpose allows."""


#: purpose -> the HELPDESK key of its lifetime in days
PURPOSES: dict[str, str] = {
    "request": "REQUEST_LINK_MAX_AGE_DAYS",
    "survey": "SURVEY_LINK_MAX_AGE_DAYS",
    "unsubscribe": "UNSUBSCRIBE_LINK_MAX_AGE_DAYS",
    "verify-email": "EMAIL_VERIFY_MAX_AGE_DAYS",
}


def _signer(purpose: str) -> signing.TimestampSigner:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return signing.TimestampSigner(salt=f"helpdesk.token.{purpose}")


def token_max_age(purpose: str) -> dt.timedelta:
    return dt.timedelta(days=float(helpdesk_setting(PURPOSES[purpose])))


def token_make(*, purpose: str, value: Any) -> str:
    """A URL-safe token carrying ``value`` (JSON: ints, strings, lists) for ``purpose``."""
    return _signer(purpose).sign_object(value, compress=True)


def token_read(*, purpose: str, token: str) -> Any:
    """The value of a genuine token of this purpose made within its lifetime."""
    signer = _signer(purpose)
    try:
        return signer.unsign_object(token, max_age=token_max_age(purpose))
    except signing.SignatureExpired as exc:
        raise TokenExpired(str(exc)) from exc
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise TokenInvalid(str(exc)) from exc
