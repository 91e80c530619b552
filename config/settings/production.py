"""Production is the base settings read from the environment; nothing more."""

from config.settings.base import *  # noqa: F403
