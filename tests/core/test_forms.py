"""core.forms.form_add_service_error: a service's ApplicationError on the form a view shows."""

from django import forms

from core.exceptions import ApplicationError
from core.forms import form_add_service_error


class CampaignForm(forms.Form):
    name = forms.CharField()
    hold_days = forms.IntegerField()
    email = forms.EmailField(required=False)


def _valid_form() -> CampaignForm:
    form = CampaignForm({"name": "Spring", "hold_days": "120", "email": "ada@example.com"})
    assert form.is_valid()
    return form


def test_each_field_gets_its_own_message_and_the_summary_heads_the_form():
    form = _valid_form()
    error = ApplicationError("The campaign cannot be saved.", {"hold_days": "From 0 to 90 days.", "name": "Taken."})

    form_add_service_error(form, error)

    assert form.errors == {
        "hold_days": ["From 0 to 90 days."],
        "name": ["Taken."],
        "__all__": ["The campaign cannot be saved."],
    }
    assert "hold_days" not in form.cleaned_data


def test_a_field_named_with_a_code_shows_the_message_once_on_that_field():
    form = _valid_form()

    form_add_service_error(form, ApplicationError("An account with this address exists.", {"email": "taken"}))

    assert form.errors == {"email": ["An account with this address exists."]}


def test_details_about_no_field_of_the_form_go_to_the_non_field_errors():
    form = _valid_form()

    form_add_service_error(form, ApplicationError("Only a draft can be scheduled.", {"status": "sent", "id": 4}))

    assert form.errors == {"__all__": ["Only a draft can be scheduled."]}


def test_a_list_of_sentences_is_one_message_each_and_another_fallback_field_can_be_named():
    form = _valid_form()
    error = ApplicationError("Weak password.", {"name": ["Too short.", "Too common."], "conflict": True})

    form_add_service_error(form, error, field="email")

    assert form.errors == {"name": ["Too short.", "Too common."], "email": ["Weak password."]}


def test_an_error_without_extra_is_a_non_field_error():
    form = _valid_form()

    form_add_service_error(form, ApplicationError("The ticket changed in the meantime."))

    assert form.errors == {"__all__": ["The ticket changed in the meantime."]}
    assert form.cleaned_data["name"] == "Spring"
