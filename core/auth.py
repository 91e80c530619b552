from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from core.ratelimit import sign_in_failed, sign_in_locked, sign_in_succeeded


class EmailBackend(ModelBackend):
    """Signs in by e-mail, whatever its case, and counts wrong passwords (``core.ratelimit``).

    Every password check goes through here (the sign-in page, the API token endpoint, the admin), so they
    share one set of counters. An account locked from the client's address is refused before its password
    is checked, right or wrong; ``sign_in_limited`` on the view turns that into a 429.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        email = (username or kwargs.get("email") or "").strip().lower()
        if sign_in_locked(request, email):
            raise PermissionDenied("locked")  # stops authenticate() here: no other backend tries
        user = super().authenticate(request, username=email, password=password)
        if user is None:
            sign_in_failed(request, email)
        else:
            sign_in_succeeded(request, email)
        return user
