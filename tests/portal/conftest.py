import pytest

# The client side uses billing's fixtures: a fresh MEDIA_ROOT per test (autouse: cached invoice
# images), an invoice with a line, and client_of(organization) -> (signed-in contact, web client).
from tests.billing.conftest import _media_root, client_of, org_invoice  # noqa: F401


@pytest.fixture
def invitation_tasks_run_at_once():
    """Invitations are e-mailed by a Celery task queued on commit: run it at once in this
    process (eager), as a worker would, so the e-mail lands in mail.outbox."""
    from connectbooster.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
