"""Wrong passwords are counted per (address, account) tightly and per address loosely, on every path that
checks a password: the sign-in page, the API token endpoint and the admin's sign-in share the counters."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import AgentFactory, CustomerUserFactory

pytestmark = pytest.mark.django_db

OFFICE = "203.0.113.7"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_SIGN_IN_ACCOUNT": "5/15m", "RATELIMIT_SIGN_IN_IP": "12/15m"}


def _client(ip: str = OFFICE) -> Client:
    return Client(REMOTE_ADDR=ip)


def _sign_in(client: Client, email: str, password: str):
    return client.post(reverse("login"), {"username": email, "password": password})


def _token(client: Client, email: str, password: str):
    return client.post(
        "/api/v1/auth/token/", {"username": email, "password": password}, content_type="application/json"
    )


def test_five_wrong_passwords_lock_that_account_from_that_address_even_with_the_right_one():
    user = CustomerUserFactory(email="ann@client.example")
    client = _client()
    answers = [_sign_in(client, "ann@client.example", "wrong").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    locked = _sign_in(client, "ANN@client.example ", "pw-123456")  # the right password, any spelling of the address
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # the same account from another address is not locked
    elsewhere = _client("198.51.100.20")
    assert _sign_in(elsewhere, "ann@client.example", "pw-123456").status_code == 302
    assert int(elsewhere.session["_auth_user_id"]) == user.pk


def test_a_colleague_behind_the_same_address_still_signs_in_with_the_right_password():
    colleague = CustomerUserFactory(email="bob@client.example")
    attacker = _client()
    for n in range(20):  # past the loose per-address limit (12), over many accounts
        _sign_in(attacker, f"guess{n % 4}@client.example", "wrong")
    assert _sign_in(attacker, "guess9@client.example", "wrong").status_code == 429  # the address is throttled
    office = _client()
    response = _sign_in(office, "bob@client.example", "pw-123456")
    assert response.status_code == 302
    assert int(office.session["_auth_user_id"]) == colleague.pk


def test_past_the_loose_limit_a_wrong_password_answers_429_with_retry_after():
    client = _client()
    answers = [_sign_in(client, f"user{n}@client.example", "wrong").status_code for n in range(13)]
    assert answers[:12] == [200] * 12
    assert answers[12] == 429


def test_a_success_clears_the_accounts_count():
    CustomerUserFactory(email="cat@client.example")
    client = _client()
    for _ in range(4):
        _sign_in(client, "cat@client.example", "wrong")
    assert _sign_in(client, "cat@client.example", "pw-123456").status_code == 302
    client.post(reverse("logout"))
    answers = [_sign_in(client, "cat@client.example", "wrong").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 200]


def test_the_token_endpoint_is_limited_and_shares_the_sign_in_counters():
    agent = AgentFactory(email="dee@support.example")
    client = _client()
    answers = [_token(client, "dee@support.example", "wrong").status_code for _ in range(5)]
    assert answers == [400, 400, 400, 400, 429]
    locked = _token(client, "dee@support.example", "pw-123456")
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    assert locked.json()["message"].startswith("Too many failed sign-ins")
    # the page is locked for that account too: one set of counters
    assert _sign_in(client, "dee@support.example", "pw-123456").status_code == 429
    assert _token(_client("198.51.100.20"), "dee@support.example", "pw-123456").json()["token"]
    assert agent.auth_token.key


def test_forty_wrong_tokens_never_pass_and_never_reveal_a_right_one():
    AgentFactory(email="eve@support.example")
    client = _client()
    statuses = {_token(client, "eve@support.example", f"guess-{n}").status_code for n in range(40)}
    assert statuses == {400, 429}
    assert _token(client, "eve@support.example", "pw-123456").status_code == 429


def test_the_admin_sign_in_counts_too():
    manager_email = "mia@support.example"
    CustomerUserFactory(email=manager_email)
    client = _client()
    for _ in range(5):
        client.post("/admin/login/", {"username": manager_email, "password": "wrong"})
    assert _sign_in(client, manager_email, "pw-123456").status_code == 429


def test_the_address_comes_from_the_trusted_proxy_header_when_configured(settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_TRUSTED_PROXIES": 1}
    CustomerUserFactory(email="fay@client.example")
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(5):
        proxy.post(reverse("login"), {"username": "fay@client.example", "password": "x"}, HTTP_X_FORWARDED_FOR=OFFICE)
    other = proxy.post(
        reverse("login"), {"username": "fay@client.example", "password": "pw-123456"}, HTTP_X_FORWARDED_FOR="192.0.2.9"
    )
    assert other.status_code == 302
