"""core.conf: the one reader of ``settings.HELPDESK``."""

import ast
import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.conf import helpdesk_setting

ROOT = Path(__file__).resolve().parents[2]
RATE_NAME = re.compile(r"^RATELIMIT_[A-Z_]+$")


def test_a_setting_is_read_on_every_call_so_an_override_takes_effect(settings):
    assert helpdesk_setting("OUTREACH_HOLD_DAYS") == 14  # the default in config/settings/base.py

    settings.HELPDESK = {**settings.HELPDESK, "OUTREACH_HOLD_DAYS": 3}

    assert helpdesk_setting("OUTREACH_HOLD_DAYS") == 3


def test_a_missing_setting_says_where_to_add_it(settings):
    settings.HELPDESK = {k: v for k, v in settings.HELPDESK.items() if k != "SLA_SCAN_LIMIT"}

    with pytest.raises(ImproperlyConfigured, match=r"no 'SLA_SCAN_LIMIT': add it .* config/settings/base.py"):
        helpdesk_setting("SLA_SCAN_LIMIT")


def test_every_name_the_code_reads_has_its_default_in_the_base_settings():
    # the names passed as literals to helpdesk_setting(...) anywhere in the apps, the rates named by their
    # setting, and the link lifetimes core.tokens maps
    from config.settings import base
    from core.tokens import PURPOSES

    read: set[str] = set(PURPOSES.values())
    for app in ("core", "customers", "knowledge", "tickets", "outreach", "playbooks"):
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and RATE_NAME.match(node.value):
                    read.add(node.value)  # a rate given by its setting's name (core.ratelimit.parse_rate)
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "helpdesk_setting":
                    read |= {
                        c.value
                        for c in ast.walk(node.args[0])
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    }
    assert len(read) > 40
    assert sorted(read - set(base.HELPDESK)) == []
