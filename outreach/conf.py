"""The outreach settings, read from ``settings.HELPDESK`` with their defaults."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "OUTREACH_FANOUT_SLICE": 2000,
    "OUTREACH_FANOUT_STALL_SECONDS": 30,
    "OUTREACH_FREQUENCY_CAP": 3,
    "OUTREACH_FREQUENCY_CAP_DAYS": 7,
    "OUTREACH_FOLLOW_UP_DELAY_HOURS": 24,
    "OUTREACH_REMINDER_CATCH_UP_DAYS": 3,
    "OUTREACH_MAINTENANCE_REMINDER_HOURS": 24,
    "OUTREACH_BANNER_CACHE_SECONDS": 15,
    "OUTREACH_SEGMENT_COUNT_CAP": 10_000,
    #: how long an announcement or onboarding message waits for the customer's open tickets to be solved,
    #: when its campaign does not say (``Campaign.hold_days``); then it is not sent
    "OUTREACH_HOLD_DAYS": 14,
}


def conf(name: str) -> Any:
    return settings.HELPDESK.get(name, DEFAULTS[name])
