import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Role
from integrations.base import TenantIdentity
from integrations.locale import forget_tenant_locale
from integrations.models import Integration
from integrations.registry import get_provider
from integrations.services import data_source_link, integration_save_settings
from tests.factories import UserFactory

pytest_plugins = ["bms_sandbox.pytest_plugin"]

# `make run`'s Redis (scripts/run_portal.py, Procfile.dev): its sessions, cache and queue.
DEVELOPMENT_REDIS_PORT = 6390


def development_redis_refusal(environ, redis_urls: list[str]) -> str | None:
    """Why this run must not use these Redis URLs, or None when it may. The tests empty the
    cache and purge the queue, so they only use a Redis marked as a test one: started by
    `make test` (scripts/run_tests.py sets REDIS_URL and PORTAL_TEST_RUN), or declared by
    setting both by hand, and never `make run`'s."""
    use_make_test = "Run the tests with `make test`: it starts a Redis of their own (or uses REDIS_URL)."
    if not environ.get("REDIS_URL"):
        return f"REDIS_URL is not set, so the tests would use `make run`'s Redis (port 6390). {use_make_test}"
    for url in redis_urls:
        if (urlsplit(url).port or 6379) == DEVELOPMENT_REDIS_PORT:
            return (
                f"{url} is `make run`'s Redis (port {DEVELOPMENT_REDIS_PORT}); the tests would empty its cache "
                f"and purge its queue. {use_make_test}"
            )
    if not environ.get("PORTAL_TEST_RUN"):
        return (
            f"REDIS_URL ({environ['REDIS_URL']}) is not marked as a test Redis: the tests empty it. {use_make_test} "
            "If that Redis is yours to empty, mark it by also setting PORTAL_TEST_RUN=<a name for this run>."
        )
    return None


def pytest_configure(config):
    from django.conf import settings

    urls = [settings.REDIS_URL, settings.CACHE_REDIS_URL, settings.CELERY_BROKER_URL]
    refusal = development_redis_refusal(os.environ, urls)
    if refusal:
        raise pytest.UsageError(f"Refusing to touch a development Redis. {refusal}")


@pytest.fixture(autouse=True)
def _clean_cache():
    """Redis is shared by the whole run: start every test with an empty cache (and the
    tenant's locale read again from this test's database)."""
    cache.clear()
    forget_tenant_locale()
    yield
    forget_tenant_locale()


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@example.com", role=Role.MASTER_ADMIN)


@pytest.fixture
def billing_user(db):
    return UserFactory(email="billing@example.com", role=Role.BILLING_STAFF)


@pytest.fixture
def client_user(db):
    return UserFactory(email="client@example.com", role=Role.CLIENT_CONTACT)


def _logged_in(user) -> Client:
    web = Client()
    web.force_login(user)
    return web


@pytest.fixture
def admin_client(admin_user):
    return _logged_in(admin_user)


@pytest.fixture
def billing_client(billing_user):
    return _logged_in(billing_user)


@pytest.fixture
def client_client(client_user):
    return _logged_in(client_user)


def sandbox_settings_for(sandbox, settings) -> dict:
    """Settings of the Kaseya BMS card for ``sandbox`` (its host:port may use plain http, as the demo allows)."""
    settings.BMS_ALLOWED_INSECURE_HOSTS = [urlsplit(sandbox.url).netloc]
    return {
        "company_name": sandbox.tenant,
        "username": sandbox.username,
        "password": sandbox.password,
        "server_url": sandbox.url,
    }


def connect_sandbox(sandbox, settings, actor) -> Integration:
    """The Kaseya BMS integration for ``sandbox``, saved and linked to its tenant's data source as
    a passed Test Connection leaves it (without the requests: tests count them)."""
    cleaned = sandbox_settings_for(sandbox, settings)
    integration = integration_save_settings(provider=get_provider("kaseya-bms"), actor=actor, cleaned_data=cleaned)
    tenant_id = getattr(sandbox, "options", {}).get("tenant_id", 1)  # a SandboxServer or a SandboxHandle
    data_source_link(integration=integration, tenant=TenantIdentity(f"tenant:{tenant_id}", cleaned["company_name"]))
    return integration


@pytest.fixture
def sandbox_settings(bms_sandbox, settings):
    return sandbox_settings_for(bms_sandbox, settings)


@pytest.fixture
def bms_integration(bms_sandbox, settings, admin_user) -> Integration:
    return connect_sandbox(bms_sandbox, settings, admin_user)


def _database_url_for_workers() -> str:
    """The URL of the test database, for worker processes started by the tests."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class CeleryWorker:
    """A real `celery worker` process on the test database and the run's queue."""

    def __init__(self, env: dict):
        self._env = env
        self._command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "connectbooster",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self._cwd = Path(__file__).resolve().parent.parent
        self.process = None
        self.log_path = self._cwd / "test-artifacts" / "celery-worker.log"

    def start(self) -> None:
        self.log_path.parent.mkdir(exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self._command, env=self._env, cwd=self._cwd, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The Celery worker exited at start; see {self.log_path}")
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"The Celery worker did not become ready; see {self.log_path}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker):
    from django.conf import settings as django_settings

    with django_db_blocker.unblock():
        database_url = _database_url_for_workers()
    env = dict(os.environ)
    env.update(
        PORTAL_ENV="test",
        DJANGO_SETTINGS_MODULE="connectbooster.test_settings",
        DATABASE_URL=database_url,
        REDIS_URL=django_settings.REDIS_URL,
        CELERY_QUEUE=django_settings.CELERY_TASK_DEFAULT_QUEUE,
        # The sandboxes run on plain http on loopback ports chosen at start, as the demo allows.
        BMS_ALLOWED_INSECURE_HOSTS="127.0.0.1:*",
        # Short timings so crash and retry tests finish in seconds.
        SYNC_LOCK_TTL_SECONDS="3",
        SYNC_RETRY_BACKOFF_SECONDS="1",
    )
    return env


@pytest.fixture
def celery_worker(worker_env, transactional_db):
    """A fresh real worker per test (the queue emptied first), stopped afterwards."""
    from connectbooster.celery import app

    app.control.purge()
    worker = CeleryWorker(worker_env)
    worker.start()
    yield worker
    worker.stop()
