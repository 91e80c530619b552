from django import forms
from django.urls import reverse_lazy

from core.forms import IdModelMultipleChoiceField
from customers.models import Product, Tag
from knowledge.models import Article, Category


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=200, required=False, help_text="The address in the help center; made from the title when empty."
    )
    category = forms.ModelChoiceField(queryset=Category.objects.select_related("parent"), required=False)
    body = forms.CharField(
        widget=forms.Textarea(
            attrs={
                "rows": 18,
                "class": "markdown",
                # live preview: the markdown goes to the preview endpoint, sanitized HTML comes back
                "hx-post": reverse_lazy("agent-knowledge-preview"),
                "hx-trigger": "input changed delay:400ms",
                "hx-target": "#preview",
                "hx-swap": "outerHTML",
                "hx-sync": "this:replace",
            }
        ),
        help_text="Markdown. The preview shows it as customers will see it.",
        strip=False,
    )
    products = IdModelMultipleChoiceField(
        queryset=Product.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    tags = IdModelMultipleChoiceField(queryset=Tag.objects.all(), required=False)
    note = forms.CharField(max_length=200, required=False, label="What changed", help_text="Kept with the version.")

    @staticmethod
    def initial_for(article: Article) -> dict[str, object]:
        return {
            "title": article.title,
            "slug": article.slug,
            "category": article.category_id,
            "body": article.body,
            "products": [product.pk for product in article.products.all()],
            "tags": [tag.pk for tag in article.tags.all()],
        }


class PreviewForm(forms.Form):
    body = forms.CharField(required=False, strip=False, max_length=200_000)


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        label="Was this article helpful?",
    )
    comment = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Anything we should add? (optional)",
    )
