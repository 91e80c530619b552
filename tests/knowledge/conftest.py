import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Rate-limit counters live in the cache: each test starts with its own, empty, in-process one."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kb"}}
    cache.clear()
    yield
    cache.clear()
