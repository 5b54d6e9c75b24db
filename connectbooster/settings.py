"""Portal settings, read from the environment (django-environ).

PORTAL_ENV picks the mode: ``production`` (the default, so nothing insecure is
ever on by accident), ``development`` (``make run``) or ``test``. In production
every required setting must be given; start-up stops with a message naming the
missing one.
"""

from datetime import timedelta
from decimal import Decimal
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import lazy

from core.logging import logging_config, sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent
# The templates and static files ship inside this package, so an installed wheel carries them.
PROJECT_DIR = Path(__file__).resolve().parent

env = environ.Env()
# Beat's schedule, media and the development database. The default suits a checkout; an
# installed wheel sets VAR_DIR (BASE_DIR is then site-packages).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
PORTAL_ENV = env.str("PORTAL_ENV", default="production")
if PORTAL_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured(f"PORTAL_ENV must be production, development or test, not {PORTAL_ENV!r}.")
IS_PRODUCTION = PORTAL_ENV == "production"

# Development and test get working defaults; production must set everything.
_DEV_DEFAULTS = {
    "SECRET_KEY": "insecure-development-key-never-use-in-production",
    # A fixed development key: demo data encrypted by `make run` stays readable across restarts.
    "FIELD_ENCRYPTION_KEYS": "Mn3Wq0pL2Yl5pY1lWq8bT2kq3zJ3d8mX1qk9m0fYwzs=",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "REDIS_URL": "redis://127.0.0.1:6390/0",
    "PORTAL_BASE_URL": "http://127.0.0.1:8000",
}


def _required(name: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            f"The setting {name} is required in production (PORTAL_ENV=production). "
            f"Set the {name} environment variable; see README.md, 'Configuration'."
        )
    return _DEV_DEFAULTS[name]


SECRET_KEY = _required("SECRET_KEY")
# Off in every mode, `make run` included, so a newcomer sees the pages production shows
# (styled 403/404/500); a developer asks for Django's debug pages with DEBUG=1.
DEBUG = env.bool("DEBUG", default=False)
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production (PORTAL_ENV=production).")
ALLOWED_HOSTS = [h.strip() for h in _required("ALLOWED_HOSTS").split(",") if h.strip()]
FIELD_ENCRYPTION_KEYS = [k.strip() for k in _required("FIELD_ENCRYPTION_KEYS").split(",") if k.strip()]
REDIS_URL = _required("REDIS_URL")

if IS_PRODUCTION and not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured(
        "The setting DATABASE_URL is required in production (PORTAL_ENV=production), "
        "e.g. postgres://user:password@host:5432/portal."
    )
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", 60 if IS_PRODUCTION else 0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
    # A file, not memory, so a real Celery worker process in the tests sees the test data.
    # One file per test run, so concurrent runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{env.str('PORTAL_TEST_RUN', 'local')}.sqlite3")}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "accounts",
    # Django's admin, Master Admins only and read-only (accounts.admin_site).
    "accounts.apps.PortalAdminConfig",
    "integrations",
    "organizations",
    "billing",
    "portal",
    "notifications",
    "payments",
    # Integration providers: each registers itself when its app is ready.
    "providers.kaseya_bms",
    "providers.stripe",
    "providers.xero",
]

MIDDLEWARE = [
    # First, so every response (redirects and errors too) carries the request id it was logged with.
    "core.middleware.RequestIdMiddleware",
    # X-Forwarded-Proto counts only from TRUSTED_PROXIES (before SecurityMiddleware reads it).
    "core.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before CommonMiddleware (Django's order). The cached list HTML
    # (portal.list_cache) is keyed without the language: right while LANGUAGES has one entry;
    # a second language must add get_language() to those keys.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view that needed Redis while it was down answers a styled 503, not a traceback.
    "core.middleware.RedisUnavailableMiddleware",
]

