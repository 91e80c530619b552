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


@pytest.fixture
def travel(monkeypatch):
    """``travel(days=31)``: signed links are read as if that much later (their signing clock moves on)."""
    import time

    from django.core import signing

    start = time.time()

    def move(**delta: float) -> None:
        import datetime as dt

        later = start + dt.timedelta(**delta).total_seconds()
        monkeypatch.setattr(signing.time, "time", lambda: later)

    return move


@pytest.fixture(autouse=True)
def _role_permissions(request):
    """The groups' permissions come from data migrations; a transactional test's flush (browser journeys)
    deletes them, so they are granted again before a test that uses the database."""
    if not any(name in request.fixturenames for name in ("db", "transactional_db", "django_db_setup")) and (
        request.node.get_closest_marker("django_db") is None
    ):
        return
    request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
    from django.apps import apps
    from django.contrib.auth.models import Group

    managers = Group.objects.filter(name="Managers").first()
    if managers is not None and managers.permissions.exists():
        return
    import importlib

    for module in (
        "core.migrations.0002_groups",
        "customers.migrations.0002_permissions",
        "knowledge.migrations.0003_permissions",
        "outreach.migrations.0002_permissions",
        "tickets.migrations.0003_permissions",
        "core.migrations.0003_capabilities",
        "customers.migrations.0004_capabilities",
        "outreach.migrations.0004_capabilities",
        "tickets.migrations.0010_mailbox_permissions",
    ):
        migration = importlib.import_module(module)
        for operation in migration.Migration.operations:
            if hasattr(operation, "code"):
                operation.code(_apps_at(module) if module in _HISTORICAL else apps, None)


#: migrations granting permissions on models a later migration removed (tickets.TicketCounter): they run
#: against the models as they were then, as ``migrate`` runs them
_HISTORICAL = {"tickets.migrations.0003_permissions"}
_HISTORICAL_APPS: dict[str, object] = {}


def _apps_at(module: str):
    if module not in _HISTORICAL_APPS:
        from django.db import connection
        from django.db.migrations.loader import MigrationLoader

        app_label, _, name = module.split(".")
        loader = MigrationLoader(connection, ignore_no_migrations=True)
        _HISTORICAL_APPS[module] = loader.project_state((app_label, name), at_end=True).apps
    return _HISTORICAL_APPS[module]


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return "transactional_db" in request.fixturenames or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
