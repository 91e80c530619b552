"""Settings shared by every environment.

Everything comes from the environment with embedded defaults, so that a fresh
clone runs with nothing installed: SQLite (WAL) under ``var/``, Celery on
Kombu's filesystem transport under ``var/``, e-mail written to ``var/mail/``.
``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``EMAIL_URL`` switch to
PostgreSQL, Redis and SMTP.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

from config.env import ConfigurationError, database_from_env, email_from_env

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
VAR_DIR = Path(env.str("HELPDESK_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
_INSECURE_DEV_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_INSECURE_DEV_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ConfigurationError("DJANGO_SECRET_KEY is not set (it is required when DJANGO_DEBUG is off)")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("HELPDESK_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "csp",
    "anymail",
    # ours, in import order: an app never imports one listed after it
    "core",
    "customers",
    "knowledge",
    "tickets",
    "outreach",
    "playbooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.ParameterErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "core.context_processors.roles",
                "outreach.context_processors.active_incidents",
            ],
            # partials are built into Django 6; on 5.2 they come from django-template-partials.
            # |sanitized is how a template shows HTML a person wrote (core.templatetags.sanitize)
            "builtins": ["template_partials.templatetags.partials", "core.templatetags.sanitize"],
        },
    },
]

DATABASES = {"default": database_from_env(env, default=f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = ["core.auth.EmailBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German"), ("fr", "French"), ("es", "Spanish"), ("nl", "Dutch")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env.str("HELPDESK_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- e-mail -------------------------------------------------------------------
vars().update(email_from_env(env, default_file_path=VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Helpdesk <support@helpdesk.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- security (HTTPS defaults that production keeps; DEBUG relaxes them) ------
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
# trust X-Forwarded-Proto only behind a proxy that sets it (and strips it from clients): DJANGO_BEHIND_PROXY=false
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_PROXY", default=True) else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp): our own scripts and styles only, no inline
# script but the few that carry this request's nonce ({{ CSP_NONCE }}), no inline style, no plugin, no
# framing, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- e-mail services' inbound webhooks (django-anymail; tickets.inbound.webhooks) --------------------
# Mounted at /inbound/anymail/<service>/inbound/. Every service's post must carry HTTP basic auth with
# ANYMAIL_WEBHOOK_SECRET ("user:password", several comma-separated while rotating); without it the
# webhook stores nothing (tickets.inbound.webhooks), because for Postmark, SendGrid and SES basic auth is
# the only proof that a post came from the service. Services that also sign their posts are checked
# with their key on top: Mailgun's HTTP webhook signing key, Postal's public key, MailerSend's secret.
ANYMAIL = {
    "WEBHOOK_SECRET": env.list("ANYMAIL_WEBHOOK_SECRET", default=[]),
    **{
        setting: value
        for setting, value in {
            "MAILGUN_WEBHOOK_SIGNING_KEY": env.str("ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
            "POSTAL_WEBHOOK_KEY": env.str("ANYMAIL_POSTAL_WEBHOOK_KEY", default=""),
            "MAILERSEND_INBOUND_SECRET": env.str("ANYMAIL_MAILERSEND_INBOUND_SECRET", default=""),
        }.items()
        if value  # an unset key stays unset: anymail then refuses that service's posts (500) instead of
    },  # checking them against an empty key
}

# --- REST framework -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.IsAgent"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    # DRF's parsers, with a depth limit on JSON bodies (core.api.parsers)
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Tickets, customers, product-usage events, incidents and outreach.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # no validator badge: it would load an image from validator.swagger.io
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.Status",
        "InboundEmailStateEnum": "tickets.inbound.models.InboundEmail.State",
        "TicketSettableStatusEnum": "tickets.api.serializers.SETTABLE_STATUS_CHOICES",
        "TicketChannelEnum": "tickets.models.Channel",
        "TicketKindEnum": "tickets.models.Kind",
        "DeliveryStatusEnum": "customers.models.Delivery.Status",
        "DeliveryChannelEnum": "customers.models.Delivery.Channel",
        "IncidentStatusEnum": "outreach.models.Incident.Status",
        "IncidentKindEnum": "outreach.models.Incident.Kind",
        "IncidentUpdateKindEnum": "outreach.models.IncidentUpdate.Kind",
        "CampaignStatusEnum": "outreach.models.Campaign.Status",
        # two serializers have a "state" (a run's, a campaign's): each enum named, so neither is a collision
        "PlaybookRunStateEnum": "playbooks.models.RunState",
        "ArticleStatusEnum": "knowledge.models.Article.Status",
    },
}

# --- Celery ---------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 60 * 60}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# the beat intervals of the recovery jobs (config/celery.py reads them from the environment at import):
# HELPDESK_DELIVERY_SWEEP_INTERVAL_SECONDS (10) and HELPDESK_OUTREACH_RESUME_INTERVAL_SECONDS (15)
CELERY_DB_REUSE_MAX = 1000

# --- cache (rate limits) ---------------------------------------------------------
# Redis when CACHE_URL or REDIS_URL is set (shared by every web process); otherwise files under var/,
# which every process on one machine shares too. Any django-environ cache URL works (locmemcache://, ...).
_CACHE_URL = env.str("CACHE_URL", default="") or env.str("REDIS_URL", default="")
if _CACHE_URL:
    CACHES = {"default": environ.Env.cache_url_config(_CACHE_URL)}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        }
    }

# --- the helpdesk's own settings -------------------------------------------------
# read with core.conf.helpdesk_setting(name); each default lives here and nowhere else
HELPDESK = {
    # deliveries (customers.services.deliveries_planning and deliveries_sending)
    "DELIVERY_CHUNK_SIZE": env.int("HELPDESK_DELIVERY_CHUNK_SIZE", default=500),
    "DELIVERY_MAX_ATTEMPTS": env.int("HELPDESK_DELIVERY_MAX_ATTEMPTS", default=8),
    "DELIVERY_RETRY_BASE_SECONDS": env.float("HELPDESK_DELIVERY_RETRY_BASE_SECONDS", default=30.0),
    "DELIVERY_RETRY_MAX_SECONDS": env.float("HELPDESK_DELIVERY_RETRY_MAX_SECONDS", default=60 * 60),
    # a due row is presumed lost with its task (broker restarted, worker killed holding it) when it has
    # waited this long and its queue in the broker is empty; while the queue still holds messages, only
    # after the BUSY grace (a 100,000-row fan-out keeps rows waiting in the queue for a minute or two)
    "DELIVERY_SWEEP_GRACE_SECONDS": env.int("HELPDESK_DELIVERY_SWEEP_GRACE_SECONDS", default=20),
    "DELIVERY_SWEEP_BUSY_GRACE_SECONDS": env.int("HELPDESK_DELIVERY_SWEEP_BUSY_GRACE_SECONDS", default=120),
    # a sending chunk holds a lease on its rows and extends it while it sends (every half lease); the
    # sweeper re-queues rows whose lease lapsed. Longer than one SMTP exchange can take (EMAIL_TIMEOUT
    # 10 s a command), so a slow server does not look like a dead worker
    "DELIVERY_LEASE_SECONDS": env.int("HELPDESK_DELIVERY_LEASE_SECONDS", default=30),
    "DELIVERY_SWEEP_LIMIT": env.int("HELPDESK_DELIVERY_SWEEP_LIMIT", default=50_000),
    # sent marks are written (and durably committed) every this many messages or seconds, whichever
    # comes first: at most that many messages go twice when a worker dies mid chunk
    "DELIVERY_MARK_BATCH": env.int("HELPDESK_DELIVERY_MARK_BATCH", default=20),
    "DELIVERY_MARK_SECONDS": env.float("HELPDESK_DELIVERY_MARK_SECONDS", default=1.0),
    # outreach
    "OUTREACH_FANOUT_SLICE": env.int("HELPDESK_OUTREACH_FANOUT_SLICE", default=2000),
    # a slice plans 2,000 customers in 1-2 s; a fan-out with no progress for this long lost its task
    "OUTREACH_FANOUT_STALL_SECONDS": env.int("HELPDESK_OUTREACH_FANOUT_STALL_SECONDS", default=30),
    "OUTREACH_FREQUENCY_CAP": env.int("HELPDESK_OUTREACH_FREQUENCY_CAP", default=3),
    "OUTREACH_FREQUENCY_CAP_DAYS": env.int("HELPDESK_OUTREACH_FREQUENCY_CAP_DAYS", default=7),
    "OUTREACH_FOLLOW_UP_DELAY_HOURS": env.float("HELPDESK_OUTREACH_FOLLOW_UP_DELAY_HOURS", default=24.0),
    "OUTREACH_REMINDER_CATCH_UP_DAYS": env.int("HELPDESK_OUTREACH_REMINDER_CATCH_UP_DAYS", default=3),
    "OUTREACH_MAINTENANCE_REMINDER_HOURS": env.int("HELPDESK_OUTREACH_MAINTENANCE_REMINDER_HOURS", default=24),
    "OUTREACH_BANNER_CACHE_SECONDS": env.int("HELPDESK_OUTREACH_BANNER_CACHE_SECONDS", default=15),
    # a segment's size is counted exactly up to this many customers, then shown as "10,000+"
    "OUTREACH_SEGMENT_COUNT_CAP": env.int("HELPDESK_OUTREACH_SEGMENT_COUNT_CAP", default=10_000),
    # how long an announcement or onboarding message waits for the customer's open tickets to be solved,
    # when its campaign does not say (Campaign.hold_days); then it is not sent
    "OUTREACH_HOLD_DAYS": env.int("HELPDESK_OUTREACH_HOLD_DAYS", default=14),
    # product-usage events and playbooks
    "EVENT_RETENTION_DAYS": env.int("HELPDESK_EVENT_RETENTION_DAYS", default=180),
    "EVENT_ROLLUP_OVERLAP_SECONDS": env.int("HELPDESK_EVENT_ROLLUP_OVERLAP_SECONDS", default=300),
    "PLAYBOOK_ADVANCE_BATCH": env.int("HELPDESK_PLAYBOOK_ADVANCE_BATCH", default=500),
    # tickets
    # product events (customers): the JSON size of one event's properties
    "EVENT_PROPERTIES_MAX_BYTES": env.int("HELPDESK_EVENT_PROPERTIES_MAX_BYTES", default=16 * 1024),
    # inbound e-mail (tickets.inbound)
    "INBOUND_MAX_BYTES": env.int("HELPDESK_INBOUND_MAX_BYTES", default=25 * 1024 * 1024),
    "INBOUND_MAX_ATTEMPTS": env.int("HELPDESK_INBOUND_MAX_ATTEMPTS", default=5),
    "INBOUND_RETRY_BASE_SECONDS": env.float("HELPDESK_INBOUND_RETRY_BASE_SECONDS", default=60.0),
    # messages one transaction routes: a batch of 100 takes ~0.3 s, so the tickets it replies on are
    # locked that long at most, and its fixed cost (~10 queries) is 0.1 query a message
    "INBOUND_PROCESS_BATCH": env.int("HELPDESK_INBOUND_PROCESS_BATCH", default=100),
    # a batch task's time (read when the worker starts). At the soft limit the message being routed fails
    # (retried like any failure) and the batch commits the rest's work or hands it to a new task; at the hard
    # limit the worker's process is killed, and the message it was on is routed alone next time. A batch of
    # 100 takes ~0.3 s; 100 messages of 25 MB with attachments to store, a minute on a slow disk
    "INBOUND_SOFT_TIME_LIMIT_SECONDS": env.int("HELPDESK_INBOUND_SOFT_TIME_LIMIT_SECONDS", default=120),
    "INBOUND_TIME_LIMIT_SECONDS": env.int("HELPDESK_INBOUND_TIME_LIMIT_SECONDS", default=150),
    # automatic answers to one address an hour (acknowledgments, "known customers only" notices): stops loops
    "INBOUND_AUTO_REPLIES_PER_HOUR": env.int("HELPDESK_INBOUND_AUTO_REPLIES_PER_HOUR", default=5),
    "ATTACHMENT_MAX_BYTES": env.int("HELPDESK_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024),
    "ATTACHMENT_CONTENT_TYPES": env.list(
        "HELPDESK_ATTACHMENT_CONTENT_TYPES",
        default=[
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
            "text/csv",
            "application/json",
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "message/rfc822",
        ],
    ),
    "TICKET_AUTOCLOSE_DAYS": env.int("HELPDESK_TICKET_AUTOCLOSE_DAYS", default=4),
    "SLA_WARNING_MINUTES": env.int("HELPDESK_SLA_WARNING_MINUTES", default=15),
    "SLA_SCAN_LIMIT": env.int("HELPDESK_SLA_SCAN_LIMIT", default=2_000),
    "TICKET_DEFAULT_QUEUE": env.str("HELPDESK_TICKET_DEFAULT_QUEUE", default=""),
    "TICKET_VIEWER_SECONDS": env.int("HELPDESK_TICKET_VIEWER_SECONDS", default=60),
    # how long a manager's invitation to the team works (tickets.services.team)
    "AGENT_INVITE_MAX_AGE_HOURS": env.int("HELPDESK_AGENT_INVITE_MAX_AGE_HOURS", default=7 * 24),
    # knowledge search: rank at most this many matches, show "1,000+" beyond (knowledge.search)
    "SEARCH_RANK_LIMIT": env.int("HELPDESK_SEARCH_RANK_LIMIT", default=1000),
    "SEARCH_SUGGEST_RANK_LIMIT": env.int("HELPDESK_SEARCH_SUGGEST_RANK_LIMIT", default=200),
    "SEARCH_CONFIG": env.str("HELPDESK_SEARCH_CONFIG", default="english"),
    "SEARCH_TIMEOUT_MS": env.int("HELPDESK_SEARCH_TIMEOUT_MS", default=1000),
    # lifetimes of the signed links we e-mail, in days (core.tokens)
    "REQUEST_LINK_MAX_AGE_DAYS": env.float("HELPDESK_REQUEST_LINK_MAX_AGE_DAYS", default=30),
    "SURVEY_LINK_MAX_AGE_DAYS": env.float("HELPDESK_SURVEY_LINK_MAX_AGE_DAYS", default=30),
    # RFC 8058 expects a one-click unsubscribe link to keep working for at least 60 days
    "UNSUBSCRIBE_LINK_MAX_AGE_DAYS": env.float("HELPDESK_UNSUBSCRIBE_LINK_MAX_AGE_DAYS", default=180),
    "EMAIL_VERIFY_MAX_AGE_DAYS": env.float("HELPDESK_EMAIL_VERIFY_MAX_AGE_DAYS", default=3),
    # rate limits of public endpoints (core.ratelimit): "<count>/<s|m|h|d>"
    "RATELIMIT_SEARCH": env.str("HELPDESK_RATELIMIT_SEARCH", default="30/m"),
    "RATELIMIT_TYPEAHEAD": env.str("HELPDESK_RATELIMIT_TYPEAHEAD", default="120/m"),
    "RATELIMIT_FEEDBACK": env.str("HELPDESK_RATELIMIT_FEEDBACK", default="10/m"),
    "RATELIMIT_SUBMIT": env.str("HELPDESK_RATELIMIT_SUBMIT", default="10/m"),  # also customers' API tickets
    "RATELIMIT_SIGN_IN": env.str("HELPDESK_RATELIMIT_SIGN_IN", default="10/m"),  # password reset, sign-up
    # wrong passwords (sign-in page, API token, admin): per (address, account) tightly, per address loosely
    "RATELIMIT_SIGN_IN_ACCOUNT": env.str("HELPDESK_RATELIMIT_SIGN_IN_ACCOUNT", default="5/15m"),
    "RATELIMIT_SIGN_IN_IP": env.str("HELPDESK_RATELIMIT_SIGN_IN_IP", default="50/15m"),
    # "send me my links" and "send the confirmation again": per address and per client
    "RATELIMIT_LINK_REQUEST": env.str("HELPDESK_RATELIMIT_LINK_REQUEST", default="5/h"),
    "RATELIMIT_API_SEARCH": env.str("HELPDESK_RATELIMIT_API_SEARCH", default="60/m"),
    # how many reverse proxies append to X-Forwarded-For in front of us (0: use REMOTE_ADDR)
    "RATELIMIT_TRUSTED_PROXIES": env.int("HELPDESK_RATELIMIT_TRUSTED_PROXIES", default=0),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
