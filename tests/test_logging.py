"""JSON logs (LOG_FORMAT=json), the log context (request id, sync run id, delivery id) and the
request id middleware."""

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.logging import JsonFormatter, LogContextFilter, current_log_context, log_context, logging_config
from core.middleware import request_id_from

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_lines():
    """Log lines written as LOG_FORMAT=json writes them, from every logger, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(LogContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    lines = SimpleNamespace(
        raw=stream.getvalue, parsed=lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    )
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous_level)


# --- the formatter and the context --------------------------------------------------------------


def test_one_json_object_per_line_with_time_level_logger_and_message(json_lines):
    logging.getLogger("portal.example").warning("Invoice %s: %s", "INV-1", "line one\nline two")

    assert json_lines.raw().count("\n") == 1
    [event] = json_lines.parsed()
    assert event["level"] == "WARNING"
    assert event["logger"] == "portal.example"
    assert event["message"] == "Invoice INV-1: line one\nline two"
    assert event["time"].endswith("+00:00")
    assert set(event) == {"time", "level", "logger", "message"}


def test_a_traceback_stays_on_the_event_line(json_lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("portal.example").exception("It broke")

    assert json_lines.raw().count("\n") == 1
    [event] = json_lines.parsed()
    assert event["message"] == "It broke"
    assert "ValueError: boom" in event["exception"]


def test_the_context_is_bound_inside_the_block_only_and_nests(json_lines):
    log = logging.getLogger("portal.example")
    with log_context(request_id="req-1"):
        log.info("in the request")
        with log_context(run_id=7):
            log.info("in the run")
        log.info("after the run")
    log.info("outside")

    events = json_lines.parsed()
    assert [(e["message"], e.get("request_id"), e.get("run_id")) for e in events] == [
        ("in the request", "req-1", None),
        ("in the run", "req-1", 7),
        ("after the run", "req-1", None),
        ("outside", None, None),
    ]
    assert current_log_context() == {}


def test_the_context_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), log_context(delivery_id=3):
        raise RuntimeError
    assert current_log_context() == {}


def test_an_unknown_context_key_is_refused():
    with pytest.raises(TypeError, match="password"), log_context(password="x"):
        pass


def test_an_id_passed_explicitly_wins(json_lines):
    with log_context(run_id=1):
        logging.getLogger("portal.example").info("other run", extra={"run_id": 2})
    assert json_lines.parsed()[0]["run_id"] == 2


def test_plain_stays_the_default_and_json_is_an_option():
    assert logging_config(log_format="plain", level="INFO")["handlers"]["console"]["formatter"] == "plain"
    assert logging_config(log_format="json", level="INFO")["handlers"]["console"]["formatter"] == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config(log_format="xml", level="INFO")


def test_log_format_json_in_the_environment_makes_the_portal_log_json_lines():
    env = {**os.environ, "PORTAL_ENV": "test", "DJANGO_SETTINGS_MODULE": "connectbooster.test_settings"}
    env["LOG_FORMAT"] = "json"
    code = (
        "import django, logging; django.setup(); "
        "from core.logging import log_context\n"
        "with log_context(request_id='abc'): logging.getLogger('portal.check').warning('hello')"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stderr.strip().splitlines()[-1])
    assert (event["logger"], event["message"], event["request_id"]) == ("portal.check", "hello", "abc")


# --- the request id -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("7f3c2a1e-proxy-id", True),
        ("Root=1-5759e988-bd862e3fe1be46a994272793", True),
        ("", False),
        (None, False),
        ("x" * 129, False),
        ("forged\nINFO admin signed in", False),
        ('{"level": "ERROR"}', False),
    ],
)
def test_an_incoming_request_id_is_kept_only_when_it_is_a_plain_token(incoming, kept):
    request_id = request_id_from(incoming)
    assert (request_id == incoming) is kept
    assert 1 <= len(request_id) <= 128


@pytest.mark.django_db
def test_every_response_carries_the_request_id_its_log_lines_carry(client, json_lines):
    response = client.get("/no-such-page/", headers={"X-Request-ID": "lb-1234"})

    assert response.status_code == 404
    assert response["X-Request-ID"] == "lb-1234"
    [not_found] = [e for e in json_lines.parsed() if e["logger"] == "django.request"]
    assert not_found["request_id"] == "lb-1234"
    assert current_log_context() == {}


def test_a_request_without_an_id_gets_a_new_one_each_time(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_redirects_carry_the_request_id_too(client):
    response = client.get("/integrations/", headers={"X-Request-ID": "req-redirect"})
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-redirect"


# --- the sync run id and the delivery id (bound by the Celery task around the service) -----------


def test_a_sync_run_task_logs_with_its_run_id(monkeypatch, json_lines):
    from integrations import tasks
    from integrations.sync import service

    def execute(run_id):
        logging.getLogger("integrations.sync.service").info("working")
        return SimpleNamespace(status="succeeded", resume_in=None)

    monkeypatch.setattr(service, "sync_run_execute", execute)
    tasks.sync_run_task.apply(args=(41,))

    [event] = [e for e in json_lines.parsed() if e["message"] == "working"]
    assert event["run_id"] == 41
    assert current_log_context() == {}


@pytest.mark.parametrize("task_name", ["deliver_email_task", "deliver_ticket_task"])
def test_a_delivery_task_logs_with_its_delivery_id(monkeypatch, json_lines, task_name):
    from notifications import tasks

    def attempt(delivery_id):
        logging.getLogger("notifications.delivery").warning("failed")
        raise RuntimeError("SMTP down")

    monkeypatch.setattr(tasks, "delivery_attempt", attempt)
    getattr(tasks, task_name).apply(args=(93,))

    [event] = [e for e in json_lines.parsed() if e["message"] == "failed"]
    assert event["delivery_id"] == 93
    assert current_log_context() == {}, "unbound even when the task raised"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_with_log_format_json_logs_json_lines_with_the_run_id(worker_env, tmp_path):
    from connectbooster.celery import app
    from integrations.tasks import sync_run_task
    from tests.conftest import CeleryWorker

    app.control.purge()
    worker = CeleryWorker({**worker_env, "LOG_FORMAT": "json"})
    worker.log_path = tmp_path / "worker.log"
    worker.start()
    try:
        sync_run_task.delay(987654)  # no such run: the task returns at once
        deadline = time.monotonic() + 20
        while b"succeeded" not in worker.log_path.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.stop()

    lines = worker.log_path.read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(e["message"].endswith("ready.") for e in events)
    [succeeded] = [e for e in events if "succeeded" in e["message"]]
    assert succeeded["run_id"] == 987654
    assert succeeded["logger"].startswith("celery")


# --- Sentry (optional) --------------------------------------------------------------------------


def test_sentry_is_off_without_a_dsn():
    import sentry_sdk

    assert not sentry_sdk.get_client().is_active()


def test_a_sentry_dsn_turns_on_error_reporting_for_web_and_celery_without_personal_data():
    env = {**os.environ, "PORTAL_ENV": "test", "DJANGO_SETTINGS_MODULE": "connectbooster.test_settings"}
    env["SENTRY_DSN"] = "http://public@127.0.0.1:9/1"  # never contacted: nothing is reported here
    code = (
        "import django, json, sentry_sdk; django.setup(); client = sentry_sdk.get_client(); "
        "print(json.dumps({'active': client.is_active(), 'integrations': sorted(client.integrations), "
        "**{k: client.options[k] for k in ('send_default_pii', 'max_request_body_size', "
        "'include_local_variables', 'environment', 'traces_sample_rate')}}))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout.strip().splitlines()[-1])
    assert options["active"] is True
    assert {"django", "celery"} <= set(options["integrations"])
    assert options["send_default_pii"] is False
    assert options["max_request_body_size"] == "never"
    assert options["include_local_variables"] is False
    assert options["environment"] == "test"
    assert options["traces_sample_rate"] == 0.0
