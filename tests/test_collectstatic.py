"""Production static files: collectstatic with hashed names must succeed (it fails on a
reference to a missing file, such as a vendored file's source map)."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def test_collectstatic_succeeds_in_production_mode(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "connectbooster.settings",
        "PORTAL_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "portal.example.com",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
        "PORTAL_BASE_URL": "https://portal.example.com",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    assert "vendor/bootstrap/bootstrap.min.css" in manifest and "vendor/htmx/htmx.min.js" in manifest
    # Every file of the project package's static/ (STATICFILES_DIRS), under a hashed name.
    static = ROOT / "connectbooster" / "static"
    for path in static.rglob("*"):
        if path.is_file():
            assert f'"{path.relative_to(static).as_posix()}"' in manifest, path
