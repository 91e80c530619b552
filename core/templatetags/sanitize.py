"""``{{ html|sanitized }}``: the one way a template shows HTML that a person wrote.

Article bodies, ticket messages and template previews are sanitized on the way in
(``core.markdown``); this filter cleans them again with the same nh3 rules on the way
out, so that a row written some other way (an import, a data migration, an old
version) still cannot carry a script, an event handler or an ``hx-*`` attribute into a
page. It is a builtin of the template engine (``config.settings``): no ``{% load %}``.
Templates never use ``|safe`` on such text; ``.ci/check_safe.py`` keeps it that way.
"""

from django import template
from django.utils.safestring import SafeString, mark_safe

from core.markdown import sanitize_html

register = template.Library()


@register.filter(is_safe=True)
def sanitized(value: object) -> SafeString:
    html = sanitize_html("" if value is None else str(value))
    return mark_safe(html)  # noqa: S308  (the output of nh3 with our allow-list of tags and attributes)
