from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.template import loader

from customers.models import ESSENTIAL_CATEGORIES, Category


class LedgerPasswordResetForm(PasswordResetForm):
    """Django's reset form, sending through the delivery ledger like every other message."""

    def send_mail(  # type: ignore[override]
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        from customers.services import user_password_reset_send  # noqa: PLC0415

        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        user_password_reset_send(user=context["user"], subject=subject, body=body, token=context["token"],
                                 recipient=to_email)  # fmt: skip


class VerifyingSetPasswordForm(SetPasswordForm):
    """The new password of a reset, which proves the address too: the link came by e-mail."""

    def save(self, commit: bool = True) -> Any:
        from customers.services import user_email_verify  # noqa: PLC0415

        user_email_verify(user=self.user, password=self.cleaned_data["new_password1"])
        return self.user


class ConfirmWithPasswordForm(forms.Form):
    """Confirming an address from its link: the account's password shows the reader chose it."""

    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not the password of this account.")
        return password


OPTIONAL_CATEGORIES = [(value, label) for value, label in Category.choices if value not in ESSENTIAL_CATEGORIES]


class ContactPreferenceForm(forms.Form):
    receive = forms.MultipleChoiceField(
        choices=OPTIONAL_CATEGORIES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="E-mails I want to receive",
        help_text="Replies to your requests and outage notices are always sent.",
    )
    quiet_hours_start = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    quiet_hours_end = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("quiet_hours_start") is None) != (data.get("quiet_hours_end") is None):
            raise forms.ValidationError("Give both a start and an end for quiet hours, or neither.")
        return data

    def opted_out(self) -> list[str]:
        wanted = set(self.cleaned_data["receive"])
        return [value for value, _ in OPTIONAL_CATEGORIES if value not in wanted]


class SignUpForm(forms.Form):
    name = forms.CharField(max_length=200, label="Your name")
    email = forms.EmailField(label="E-mail")
    password1 = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            from django.contrib.auth import password_validation  # noqa: PLC0415

            try:
                password_validation.validate_password(first)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data
