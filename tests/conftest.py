import pytest
from django.test import Client

from tests.factories import AgentFactory, CustomerUserFactory, ManagerFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached values never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent(db):
    return AgentFactory()


@pytest.fixture
def manager(db):
    return ManagerFactory()


@pytest.fixture
def customer_user(db):
    return CustomerUserFactory()


@pytest.fixture
def agent_client(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def manager_client(manager) -> Client:
    client = Client()
    client.force_login(manager)
    return client


@pytest.fixture
def customer_client(customer_user) -> Client:
    client = Client()
    client.force_login(customer_user)
    return client


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    return {"HX-Request": "true"}


@pytest.fixture
def api_client_for():
    """``api_client_for(user)``: a DRF client authenticated by that user's token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
