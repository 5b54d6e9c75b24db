"""Settings for the test suite: the normal settings in test mode."""

import os

os.environ.setdefault("PORTAL_ENV", "test")

from connectbooster.settings import *  # noqa: E402,F403
