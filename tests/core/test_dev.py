"""``dev.py up``: the environment it gives web, worker and beat."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dev():
    spec = importlib.util.spec_from_file_location("helpdesk_dev", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_up_env_builds_the_site_url_from_host_and_port(dev):
    env, host, port = dev.up_env({"PORT": "8123"})

    assert (host, port) == ("127.0.0.1", "8123")
    assert env["HELPDESK_SITE_URL"] == "http://127.0.0.1:8123"
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_up_env_defaults_to_port_8000(dev):
    env, _, port = dev.up_env({})

    assert port == "8000"
    assert env["HELPDESK_SITE_URL"] == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:9000"),  # noqa: S104 - a wildcard bind is opened through the loopback
        ("::", "http://[::1]:9000"),
        ("desk.local", "http://desk.local:9000"),
        ("::1", "http://[::1]:9000"),
    ],
)
def test_up_env_site_url_is_a_reachable_address(dev, host, url):
    env, _, _ = dev.up_env({"HOST": host, "PORT": "9000"})

    assert env["HELPDESK_SITE_URL"] == url


def test_up_env_keeps_a_site_url_the_deployer_set(dev):
    env, _, _ = dev.up_env({"PORT": "8123", "HELPDESK_SITE_URL": "https://help.example.com"})

    assert env["HELPDESK_SITE_URL"] == "https://help.example.com"
