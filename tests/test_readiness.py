"""/healthz and /readyz. Down cases point settings at a closed port: nothing shared is stopped."""

import socket
import threading
import time

import pytest
from celery.beat import Scheduler
from django.db import DEFAULT_DB_ALIAS, connections

from connectbooster import health
from connectbooster.celery import BEAT_TICK_KEY, BEAT_TICK_TASK, app, beat_tick_stamp, readiness_redis


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def beat_ticked():
    beat_tick_stamp()


def _stamp_age(seconds: float) -> None:
    beat_tick_stamp(now=time.time() - seconds)


def _assert_reveals_nothing(response, *secrets) -> None:
    body = response.content.decode()
    for secret in ("127.0.0.1", "redis://", "postgres", "sqlite", "celery", *map(str, secrets)):
        assert secret not in body.lower()


def test_healthz_is_plain_and_touches_nothing(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


# --- each check, up and down ----------------------------------------------------------------------


@pytest.mark.django_db
def test_database_up():
    assert health.check_database() == "up"


@pytest.mark.django_db
def test_database_down(monkeypatch, closed_port):
    down = {
        **connections.settings[DEFAULT_DB_ALIAS],
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "portal",
        "USER": "portal",
        "PASSWORD": "secret-password",
        "HOST": "127.0.0.1",
        "PORT": str(closed_port),
        "OPTIONS": {},
    }
    monkeypatch.setitem(connections.settings, DEFAULT_DB_ALIAS, down)
    with pytest.raises(health.CheckFailed, match="unreachable"):
        health.check_database()


def test_redis_up():
    assert health.check_redis() == "up"


def test_redis_down(settings, closed_port):
    settings.CACHE_REDIS_URL = f"redis://127.0.0.1:{closed_port}/1"
    with pytest.raises(health.CheckFailed, match="unreachable"):
        health.check_redis()


def test_broker_up():
    assert health.check_broker() == "up"


def test_broker_down_fails_at_once(settings, closed_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    started = time.monotonic()
    with pytest.raises(health.CheckFailed, match="unreachable"):
        health.check_broker()
    assert time.monotonic() - started < 1, "no retries: the state now"


def test_beat_up_after_a_tick(beat_ticked):
    assert health.check_beat().startswith("ticked 0 s ago")


def test_beat_down_without_a_tick():
    with pytest.raises(health.CheckFailed, match="no tick in the last 120 s"):
        health.check_beat()


def test_beat_down_when_the_last_tick_is_older_than_two_minutes():
    _stamp_age(100)
    assert health.check_beat() == "ticked 100 s ago"
    _stamp_age(180)
    with pytest.raises(health.CheckFailed, match="last tick 180 s ago"):
        health.check_beat()


def test_beat_down_when_redis_is(settings, closed_port):
    beat_tick_stamp()
    settings.CACHE_REDIS_URL = f"redis://127.0.0.1:{closed_port}/1"
    with pytest.raises(health.CheckFailed, match="Redis unreachable"):
        health.check_beat()


def test_worker_down_without_a_worker():
    app.control.purge()
    with pytest.raises(health.CheckFailed, match="no worker answered a ping within 1 s"):
        health.check_worker()


def test_worker_down_when_the_broker_is(settings, closed_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    with pytest.raises(health.CheckFailed, match="broker unreachable"):
        health.check_worker()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_up_and_readyz_200_with_a_real_worker(celery_worker, beat_ticked, client):
    # Pings travel over Redis pub/sub: one sent before the new worker has subscribed is lost.
    deadline = time.monotonic() + 15
    while True:
        try:
            assert health.check_worker() == "answered"
            break
        except health.CheckFailed:
            if time.monotonic() > deadline:
                raise

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["down"] == []
    assert set(body["checks"]) == {"database", "redis", "broker", "beat", "worker"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["worker"]["detail"] == "answered"
    assert response["Cache-Control"].startswith("max-age=0")


# --- the beat tick --------------------------------------------------------------------------------


def test_beat_schedule_sends_the_tick_every_minute_and_sending_it_stamps_redis():
    entry_settings = app.conf.beat_schedule["readiness-beat-tick"]
    assert entry_settings["task"] == BEAT_TICK_TASK
    assert entry_settings["schedule"].total_seconds() == 60
    readiness_redis().delete(BEAT_TICK_KEY)
    scheduler = Scheduler(app=app, lazy=True)
    entry = scheduler.Entry(name="readiness-beat-tick", app=app, **entry_settings)
    try:
        scheduler.apply_entry(entry, producer=None)
        assert health.check_beat() == "ticked 0 s ago"
    finally:
        app.control.purge()


def test_a_tick_sent_while_redis_is_down_does_not_break_beat(settings, closed_port, caplog):
    settings.CACHE_REDIS_URL = f"redis://127.0.0.1:{closed_port}/1"
    try:
        app.send_task(BEAT_TICK_TASK)
    finally:
        app.control.purge()
    assert "Could not record the beat tick" in caplog.text


# --- /readyz --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_503_names_what_is_down_and_nothing_secret(client, settings, closed_port, beat_ticked):
    settings.CACHE_REDIS_URL = f"redis://:hunter2@127.0.0.1:{closed_port}/1"
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{closed_port}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["redis", "broker", "beat", "worker"]
    assert body["checks"]["database"] == {"ok": True, "detail": "up"}
    assert body["checks"]["redis"] == {"ok": False, "detail": "unreachable"}
    assert body["checks"]["worker"] == {"ok": False, "detail": "broker unreachable"}
    _assert_reveals_nothing(response, closed_port, "hunter2")


def test_readyz_answers_in_bounded_time_when_a_check_hangs(client, monkeypatch):
    release = threading.Event()

    def hangs() -> str:
        release.wait(30)
        return "up"

    monkeypatch.setattr(health, "READINESS_CHECKS", {"redis": health.check_redis, "database": hangs})
    started = time.monotonic()
    try:
        response = client.get("/readyz")
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
    assert response.json()["checks"]["database"] == {"ok": False, "detail": "timed out"}
    assert response.json()["checks"]["redis"]["ok"] is True


def test_an_unexpected_error_is_reported_without_its_message(client, monkeypatch):
    def explodes() -> str:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr(health, "READINESS_CHECKS", {"database": explodes})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "detail": "failed"}
    _assert_reveals_nothing(response, "hunter2")
