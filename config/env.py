"""Reading connection settings from URLs, with one clear line when they are wrong."""

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured


class ConfigurationError(ImproperlyConfigured):
    """A setting in the environment is wrong; the message names it and says how."""


_DB_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}
_EMAIL_SCHEMES = {"smtp", "smtps", "smtp+tls", "smtp+ssl", "consolemail", "filemail", "memorymail", "dummymail"}


def database_from_env(env: environ.Env, *, default: str) -> dict[str, Any]:
    url = env.str("DATABASE_URL", default=default)
    scheme = urlsplit(url).scheme
    if scheme not in _DB_SCHEMES:
        raise ConfigurationError(f"DATABASE_URL has an unsupported scheme {scheme!r}: use postgres:// or sqlite://")
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:
        raise ConfigurationError(f"DATABASE_URL is malformed: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        config["OPTIONS"] = {
            # WAL lets the web server and the workers read while one writes;
            # IMMEDIATE takes the write lock at BEGIN so writers queue instead of deadlocking.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        name = Path(config["NAME"])
        config["TEST"] = {"NAME": str(name.with_name(f"test_{name.name}"))}
    else:
        config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return config


def email_from_env(env: environ.Env, *, default_file_path: Path) -> dict[str, Any]:
    url = env.str("EMAIL_URL", default="")
    if not url:
        default_file_path.mkdir(parents=True, exist_ok=True)
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(default_file_path),
        }
    parts = urlsplit(url)
    if parts.scheme not in _EMAIL_SCHEMES:
        raise ConfigurationError(
            f"EMAIL_URL has an unsupported scheme {parts.scheme!r}: use smtp://, smtps://, smtp+tls://, "
            "consolemail:// or filemail://"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"EMAIL_URL is malformed: {exc}") from exc
    if parts.scheme.startswith("smtp") and not parts.hostname:
        raise ConfigurationError("EMAIL_URL is malformed: it names no host (expected smtp://user:password@host:port)")
    config = environ.Env.email_url_config(url)
    settings = {key: value for key, value in config.items() if key.startswith("EMAIL_")}
    if parts.scheme.startswith("smtp"):
        settings["EMAIL_PORT"] = port or (465 if parts.scheme in {"smtps", "smtp+ssl"} else 25)
        settings["EMAIL_TIMEOUT"] = env.int("EMAIL_TIMEOUT", default=10)
    if parts.scheme == "filemail":
        settings["EMAIL_FILE_PATH"] = str(default_file_path)
        default_file_path.mkdir(parents=True, exist_ok=True)
    return settings
