"""The helpdesk's own settings: one reader of ``settings.HELPDESK``, whose defaults live in config/settings/base.py.

Each key there is read from the environment (``HELPDESK_<KEY>``) with its default beside it, so a module never
repeats a default (outreach's copies once disagreed with base.py's). Read on every call, not at import, so
``override_settings(HELPDESK=...)`` in a test and a changed environment in a worker both take effect.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def helpdesk_setting(name: str) -> Any:
    """``settings.HELPDESK[name]``; a name missing there is a configuration error that says where to add it."""
    try:
        return settings.HELPDESK[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"settings.HELPDESK has no {name!r}: add it with its default to config/settings/base.py"
        ) from None
