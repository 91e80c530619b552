"""One helper makes every signed link: single-purpose and expiring."""

import pytest

from core.tokens import PURPOSES, TokenExpired, TokenInvalid, token_make, token_read


@pytest.mark.parametrize("purpose", sorted(PURPOSES))
def test_a_token_reads_back_for_its_own_purpose(purpose):
    assert token_read(purpose=purpose, token=token_make(purpose=purpose, value=[42, "x"])) == [42, "x"]


@pytest.mark.parametrize(
    ("made_for", "read_as"), [(a, b) for a in sorted(PURPOSES) for b in sorted(PURPOSES) if a != b]
)
def test_a_token_of_one_purpose_is_never_a_token_of_another(made_for, read_as):
    token = token_make(purpose=made_for, value=7)
    with pytest.raises(TokenInvalid) as caught:
        token_read(purpose=read_as, token=token)
    assert not isinstance(caught.value, TokenExpired)


@pytest.mark.parametrize(
    ("purpose", "days_ok", "days_expired"),
    [("request", 29, 31), ("survey", 29, 31), ("unsubscribe", 179, 181), ("verify-email", 2.9, 3.1)],
)
def test_each_purpose_expires_after_its_setting(travel, purpose, days_ok, days_expired):
    token = token_make(purpose=purpose, value=1)
    travel(days=days_ok)
    assert token_read(purpose=purpose, token=token) == 1
    travel(days=days_expired)
    with pytest.raises(TokenExpired):
        token_read(purpose=purpose, token=token)


def test_unsubscribe_links_live_at_least_the_60_days_of_rfc_8058(travel):
    token = token_make(purpose="unsubscribe", value=1)
    travel(days=61)
    assert token_read(purpose="unsubscribe", token=token) == 1


def test_the_lifetime_is_read_from_settings_on_every_call(settings, travel):
    settings.HELPDESK = {**settings.HELPDESK, "REQUEST_LINK_MAX_AGE_DAYS": 1}
    token = token_make(purpose="request", value=1)
    travel(days=2)
    with pytest.raises(TokenExpired):
        token_read(purpose="request", token=token)


@pytest.mark.parametrize("garbage", ["", "abc", "a:b:c", "x" * 500, "eyJ0IjoxfQ:1abc:bad"])
def test_garbage_is_invalid_not_an_error(garbage):
    with pytest.raises(TokenInvalid):
        token_read(purpose="request", token=garbage)


def test_a_tampered_token_is_invalid():
    token = token_make(purpose="request", value=[1, 2])
    with pytest.raises(TokenInvalid):
        token_read(purpose="request", token=token[:-2] + ("aa" if not token.endswith("aa") else "bb"))


def test_an_unknown_purpose_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown token purpose"):
        token_make(purpose="anything", value=1)
