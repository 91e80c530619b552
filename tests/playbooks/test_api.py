import pytest
from django.utils import timezone

from playbooks.models import PlaybookRun, PlaybookRunLog, PlaybookStep, RunState, SignalMatch
from tests.factories import CustomerFactory
from tests.playbooks.factories import PlaybookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    playbook = PlaybookFactory(name="Win back")
    PlaybookStep.objects.create(playbook=playbook, position=1, action="wait", wait_days=2)
    customer = CustomerFactory()
    match = SignalMatch.objects.create(signal=playbook.signal, customer=customer, evidence="login per week: 9, 1")
    created = PlaybookRun.objects.create(
        playbook=playbook, customer=customer, match=match, evidence=match.evidence, next_due_at=timezone.now()
    )
    PlaybookRunLog.objects.create(run=created, position=1, action="wait", outcome="waiting", detail="until later")
    return created


def test_signals_and_playbooks_are_listed(api_client_for, agent, run):
    client = api_client_for(agent)
    signals = client.get("/api/v1/signals/").json()
    assert signals[0]["name"] == run.playbook.signal.name
    assert signals[0]["active_matches"] == 1
    assert signals[0]["params"] == {"event_kind": "login", "threshold": 2, "weeks": 3}
    playbooks = client.get("/api/v1/playbooks/").json()
    assert playbooks[0]["name"] == "Win back"
    assert playbooks[0]["steps"] == [
        {
            "position": 1,
            "action": "wait",
            "template": None,
            "tag": None,
            "wait_days": 2.0,
            "check_mode": "",
            "check_event_kind": "",
            "note": "",
        }
    ]
    assert client.get(f"/api/v1/playbooks/{run.playbook_id}/").json()["id"] == run.playbook_id
    assert client.get("/api/v1/playbooks/999999/").status_code == 404


def test_a_signal_and_a_playbook_are_shown_by_id_and_an_unknown_id_is_a_404(api_client_for, agent, run):
    client = api_client_for(agent)

    signal = client.get(f"/api/v1/signals/{run.playbook.signal_id}/").json()
    playbook = client.get(f"/api/v1/playbooks/{run.playbook_id}/").json()

    assert (signal["id"], signal["active_matches"]) == (run.playbook.signal_id, 1)
    assert [step["action"] for step in playbook["steps"]] == ["wait"]
    missing_signal, missing_playbook = client.get("/api/v1/signals/999999/"), client.get("/api/v1/playbooks/999999/")
    assert missing_signal.status_code == missing_playbook.status_code == 404
    assert missing_signal.json() == missing_playbook.json() == {"message": "Not found.", "extra": {}}


def test_runs_are_listed_filtered_and_shown_with_their_log(api_client_for, agent, run, django_assert_max_num_queries):
    client = api_client_for(agent)
    with django_assert_max_num_queries(6):
        listed = client.get("/api/v1/playbook-runs/", {"state": "running"}).json()
    assert [r["id"] for r in listed["results"]] == [run.pk]
    assert listed["results"][0]["evidence"] == "login per week: 9, 1"
    assert client.get("/api/v1/playbook-runs/", {"state": "completed"}).json()["results"] == []
    detail = client.get(f"/api/v1/playbook-runs/{run.pk}/").json()
    assert detail["logs"][0]["detail"] == "until later"


def test_bad_filters_are_400_per_field(api_client_for, agent):
    response = api_client_for(agent).get("/api/v1/playbook-runs/", {"state": "nonsense", "customer": "abc"})
    assert response.status_code == 400
    body = response.json()
    assert body["message"]
    assert {"state", "customer"} <= set(body["extra"]["fields"])


def test_an_agent_stops_a_run_and_stopping_again_is_a_400(api_client_for, agent, run):
    client = api_client_for(agent)
    response = client.post(f"/api/v1/playbook-runs/{run.pk}/stop/", {"reason": "talked to them"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "stopped"
    assert response.json()["stop_reason"] == "talked to them"
    again = client.post(f"/api/v1/playbook-runs/{run.pk}/stop/", {}, format="json")
    assert again.status_code == 400
    assert "already" in again.json()["message"]
    assert client.post("/api/v1/playbook-runs/999999/stop/", {}, format="json").status_code == 404


def test_customers_and_strangers_cannot_read_or_stop(api_client_for, customer_user, client, run):
    customer_client = api_client_for(customer_user)
    assert customer_client.get("/api/v1/playbook-runs/").status_code == 403
    assert customer_client.post(f"/api/v1/playbook-runs/{run.pk}/stop/").status_code == 403
    assert client.get("/api/v1/signals/").status_code in (401, 403)
    run.refresh_from_db()
    assert run.state == RunState.RUNNING


def test_the_schema_lists_the_playbook_endpoints(agent_client):
    paths = agent_client.get("/api/schema/?format=json").json()["paths"]
    assert {
        "/api/v1/signals/",
        "/api/v1/playbooks/",
        "/api/v1/playbook-runs/",
        "/api/v1/playbook-runs/{run_id}/",
        "/api/v1/playbook-runs/{run_id}/stop/",
    } <= set(paths)
