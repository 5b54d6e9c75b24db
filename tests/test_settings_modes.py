"""Production mode refuses to start without its required settings, and is secure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "x" * 50,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "portal.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
    "PORTAL_BASE_URL": "https://portal.example.com",
}
PROBE = (
    "import django; from django.conf import settings; django.setup(); "
    "print(settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS)"
)


def _run(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    env.update({"DJANGO_SETTINGS_MODULE": "connectbooster.settings", **env_overrides})
    return subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True)


def test_production_settings_are_secure():
    result = _run(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "31536000"]


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "REDIS_URL", "DATABASE_URL", "PORTAL_BASE_URL"]
)
def test_a_missing_required_setting_stops_start_up_and_is_named(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _run(env)
    assert result.returncode != 0
    assert f"The setting {missing} is required in production" in result.stderr


def test_debug_is_refused_in_production():
    result = _run({**PRODUCTION_ENV, "DEBUG": "true"})
    assert result.returncode != 0
    assert "DEBUG must be off in production" in result.stderr


def _probe(env: dict, expression: str) -> subprocess.CompletedProcess:
    probe = f"import django; from django.conf import settings; django.setup(); print({expression})"
    environment = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "TRUSTED_PROXIES"}
    environment.update({"DJANGO_SETTINGS_MODULE": "connectbooster.settings", **env})
    return subprocess.run([sys.executable, "-c", probe], env=environment, cwd=ROOT, capture_output=True, text=True)


def test_hardening_13_production_requires_an_absolute_portal_base_url():
    missing = _probe({k: v for k, v in PRODUCTION_ENV.items() if k != "PORTAL_BASE_URL"}, "settings.PORTAL_BASE_URL")
    assert missing.returncode != 0
    assert "The setting PORTAL_BASE_URL is required in production" in missing.stderr
    relative = _probe({**PRODUCTION_ENV, "PORTAL_BASE_URL": "portal.example.com"}, "settings.PORTAL_BASE_URL")
    assert relative.returncode != 0 and "PORTAL_BASE_URL must be an http(s) URL" in relative.stderr


def test_hardening_13_the_proxy_https_header_is_believed_only_with_trusted_proxies():
    direct = _probe(PRODUCTION_ENV, "getattr(settings, 'SECURE_PROXY_SSL_HEADER', None)")
    assert direct.returncode == 0, direct.stderr
    assert direct.stdout.strip() == "None"
    proxied = _probe({**PRODUCTION_ENV, "TRUSTED_PROXIES": "10.0.0.5,10.1.0.0/16"}, "settings.SECURE_PROXY_SSL_HEADER")
    assert proxied.returncode == 0, proxied.stderr
    assert proxied.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"
    wrong = _probe({**PRODUCTION_ENV, "TRUSTED_PROXIES": "proxy.internal"}, "settings.TRUSTED_PROXIES")
    assert wrong.returncode != 0 and "TRUSTED_PROXIES: 'proxy.internal' is not an IP address" in wrong.stderr


# --- the test suite's own Redis and queue (hardening item 18) ------------------------------------


def _collect_only(env_overrides: dict, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """A direct `pytest` (not `make test`) that only collects one small file."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_overrides)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q", "tests/test_template_filters.py"]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_hardening_18_tests_refuse_a_development_redis():
    run = os.environ["PORTAL_TEST_RUN"]
    cases = {
        "no REDIS_URL: make run's": ({}, ("REDIS_URL", "PORTAL_TEST_RUN")),
        "make run's port": ({"REDIS_URL": "redis://127.0.0.1:6390/0", "PORTAL_TEST_RUN": run}, ()),
        "its cache alone": ({"CACHE_REDIS_URL": "redis://localhost:6390/1"}, ()),
        "not marked as a test Redis": ({"REDIS_URL": os.environ["REDIS_URL"]}, ("PORTAL_TEST_RUN",)),
    }
    for case, (overrides, drop) in cases.items():
        result = _collect_only(overrides, drop)
        output = result.stdout + result.stderr
        assert result.returncode != 0, case
        assert "Refusing to touch a development Redis" in output and "make test" in output, (case, output[-2000:])
    # The Redis `make test` gives this run is accepted.
    assert _collect_only({}).returncode == 0


def test_hardening_18_tests_use_a_queue_of_their_own(settings):
    from connectbooster.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    assert queue == "portal-test-" + os.environ["PORTAL_TEST_RUN"]
    assert app.conf.task_default_queue == queue != "portal"
