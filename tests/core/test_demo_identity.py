import pytest

from core.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_accounts_are_confirmed_so_the_demo_customer_sees_their_requests():
    from io import StringIO

    from django.contrib.auth.models import Group

    from core.roles import AGENTS, MANAGERS
    from customers import demo

    for name in (AGENTS, MANAGERS):
        Group.objects.get_or_create(name=name)
    demo.load(StringIO())
    casey = User.objects.get(email="customer@example.com")
    assert casey.email_verified_at is not None
