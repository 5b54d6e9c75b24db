"""The launcher: separate processes that never share state, flushing, clean stops."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from providers.stripe.client import StripeGateway
from providers.stripe.exceptions import NotFound
from scripts.localstripe_server import LocalStripeError, _answers, free_port, start_localstripe

from .conftest import LOCALSTRIPE_KEY

ROOT = Path(__file__).resolve().parents[3]


def _gateway(server) -> StripeGateway:
    return StripeGateway(LOCALSTRIPE_KEY, api_base=server.url, max_network_retries=0, timeout=10)


def test_two_instances_never_share_state(localstripe):
    """Both write /tmp/localstripe.pickle, but each starts from scratch and keeps its own."""
    customer = _gateway(localstripe).create_customer(name="Only in the session's instance")
    other = start_localstripe(log=subprocess.DEVNULL)
    try:
        with pytest.raises(NotFound):
            _gateway(other).retrieve_customer(customer.id)
        _gateway(other).create_customer(name="Only in the other instance")
        assert _gateway(localstripe).retrieve_customer(customer.id).name == "Only in the session's instance"
    finally:
        other.stop()
    assert other.process.returncode is not None and not _answers(other.port)


def test_flush_forgets_objects(localstripe):
    gateway = _gateway(localstripe)
    customer = gateway.create_customer(name="Acme")
    localstripe.flush()
    with pytest.raises(NotFound):
        gateway.retrieve_customer(customer.id)


def test_a_taken_port_is_reported():
    with socket.socket(socket.AF_INET6) as holder:
        holder.bind(("::", 0))
        holder.listen()
        with pytest.raises(LocalStripeError, match="exited"):
            start_localstripe(holder.getsockname()[1], log=subprocess.DEVNULL, timeout=10)


def test_the_command_line_runs_until_sigterm_and_stops_localstripe():
    port = free_port()
    command = [
        sys.executable,
        "scripts/localstripe_server.py",
        "--port",
        str(port),
        "--webhook-url",
        "http://127.0.0.1:9/hook",
        "--webhook-secret",
        "whsec_cli",
    ]
    launcher = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert launcher.stdout.readline().startswith(f"localstripe on http://127.0.0.1:{port}")
        assert _answers(port)
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(15) == 0
        deadline = time.monotonic() + 5
        while _answers(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _answers(port)
    finally:
        if launcher.poll() is None:
            launcher.terminate()
            launcher.wait(15)


def test_localstripe_dies_with_its_launcher():
    """Even a launcher killed outright (SIGKILL, no cleanup) takes its localstripe with it."""
    port = free_port()
    command = [sys.executable, "scripts/localstripe_server.py", "--port", str(port)]
    launcher = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert launcher.stdout.readline().startswith("localstripe on")
        launcher.kill()
        launcher.wait(5)
        deadline = time.monotonic() + 5
        while _answers(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _answers(port)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
