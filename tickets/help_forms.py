"""Forms of the help center's request pages."""

from django import forms

from customers.models import Product
from tickets.forms import MultipleFileField


class RequestForm(forms.Form):
    email = forms.EmailField(label="Your e-mail", help_text="We will write to you here.")
    name = forms.CharField(max_length=200, required=False, label="Your name")
    subject = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 7}), max_length=100_000,
                                  help_text="What happened, and what did you expect?")  # fmt: skip
    product = forms.ModelChoiceField(queryset=Product.objects.all(), required=False, empty_label="Not sure")
    attachments = MultipleFileField(required=False, help_text="Screenshots or files, up to 10 MB each.")
    search_log = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, signed_in: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if signed_in:
            del self.fields["email"]
            del self.fields["name"]


class CustomerReplyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=100_000, label="Your reply")
    attachments = MultipleFileField(required=False)


class RequestLinkForm(forms.Form):
    email = forms.EmailField(label="Your e-mail", help_text="The address you filed your requests with.")
