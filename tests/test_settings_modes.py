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
    "missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "REDIS_URL", "DATABASE_URL"]
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
