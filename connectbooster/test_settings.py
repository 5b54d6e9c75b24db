"""Settings for the test suite: the normal settings in test mode.

The run's Celery queue is its own (portal-test-<run>), so a test run never takes, nor
purges, the tasks of `make run` or of another run on the same Redis. tests/conftest.py
refuses a development Redis.
"""

import os

os.environ.setdefault("PORTAL_ENV", "test")

from connectbooster.settings import *  # noqa: E402,F403

CELERY_TASK_DEFAULT_QUEUE = (
    os.environ.get("CELERY_QUEUE") or f"portal-test-{os.environ.get('PORTAL_TEST_RUN', 'local')}"
)
