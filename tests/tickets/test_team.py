"""Managers invite agents and set their queues and role, without a superuser (#9, item 16)."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from core.models import User
from core.policies import can
from customers.models import Delivery
from tests.factories import AgentFactory, CustomerUserFactory, ManagerFactory, UserFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory
from tickets.services.team import agent_invite, invite_token

pytestmark = pytest.mark.django_db

LINK = re.compile(r"/agent/welcome/([^/\s]+)/")


@pytest.fixture
def queues():
    return QueueFactory(name="Billing"), QueueFactory(name="Tech")


def _invite(manager_client, queues, **extra):
    data = {"email": "New.Agent@Support.Example", "name": "Nia New", "role": "agent", "queues": [queues[0].pk]}
    return manager_client.post(reverse("agent-team-invite"), {**data, **extra})


def _link_of(delivery: Delivery) -> str:
    return LINK.search(delivery.body).group(0)


def test_a_manager_invites_an_agent_who_gets_a_link_through_the_ledger(
    manager_client, queues, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(manager_client, queues)
    assert response.status_code == 302
    user = User.objects.get(email="new.agent@support.example")
    assert not user.has_usable_password()
    assert (user.name, user.is_staff, user.is_superuser) == ("Nia New", False, False)
    assert list(user.groups.values_list("name", flat=True)) == ["Agents"]
    assert list(user.queue_memberships.values_list("queue__name", flat=True)) == ["Billing"]
    delivery = Delivery.objects.get(recipient="new.agent@support.example")
    assert (delivery.category, delivery.status) == ("service", "sent")
    assert "/agent/welcome/" in delivery.body
    assert len(mail.outbox) == 1
    listing = manager_client.get(reverse("agent-team")).content.decode()
    assert "new.agent@support.example" in listing
    assert "Invited" in listing


def test_the_invited_agent_sets_a_password_signs_in_and_the_link_then_dies(manager_client, queues):
    _invite(manager_client, queues)
    link = _link_of(Delivery.objects.get())
    stranger = Client()
    page = stranger.get(link)
    assert page.status_code == 200
    assert "new.agent@support.example" in page.content.decode()
    mismatch = stranger.post(link, {"password1": "a-long-pass-phrase-1", "password2": "different-pass-2"})
    assert mismatch.status_code == 400
    assert not User.objects.get(email="new.agent@support.example").has_usable_password()
    response = stranger.post(link, {"password1": "a-long-pass-phrase-1", "password2": "a-long-pass-phrase-1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("agent-home")
    assert stranger.get(reverse("agent-home")).status_code == 200  # signed in, an agent
    user = User.objects.get(email="new.agent@support.example")
    assert user.check_password("a-long-pass-phrase-1")
    again = Client().get(link)
    assert again.status_code == 404
    assert "not valid" in again.content.decode()
    assert "Active" in manager_client.get(reverse("agent-team")).content.decode()


def test_a_tampered_link_is_a_clear_error_and_changes_nothing(manager_client, queues):
    _invite(manager_client, queues)
    link = _link_of(Delivery.objects.get())
    token = link.split("/")[-1]
    tampered = f"/agent/welcome/{token[:-2]}xx/"
    response = Client().post(tampered, {"password1": "a-long-pass-phrase-1", "password2": "a-long-pass-phrase-1"})
    assert response.status_code == 404
    assert "This invitation link is not valid" in response.content.decode()
    # a token made for another account, or signed with another salt, is no better
    forged = signing.dumps({"u": User.objects.get(email="new.agent@support.example").pk, "s": "0" * 20})
    assert Client().get(f"/agent/welcome/{forged}/").status_code == 404
    assert not User.objects.get(email="new.agent@support.example").has_usable_password()


def test_an_expired_link_says_so(manager_client, queues, monkeypatch):
    _invite(manager_client, queues)
    link = _link_of(Delivery.objects.get())
    real = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real() + dt.timedelta(days=8).total_seconds())
    response = Client().get(link)
    assert response.status_code == 410
    assert "This invitation has expired. Ask your manager to send you a new one." in response.content.decode()


def test_an_invitation_sent_again_replaces_the_first_link(manager, manager_client, queues):
    _invite(manager_client, queues)
    user = User.objects.get(email="new.agent@support.example")
    first = _link_of(Delivery.objects.get())
    response = manager_client.post(reverse("agent-team-resend", args=[user.pk]))
    assert response.status_code == 302
    assert Delivery.objects.filter(recipient=user.email).count() == 2
    second = _link_of(Delivery.objects.order_by("-id").first())
    assert first != second
    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 200


def test_a_password_for_a_link_cannot_be_used_to_take_over_an_existing_account(manager):
    agent = AgentFactory()  # has a password: a link made for them is refused
    token = invite_token(agent)
    response = Client().post(
        f"/agent/welcome/{token}/", {"password1": "a-long-pass-phrase-1", "password2": "a-long-pass-phrase-1"}
    )
    assert response.status_code == 404
    agent.refresh_from_db()
    assert agent.check_password("pw-123456")


def test_an_existing_address_is_refused_with_the_form_kept(manager_client, queues):
    CustomerUserFactory(email="someone@client.example")
    response = _invite(manager_client, queues, email="someone@client.example", name="Kept Name")
    assert response.status_code == 400
    page = response.content.decode()
    assert "exists already" in page
    assert 'value="Kept Name"' in page
    assert Delivery.objects.count() == 0
    assert not User.objects.get(email="someone@client.example").groups.exists()


def test_a_manager_invites_a_manager_who_may_use_the_admin(manager_client, queues):
    _invite(manager_client, queues, email="boss@support.example", role="manager")
    user = User.objects.get(email="boss@support.example")
    assert user.is_staff
    assert can(user, "agent.invite")
    assert not user.is_superuser


def test_agents_and_customers_cannot_invite(agent_client, customer_client, queues):
    page = agent_client.get(reverse("agent-team"))
    assert page.status_code == 403
    assert "Only managers may invite agents" in page.content.decode()
    assert _invite(agent_client, queues).status_code == 403
    assert customer_client.get(reverse("agent-team-invite")).status_code == 404
    assert Client().get(reverse("agent-team-invite")).status_code == 302
    assert not User.objects.filter(email="new.agent@support.example").exists()
    assert 'href="/agent/team/"' not in agent_client.get(reverse("agent-home")).content.decode()


def test_a_manager_changes_an_agents_queues_role_and_on_call(manager_client, queues):
    agent = AgentFactory()
    QueueMembershipFactory(agent=agent, queue=queues[0])
    response = manager_client.post(
        reverse("agent-team-member", args=[agent.pk]), {"role": "agent", "queues": [queues[1].pk], "on_call": "on"}
    )
    assert response.status_code == 302
    agent = User.objects.get(pk=agent.pk)
    assert list(agent.queue_memberships.values_list("queue__name", flat=True)) == ["Tech"]
    assert can(agent, "incident.declare")
    manager_client.post(reverse("agent-team-member", args=[agent.pk]), {"role": "manager", "queues": []})
    agent = User.objects.get(pk=agent.pk)
    assert list(agent.groups.values_list("name", flat=True)) == ["Managers"]
    assert agent.is_staff
    assert not agent.queue_memberships.exists()


def test_a_manager_cannot_change_a_superuser_a_customer_or_their_own_role(manager, manager_client, queues):
    boss = UserFactory(is_superuser=True, is_staff=True)
    boss.groups.add(Group.objects.get(name="Managers"))
    customer = CustomerUserFactory()
    for user in (boss, customer):
        response = manager_client.post(reverse("agent-team-member", args=[user.pk]), {"role": "agent"})
        assert response.status_code == 404
    assert User.objects.get(pk=boss.pk).groups.filter(name="Managers").exists()
    response = manager_client.post(reverse("agent-team-member", args=[manager.pk]), {"role": "agent"})
    assert response.status_code == 400
    assert "your own manager role" in response.content.decode()
    assert can(User.objects.get(pk=manager.pk), "agent.invite")


def test_the_team_list_takes_the_same_queries_for_more_members(manager_client, django_assert_max_num_queries):
    for _ in range(3):
        QueueMembershipFactory(agent=AgentFactory(), queue=QueueFactory())
    with django_assert_max_num_queries(12) as first:
        manager_client.get(reverse("agent-team"))
    for _ in range(10):
        QueueMembershipFactory(agent=AgentFactory(), queue=QueueFactory())
    with django_assert_max_num_queries(len(first.captured_queries)):
        manager_client.get(reverse("agent-team"))


# --- the admin -----------------------------------------------------------------------------------------


def _admin_form(user, **changes):
    data = {
        "name": user.name,
        "is_active": "on",
        "groups": [group.pk for group in user.groups.all()],
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_a_manager_edits_an_agents_groups_in_the_admin_but_never_makes_a_superuser(manager_client):
    agent = AgentFactory()
    managers = Group.objects.get(name="Managers")
    response = manager_client.post(
        f"/admin/core/user/{agent.pk}/change/",
        _admin_form(
            agent,
            groups=[managers.pk],
            is_superuser="on",
            is_staff="on",
            email="attacker@evil.example",
            user_permissions=[1, 2, 3],
        ),
    )
    assert response.status_code == 302
    agent = User.objects.get(pk=agent.pk)
    assert list(agent.groups.values_list("name", flat=True)) == ["Managers"]
    assert agent.is_staff  # follows the Managers group
    assert not agent.is_superuser
    assert agent.email.endswith("@support.example")
    assert not agent.user_permissions.exists()


def test_a_manager_cannot_put_anyone_in_a_group_outside_the_team(manager_client):
    agent = AgentFactory()
    powerful = Group.objects.create(name="Everything")
    response = manager_client.post(f"/admin/core/user/{agent.pk}/change/", _admin_form(agent, groups=[powerful.pk]))
    assert response.status_code == 200  # the form refuses the choice
    assert not User.objects.get(pk=agent.pk).groups.filter(name="Everything").exists()


def test_a_manager_cannot_open_a_superuser_a_customer_or_a_password_in_the_admin(manager_client):
    boss = UserFactory(is_superuser=True, is_staff=True)
    customer = CustomerUserFactory()
    agent = AgentFactory()
    assert manager_client.get(f"/admin/core/user/{boss.pk}/change/").status_code in (302, 404)
    assert manager_client.get(f"/admin/core/user/{customer.pk}/change/").status_code in (302, 404)
    assert manager_client.post(f"/admin/core/user/{boss.pk}/change/", _admin_form(boss)).status_code in (302, 404)
    assert User.objects.get(pk=boss.pk).is_superuser
    password = manager_client.post(
        f"/admin/core/user/{agent.pk}/password/", {"password1": "x-long-pass-9", "password2": "x-long-pass-9"}
    )
    assert password.status_code == 403
    assert User.objects.get(pk=agent.pk).check_password("pw-123456")
    listing = manager_client.get("/admin/core/user/").content.decode()
    assert agent.email in listing
    assert boss.email not in listing
    assert customer.email not in listing


def test_adding_a_user_in_the_admin_leads_a_manager_to_the_invitation(manager_client):
    response = manager_client.get("/admin/core/user/add/")
    assert response.status_code == 302
    assert response["Location"] == reverse("agent-team-invite")


def test_a_superuser_still_edits_everything():
    root = UserFactory(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    agent = AgentFactory()
    page = client.get(f"/admin/core/user/{agent.pk}/change/").content.decode()
    assert 'name="is_superuser"' in page
    assert client.get("/admin/core/user/add/").status_code == 200


def test_agent_invite_refuses_an_agent_actor(queues):
    from core.exceptions import ApplicationError

    with pytest.raises(ApplicationError, match="Only managers"):
        agent_invite(email="x@support.example", name="X", role="agent", queues=queues, actor=AgentFactory())
    assert not User.objects.filter(email="x@support.example").exists()
    assert agent_invite(email="x@support.example", name="X", role="agent", queues=queues, actor=ManagerFactory())