ROOT_URLCONF = "connectbooster.urls"
WSGI_APPLICATION = "connectbooster.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PROJECT_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["portal.backends.PortalBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins before a lock-out of LOGIN_LOCKOUT_SECONDS: per account from one client
# address, and per client address over all accounts (accounts.login_throttle).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)

# The reverse proxies in front of the portal (addresses or networks, comma-separated; "unix"
# for one that reaches gunicorn over a Unix socket). Only requests from these have their
# X-Forwarded-For (the client address, for throttles) and X-Forwarded-Proto (https)
# believed; without them both headers are ignored (core.client_address).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        if _proxy.strip() != "unix":
            ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24) or unix."
        ) from None

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
# Sessions live in the database with a copy in Redis, read on each request; with Redis down
# they are read from the database and only signing out needs Redis (core.sessions).
SESSION_ENGINE = "core.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "SAMEORIGIN"  # invoice PDFs are shown inline in an <iframe> of our own pages
# check --deploy asks for DENY (security.W019); SAMEORIGIN is the reason above, and framing by
# other sites stays refused (CSP frame-ancestors 'self' says the same).
SILENCED_SYSTEM_CHECKS = ["security.W019"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    if TRUSTED_PROXIES:  # the header is stripped from anyone else (core.middleware)
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

LANGUAGE_CODE = "en-us"
# The interface is marked for translation; English (the source text) is what ships. See the
# README's "Translations" for adding a language.
LANGUAGES = [("en", "English")]
LOCALE_PATHS = [PROJECT_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [PROJECT_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "connectbooster.static_storage.StaticStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _redis_db(url: str, db: int) -> str:
    """The same Redis server, another database number."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


# The broker uses REDIS_URL's database; the cache, locks and request budgets the next one,
# so clearing the cache can never drop a queued task.
_broker_db = int((urlsplit(REDIS_URL).path or "/0").strip("/") or 0)
CACHE_REDIS_URL = env.str("CACHE_REDIS_URL", default=_redis_db(REDIS_URL, _broker_db + 1))
# Every Redis client (the cache and get_redis() apply these in core.redis; Celery below)
# gives up connecting after REDIS_CONNECT_TIMEOUT and waiting for an answer after
# REDIS_READ_TIMEOUT seconds; after a failure the cache skips Redis for
# REDIS_DOWN_PAUSE_SECONDS, so a page waits for one timeout at most.
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=2.0)
REDIS_READ_TIMEOUT = env.float("REDIS_READ_TIMEOUT", default=5.0)
REDIS_DOWN_PAUSE_SECONDS = env.float("REDIS_DOWN_PAUSE_SECONDS", default=5.0)
CACHES = {
    "default": {
        "BACKEND": "core.redis.PortalRedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="portal"),
    }
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://" if not IS_PRODUCTION else "smtp://localhost:25")
vars().update(EMAIL_CONFIG)
# A stuck SMTP server must not hold a worker (or outlive a delivery's lease).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@portal.local")
# Where the portal is reached (links in e-mails): required in production.
PORTAL_BASE_URL = _required("PORTAL_BASE_URL")
if urlsplit(PORTAL_BASE_URL).scheme not in {"http", "https"} or not urlsplit(PORTAL_BASE_URL).netloc:
    raise ImproperlyConfigured(
        f"PORTAL_BASE_URL must be an http(s) URL such as https://portal.example.com, not {PORTAL_BASE_URL!r}."
    )
MSP_NAME = env.str("MSP_NAME", default="Demo MSP")

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# BMS: plain http and non-global addresses are refused for the Server URL unless the
# host:port is listed here (the demo lists its local sandbox).
BMS_ALLOWED_INSECURE_HOSTS = env.list("BMS_ALLOWED_INSECURE_HOSTS", default=[])
BMS_CONNECT_TIMEOUT = env.float("BMS_CONNECT_TIMEOUT", default=5.0)
BMS_READ_TIMEOUT = env.float("BMS_READ_TIMEOUT", default=30.0)
BMS_HOURLY_REQUEST_LIMIT = env.int("BMS_HOURLY_REQUEST_LIMIT", default=1500)
# BMS keeps invoice PDFs as attachments of this module (undocumented; 22 is tickets).
BMS_INVOICE_ATTACHMENT_MODULE_ID = env.int("BMS_INVOICE_ATTACHMENT_MODULE_ID", default=9)

# Xero (the accounting package): its API, identity service, consent page and connections list.
XERO_API_BASE_URL = env.str("XERO_API_BASE_URL", default="https://api.xero.com/api.xro/2.0")
XERO_IDENTITY_URL = env.str("XERO_IDENTITY_URL", default="https://identity.xero.com")
XERO_AUTHORIZE_URL = env.str("XERO_AUTHORIZE_URL", default="https://login.xero.com/identity/connect/authorize")
XERO_CONNECTIONS_URL = env.str("XERO_CONNECTIONS_URL", default="https://api.xero.com/connections")

# Celery: a Redis broker. Sync tasks are idempotent, so they are acknowledged late and
# rejected (requeued) if the worker dies; time limits stay below the visibility timeout so
# a running task is never redelivered to a second worker.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_VISIBILITY_TIMEOUT = env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=2 * 60 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    # A publish from a web request waits at most this long on a dead or hanging broker.
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
    "socket_timeout": REDIS_READ_TIMEOUT,
}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=55 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="portal")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
SYNC_INTERVAL = timedelta(minutes=env.int("SYNC_INTERVAL_MINUTES", default=60))
CELERY_BEAT_SCHEDULE = {
    "schedule-syncs": {"task": "integrations.schedule_syncs", "schedule": SYNC_INTERVAL},
    "watch-syncs": {"task": "integrations.watch_syncs", "schedule": timedelta(minutes=1)},
    "notifications-sweep": {"task": "notifications.sweep", "schedule": timedelta(minutes=1)},
    "notifications-past-due": {"task": "notifications.invoices_past_due", "schedule": timedelta(days=1)},
    # Re-reads the processor's state of payments the portal has not settled (lost webhooks).
    "payments-settle": {"task": "payments.settle_unsettled", "schedule": timedelta(days=1)},
    "payments-autopay": {"task": "payments.autopay_evaluate", "schedule": timedelta(days=1)},
    "payments-posting-sweep": {"task": "payments.posting_sweep", "schedule": timedelta(minutes=5)},
    "notifications-autopay-summary": {"task": "notifications.autopay_summary", "schedule": timedelta(days=1)},
    "readiness-beat-tick": {"task": "connectbooster.beat_tick", "schedule": timedelta(minutes=1)},  # /readyz
}
# Incremental cursors start this long before the last run's start, to catch clock skew
# and records changed while that run was paging.
SYNC_OVERLAP = timedelta(minutes=env.int("SYNC_OVERLAP_MINUTES", default=10))
# Invoices created this recently are re-pulled on every run (drafts still being edited).
SYNC_INVOICE_RECENT_DAYS = env.int("SYNC_INVOICE_RECENT_DAYS", default=7)
# A scheduled run becomes a full reconcile (finds deletions) this often.
SYNC_RECONCILE_INTERVAL = timedelta(hours=env.int("SYNC_RECONCILE_INTERVAL_HOURS", default=24))
# Without a successful sync for this long, a Sync Not Running alert is raised.
SYNC_STALE_AFTER = timedelta(hours=env.int("SYNC_STALE_AFTER_HOURS", default=48))
# The per-source sync lock expires this long after its worker stops renewing it.
SYNC_LOCK_TTL = timedelta(seconds=env.int("SYNC_LOCK_TTL_SECONDS", default=60))
# A running sync whose heartbeat is older than this is taken over by another worker.
SYNC_STALE_HEARTBEAT = timedelta(seconds=env.int("SYNC_STALE_HEARTBEAT_SECONDS", default=120))
# Transient failures (BMS down, timeouts) are retried this many times, with backoff.
SYNC_MAX_RETRIES = env.int("SYNC_MAX_RETRIES", default=5)
SYNC_RETRY_BACKOFF = timedelta(seconds=env.int("SYNC_RETRY_BACKOFF_SECONDS", default=30))

# LOG_FORMAT=json: one JSON object per line (time, level, logger, message, and the request id,
# sync run id or delivery id it was logged under), for log collectors. Default: plain lines.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
# Celery workers and beat log through LOGGING too, instead of replacing the root logger's handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# Optional error reporting to Sentry (off unless SENTRY_DSN is set); see docs/observability.md.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default=PORTAL_ENV),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

if PORTAL_ENV == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

VAR_DIR.mkdir(exist_ok=True)
if not IS_PRODUCTION:
    # whitenoise serves from STATIC_ROOT; outside production, collectstatic has not run.
    WHITENOISE_USE_FINDERS = True
    Path(STATIC_ROOT).mkdir(exist_ok=True)

# Notifications
# A delivery being sent is leased for this long; a worker that dies mid-send loses the
# lease and another worker takes the delivery over (searching BMS for its ticket first).
NOTIFICATIONS_LEASE_SECONDS = env.int("NOTIFICATIONS_LEASE_SECONDS", default=300)
# Transient failures retry with capped full-jitter backoff, this many attempts in total.
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=8)
NOTIFICATIONS_RETRY_BACKOFF_SECONDS = env.float("NOTIFICATIONS_RETRY_BACKOFF_SECONDS", default=30.0)
NOTIFICATIONS_RETRY_BACKOFF_MAX_SECONDS = env.float("NOTIFICATIONS_RETRY_BACKOFF_MAX_SECONDS", default=900.0)
# BMS lookups (queues, priorities...) for the drop-downs are cached this long.
NOTIFICATIONS_LOOKUP_CACHE_SECONDS = env.int("NOTIFICATIONS_LOOKUP_CACHE_SECONDS", default=300)
# Invoice Past Due fires when an invoice reaches each of these days past due, if it reached
# the stage within the catch-up window (so years-old invoices don't all fire at once).
NOTIFICATIONS_PAST_DUE_STAGES = [
    int(d) for d in env.list("NOTIFICATIONS_PAST_DUE_STAGES", default=["1", "15", "30", "60", "90"])
]
NOTIFICATIONS_PAST_DUE_CATCH_UP_DAYS = env.int("NOTIFICATIONS_PAST_DUE_CATCH_UP_DAYS", default=7)
# The class that sends each channel's deliveries (dotted paths, resolved once). The variable
# (JSON, e.g. {"ticket": "..."}) replaces rows: tests select fault-injecting channels with it.
NOTIFICATIONS_CHANNELS = {
    "email": "notifications.channels.email.EmailChannel",
    "ticket": "notifications.channels.psa_ticket.PsaTicketChannel",
    **env.json("NOTIFICATIONS_CHANNELS", default={}),
}
# Sync events (New Invoice, Sync Failed, Sync Not Running) become notifications. Off by
# default under test so other areas' sync tests create no tickets in their sandbox.
NOTIFICATIONS_LISTEN_TO_SYNC = env.bool("NOTIFICATIONS_LISTEN_TO_SYNC", default=PORTAL_ENV != "test")
# The e-mail backend notifications use (empty: EMAIL_BACKEND). Tests point a worker process
# at a loopback SMTP server with this and EMAIL_URL.
NOTIFICATIONS_EMAIL_BACKEND = env.str("NOTIFICATIONS_EMAIL_BACKEND", default="")

# Payments (Stripe). STRIPE_API_BASE empty: real Stripe; the demo and the tests point it at
# localstripe (http://127.0.0.1:8420), whose fake Stripe.js is at <base>/js.stripe.com/v3/.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="") or None
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
STRIPE_CONNECT_TIMEOUT = env.float("STRIPE_CONNECT_TIMEOUT", default=10.0)
STRIPE_READ_TIMEOUT = env.float("STRIPE_READ_TIMEOUT", default=60.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)


def _stripe_js_origin() -> str:
    from django.conf import settings  # read when a response is made: tests point Stripe.js elsewhere

    parts = urlsplit(settings.STRIPE_JS_URL)
    return f"{parts.scheme}://{parts.netloc}"


def _stripe_api_origin() -> str:
    from django.conf import settings

    parts = urlsplit(settings.STRIPE_API_BASE or "https://api.stripe.com")
    return f"{parts.scheme}://{parts.netloc}"


# Content security policy (core.csp), on every page in every mode: scripts only from the portal
# and Stripe.js's origin, none inline (tests/test_csp.py). Card fields are Stripe's frames and
# talk to Stripe's API (or localstripe's). Styles may be inline: templates size progress bars
# with style attributes and htmx adds its indicator style; a style cannot run code. The Stripe
# sources follow STRIPE_JS_URL and STRIPE_API_BASE as they are when a response is made.
_STRIPE_JS = lazy(_stripe_js_origin, str)()
_STRIPE_API = lazy(_stripe_api_origin, str)()
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'", _STRIPE_JS],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", _STRIPE_JS],
    "font-src": ["'self'"],
    "connect-src": ["'self'", _STRIPE_API, _STRIPE_JS],
    "frame-src": ["'self'", _STRIPE_JS, "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "frame-ancestors": ["'self'"],  # as X_FRAME_OPTIONS
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
}

# Requests per second to Stripe, shared by every process through Redis (Stripe allows 25 in
# test mode and 100 in live mode); 0: unpaced.
STRIPE_REQUESTS_PER_SECOND = env.float("STRIPE_REQUESTS_PER_SECOND", default=25.0)
# The currency invoices are paid in when the portal stores none (the BMS tenant's currency).
PORTAL_CURRENCY = env.str("PORTAL_CURRENCY", default="USD").upper()
# The smallest amount a client may pay on an invoice (a smaller balance is paid in full).
PAYMENTS_MINIMUM_AMOUNT = Decimal(env.str("PAYMENTS_MINIMUM_AMOUNT", default="1.00"))
# Card surcharge, off by default: a percentage of the amount, capped (0: no cap), on credit cards
# only. Card-network rules and some jurisdictions limit or forbid surcharging: check before use.
PAYMENTS_CARD_SURCHARGE_PERCENT = Decimal(env.str("PAYMENTS_CARD_SURCHARGE_PERCENT", default="0"))
PAYMENTS_CARD_SURCHARGE_CAP = Decimal(env.str("PAYMENTS_CARD_SURCHARGE_CAP", default="0"))
# A worker charging a payment holds it this long; a worker that died loses it to the next try.
PAYMENTS_CHARGE_LEASE_SECONDS = env.int("PAYMENTS_CHARGE_LEASE_SECONDS", default=300)
# The nightly settle re-reads payments still unsettled after this many minutes.
PAYMENTS_SETTLE_AFTER_MINUTES = env.int("PAYMENTS_SETTLE_AFTER_MINUTES", default=30)
# Autopay: a failed charge is tried again after these many days (then after the next), then
# its rule pauses.
PAYMENTS_AUTOPAY_RETRY_DAYS = [int(d) for d in env.list("PAYMENTS_AUTOPAY_RETRY_DAYS", default=["1", "3"])]
# A class wrapping the payment collector (dotted path; empty: none), as Django selects a mail
# backend. The tests name one that ends a worker right after the processor confirmed a charge.
PAYMENTS_COLLECTOR_WRAPPER = env.str("PAYMENTS_COLLECTOR_WRAPPER", default="")
# Reconciliation report: succeeded payments BMS still does not show this many days later.
PAYMENTS_UNRECONCILED_AFTER_DAYS = env.int("PAYMENTS_UNRECONCILED_AFTER_DAYS", default=3)
