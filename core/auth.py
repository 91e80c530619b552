from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """Signs in by e-mail, whatever its case."""

    def authenticate(self, request, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        email = (username or kwargs.get("email") or "").strip().lower()
        return super().authenticate(request, username=email, password=password)
