"""Test settings: the same as production but for speed and isolation.

DATABASE_URL and CELERY_BROKER_URL from the environment still apply, so CI runs
the suite on PostgreSQL and Redis.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")

from config.settings.base import *  # noqa: F403
from config.settings.base import HELPDESK, STORAGES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# a folder per pytest-xdist worker: tests that compare the stored files before and after a request
# (tests/tickets/test_attachments.py) must not see another worker's
MEDIA_ROOT = VAR_DIR / "test-media" / os.environ.get("PYTEST_XDIST_WORKER", "main")
HELPDESK = {**HELPDESK, "DELIVERY_RETRY_BASE_SECONDS": 0.2, "DELIVERY_RETRY_MAX_SECONDS": 2.0}
# unit tests run tasks inline when their transaction commits; tests marked `worker` use a real worker
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# every test process counts rate limits on its own (the shared file cache would carry counts across runs)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
