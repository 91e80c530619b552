"""What managers configure in the admin is validated field by field, with choices instead of JSON."""

import pytest
from django.urls import reverse

from outreach.models import Segment
from tests.tickets.factories import BusinessCalendarFactory, SLAPolicyFactory
from tickets.models import BusinessCalendar, CustomField, SLAPolicy, SLATarget

pytestmark = pytest.mark.django_db


def inline(prefix, rows=(), initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


def policy_post(**fields):
    data = {"name": "Enterprise", "position": "10", "is_active": "on"}
    data.update(inline("targets", [{"priority": "normal", "first_reply_minutes": "60", "resolution_minutes": "480"}]))
    data.update(fields)
    return data


# --- SLA policies --------------------------------------------------------------------------------


def test_the_sla_policy_form_offers_priorities_and_plans_as_checkboxes(manager_client):
    page = manager_client.get(reverse("admin:tickets_slapolicy_add")).content.decode()

    assert 'type="checkbox" name="priorities" value="urgent"' in page
    assert 'type="checkbox" name="plans" value="enterprise"' in page
    assert '<textarea name="priorities"' not in page


def test_a_misspelt_priority_is_refused_and_nothing_saved(manager_client):
    response = manager_client.post(reverse("admin:tickets_slapolicy_add"), policy_post(priorities=["hgih", "3"]))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "priorities" in errors
    assert "hgih" in errors["priorities"][0]
    assert SLAPolicy.objects.count() == 0
    assert SLATarget.objects.count() == 0


def test_a_zero_minute_target_is_refused_on_its_field(manager_client):
    data = policy_post()
    data["targets-0-first_reply_minutes"] = "0"

    response = manager_client.post(reverse("admin:tickets_slapolicy_add"), data)

    assert response.status_code == 200
    assert "first_reply_minutes" in response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert SLAPolicy.objects.count() == 0


def test_a_good_sla_policy_saves_its_conditions_as_lists(manager_client):
    response = manager_client.post(
        reverse("admin:tickets_slapolicy_add"), policy_post(priorities=["urgent", "high"], plans=["enterprise"])
    )

    assert response.status_code == 302
    policy = SLAPolicy.objects.get()
    assert (policy.priorities, policy.plans) == (["high", "urgent"], ["enterprise"])
    assert policy.targets.get().first_reply_minutes == 60


def test_the_model_refuses_bad_conditions_from_anywhere():
    policy = SLAPolicyFactory.build(name="Shell", priorities=["hgih", 3], plans="enterprise")

    with pytest.raises(Exception) as caught:  # noqa: PT011 - ValidationError with both fields
        policy.full_clean()

    assert set(caught.value.message_dict) == {"priorities", "plans"}


# --- business calendars --------------------------------------------------------------------------


def calendar_post(**hours):
    data = {"name": "Berlin office", "timezone": "Europe/Berlin", **inline("holidays")}
    data.update({f"hours_{day}": "" for day in range(7)})
    data.update(hours)
    return data


def test_the_calendar_form_has_a_box_per_weekday_and_a_time_zone_list(manager_client):
    calendar = BusinessCalendarFactory(weekly_hours={"0": [["09:00", "12:00"], ["13:00", "17:00"]]})

    page = manager_client.get(reverse("admin:tickets_businesscalendar_change", args=[calendar.pk])).content.decode()

    assert 'name="hours_0" value="09:00-12:00, 13:00-17:00"' in page
    assert 'name="hours_6"' in page
    assert '<option value="Europe/Berlin">' in page
    assert 'name="weekly_hours"' not in page


@pytest.mark.parametrize(
    ("day", "typed"),
    [
        ("hours_0", "9-5"),
        ("hours_1", "17:00-09:00"),
        ("hours_2", "09:00-12:00, 11:00-14:00"),
        ("hours_3", "25:00-26:00"),
    ],
)
def test_bad_hours_are_an_error_on_their_weekday_and_nothing_is_saved(manager_client, day, typed):
    response = manager_client.post(
        reverse("admin:tickets_businesscalendar_add"), calendar_post(hours_4="09:00-17:00", **{day: typed})
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.errors) == [day]
    assert form[day].value() == typed  # the typed text is kept
    assert BusinessCalendar.objects.count() == 0


def test_an_unknown_time_zone_and_a_week_without_hours_are_refused(manager_client):
    data = calendar_post()
    data["timezone"] = "Mars/Olympus"

    response = manager_client.post(reverse("admin:tickets_businesscalendar_add"), data)

    form = response.context["adminform"].form
    assert "timezone" in form.errors
    assert BusinessCalendar.objects.count() == 0
    response = manager_client.post(reverse("admin:tickets_businesscalendar_add"), calendar_post())
    assert "at least one weekday" in str(response.context["adminform"].form.non_field_errors())
    assert BusinessCalendar.objects.count() == 0


def test_good_hours_save_as_the_weekly_hours_the_sla_reads(manager_client):
    response = manager_client.post(
        reverse("admin:tickets_businesscalendar_add"),
        calendar_post(hours_0="9:00-12:00, 13:00-17:30", hours_4="09:00-24:00"),
    )

    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get()
    assert calendar.weekly_hours == {"0": [["09:00", "12:00"], ["13:00", "17:30"]], "4": [["09:00", "24:00"]]}
    assert calendar.timezone == "Europe/Berlin"


# --- custom fields ---------------------------------------------------------------------------------


def test_a_choice_field_needs_its_values_one_per_line(manager_client):
    url = reverse("admin:tickets_customfield_add")
    base = {"label": "Plan tier", "key": "plan_tier", "type": "choice", "position": "100", "is_active": "on"}

    refused = manager_client.post(url, {**base, "choices": ""})
    assert "choices" in refused.context["adminform"].form.errors
    assert CustomField.objects.count() == 0

    saved = manager_client.post(url, {**base, "choices": "Gold\nSilver\n\n"})
    assert saved.status_code == 302
    assert CustomField.objects.get().choices == ["Gold", "Silver"]


# --- segments ---------------------------------------------------------------------------------------


def segment_post(**fields):
    return {"name": "EU business", "description": "", "open_tickets": "", **fields}


def test_the_segment_form_offers_plans_and_takes_regions_as_text(manager_client):
    page = manager_client.get(reverse("admin:outreach_segment_add")).content.decode()

    assert 'type="checkbox" name="plans" value="business"' in page
    assert '<input type="text" name="regions"' in page


def test_bad_segment_filters_are_refused_per_field(manager_client):
    response = manager_client.post(
        reverse("admin:outreach_segment_add"),
        segment_post(
            plans=["gold"],
            regions='["eu-west"], {}',
            created_after_0="2026-03-01",
            created_after_1="00:00",
            created_before_0="2026-01-01",
            created_before_1="00:00",
            health_below="140",
        ),
    )

    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"plans", "regions", "created_before", "health_below"}
    assert Segment.objects.count() == 0


def test_good_segment_filters_save(manager_client):
    response = manager_client.post(
        reverse("admin:outreach_segment_add"), segment_post(plans=["business"], regions="eu-west, us-east")
    )

    assert response.status_code == 302
    segment = Segment.objects.get()
    assert (segment.plans, segment.regions) == (["business"], ["eu-west", "us-east"])
