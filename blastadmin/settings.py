"""blastadmin settings: one module, every value from the environment.

Bad values fail loudly at start-up (environs raises ``EnvValidationError``,
our own checks raise ``ImproperlyConfigured``); nothing is silently defaulted
except what is documented in README.md and ``.env.example``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import phonenumbers
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _
from environs import Env

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
# A local .env file is a convenience for development; real deployments set the environment.
# Variables already in the environment win over the file.
env.read_env(env.str("BLASTADMIN_ENV_FILE", str(BASE_DIR / ".env")), recurse=False)

DEBUG: bool = env.bool("DEBUG", False)

_DEV_SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789"  # noqa: S105
SECRET_KEY: str = env.str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "blastadmin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "blastadmin.wsgi.application"

# --- Database -------------------------------------------------------------------------------
_DEFAULT_DATABASE_URL = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
_SUPPORTED_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}


def _database_from_url(url_env: Env) -> dict[str, Any]:
    database: dict[str, Any] = url_env.dj_db_url("DATABASE_URL", _DEFAULT_DATABASE_URL)
    engine = database.get("ENGINE")
    if engine not in _SUPPORTED_ENGINES:
        raise ImproperlyConfigured(
            "DATABASE_URL must be a sqlite:/// or postgres:// URL "
            f"(got a URL for {engine or 'an unknown engine'})."
        )
    if engine == "django.db.backends.sqlite3":
        # SQLite is only the zero-setup default: WAL and IMMEDIATE transactions keep the
        # web process and the django-q2 workers from tripping over "database is locked".
        database["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        database["CONN_MAX_AGE"] = url_env.int("DATABASE_CONN_MAX_AGE", 0)
        database["CONN_HEALTH_CHECKS"] = True
    return database


DATABASES = {"default": _database_from_url(env)}
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("id", _("Indonesian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", "Asia/Jakarta")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

LOGIN_URL = "admin:login"

# --- Security (production) ------------------------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- WhatsApp Cloud API ---------------------------------------------------------------------
WHATSAPP_API_BASE_URL: str = env.str("WHATSAPP_API_BASE_URL", "https://graph.facebook.com").rstrip(
    "/"
)
try:
    URLValidator(schemes=["http", "https"])(WHATSAPP_API_BASE_URL)
except ValidationError as exc:
    raise ImproperlyConfigured(
        f"WHATSAPP_API_BASE_URL must be an http(s) URL (got {WHATSAPP_API_BASE_URL!r})."
    ) from exc
WHATSAPP_API_VERSION: str = env.str("WHATSAPP_API_VERSION", "v23.0")
if not WHATSAPP_API_VERSION.startswith("v"):
    raise ImproperlyConfigured(
        f"WHATSAPP_API_VERSION must look like 'v23.0' (got {WHATSAPP_API_VERSION!r})."
    )
WHATSAPP_PHONE_NUMBER_ID: str = env.str("WHATSAPP_PHONE_NUMBER_ID", "")
if WHATSAPP_PHONE_NUMBER_ID and not WHATSAPP_PHONE_NUMBER_ID.isdigit():
    raise ImproperlyConfigured(
        "WHATSAPP_PHONE_NUMBER_ID must be the numeric phone-number ID from Meta, "
        "not the phone number itself."
    )
WHATSAPP_ACCESS_TOKEN: str = env.str("WHATSAPP_ACCESS_TOKEN", "")
WHATSAPP_APP_SECRET: str = env.str("WHATSAPP_APP_SECRET", "")
WHATSAPP_WEBHOOK_VERIFY_TOKEN: str = env.str("WHATSAPP_WEBHOOK_VERIFY_TOKEN", "")
# Per message: seconds to open the connection, then seconds to wait for Meta's answer. A read
# timeout leaves the message in doubt, so keep it well above Meta's usual sub-second latency.
WHATSAPP_CONNECT_TIMEOUT_SECONDS: float = env.float("WHATSAPP_CONNECT_TIMEOUT_SECONDS", 5.0)
WHATSAPP_READ_TIMEOUT_SECONDS: float = env.float("WHATSAPP_READ_TIMEOUT_SECONDS", 10.0)
for _name, _timeout in (
    ("WHATSAPP_CONNECT_TIMEOUT_SECONDS", WHATSAPP_CONNECT_TIMEOUT_SECONDS),
    ("WHATSAPP_READ_TIMEOUT_SECONDS", WHATSAPP_READ_TIMEOUT_SECONDS),
):
    if not 0 < _timeout <= 300:
        raise ImproperlyConfigured(f"{_name} must be between 0 and 300 seconds (got {_timeout}).")
# Messages per second per sender phone-number ID: Meta's default is 80, up to 1,000 after
# an upgrade (20 for numbers shared with the WhatsApp Business app). The local sandbox
# enforces the same figure by default.
WHATSAPP_THROUGHPUT_PER_SECOND: int = env.int("WHATSAPP_THROUGHPUT_PER_SECOND", 80)
if not 1 <= WHATSAPP_THROUGHPUT_PER_SECOND <= 10_000:
    raise ImproperlyConfigured(
        "WHATSAPP_THROUGHPUT_PER_SECOND must be between 1 and 10000 messages per second "
        f"(got {WHATSAPP_THROUGHPUT_PER_SECOND})."
    )
# Keep-alive connections a WhatsApp client keeps open; at least the number of messages it
# sends at once (the largest batch is 50).
WHATSAPP_HTTP_POOL_SIZE: int = env.int("WHATSAPP_HTTP_POOL_SIZE", 64)
if WHATSAPP_HTTP_POOL_SIZE < 1:
    raise ImproperlyConfigured(
        f"WHATSAPP_HTTP_POOL_SIZE must be at least 1 (got {WHATSAPP_HTTP_POOL_SIZE})."
    )

# Raw webhook payloads are kept this many days (so nothing Meta sent is lost), then purged.
WEBHOOK_RETENTION_DAYS: int = env.int("WEBHOOK_RETENTION_DAYS", 30)
if not 1 <= WEBHOOK_RETENTION_DAYS <= 3650:
    raise ImproperlyConfigured(
        f"WEBHOOK_RETENTION_DAYS must be between 1 and 3650 days (got {WEBHOOK_RETENTION_DAYS})."
    )

# --- Recipients and import ------------------------------------------------------------------
DEFAULT_PHONE_REGION: str = env.str("DEFAULT_PHONE_REGION", "ID").upper()
if DEFAULT_PHONE_REGION not in phonenumbers.SUPPORTED_REGIONS:
    raise ImproperlyConfigured(
        f"DEFAULT_PHONE_REGION must be a two-letter region such as 'ID' "
        f"(got {DEFAULT_PHONE_REGION!r})."
    )
IMPORT_MAX_FILE_BYTES: int = env.int("IMPORT_MAX_FILE_BYTES", 20 * 1024 * 1024)
if IMPORT_MAX_FILE_BYTES <= 0:
    raise ImproperlyConfigured("IMPORT_MAX_FILE_BYTES must be a positive number of bytes.")
# Uploads above this size are streamed to a temporary file rather than held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- The sending engine ---------------------------------------------------------------------
# (The shared cap per sender is WHATSAPP_THROUGHPUT_PER_SECOND, above.)
# A run stops itself when more than this share of its last attempts failed.
SENDING_FAILURE_WINDOW: int = env.int("SENDING_FAILURE_WINDOW", 20)
SENDING_FAILURE_THRESHOLD: float = env.float("SENDING_FAILURE_THRESHOLD", 0.5)
if SENDING_FAILURE_WINDOW < 1 or not 0 < SENDING_FAILURE_THRESHOLD <= 1:
    raise ImproperlyConfigured(
        "SENDING_FAILURE_WINDOW must be ≥ 1 and SENDING_FAILURE_THRESHOLD in (0, 1]."
    )
# Upper bound of the delay between batches while WhatsApp keeps answering rate-limit codes.
SENDING_MAX_DELAY_SECONDS: int = env.int("SENDING_MAX_DELAY_SECONDS", 300)
# One task drives a run for at most this long, then hands over to a continuation task;
# it must stay well under the django-q2 timeout (a batch's HTTP time and a sleep may follow).
SENDING_SLICE_SECONDS: int = env.int("SENDING_SLICE_SECONDS", 60)  # checked below, with Q_CLUSTER
# A worker renews its lease on a run every heartbeat; a lease not renewed expires.
SENDING_HEARTBEAT_SECONDS: float = 2.0
SENDING_LEASE_SECONDS: float = 15.0
# How often a driving worker looks for a stop request (stop takes effect within a second).
SENDING_STOP_POLL_SECONDS: float = 0.25
# The admin says "Worker not responding" after this long without a heartbeat.
SENDING_WORKER_STALE_SECONDS: int = 60

# --- django-q2 ------------------------------------------------------------------------------
REDIS_URL: str = env.str("REDIS_URL", "")
Q_WORKERS: int = env.int("Q_WORKERS", 2)
if Q_WORKERS < 1:
    raise ImproperlyConfigured("Q_WORKERS must be at least 1.")
# See ../shared/reference/django-q2-notes.md: a finite timeout, a retry well above it, a finite
# number of attempts, and one task fetched at a time so nothing sits prefetched with a lock.
Q_TASK_TIMEOUT_SECONDS = 120
# A slice, plus the batch in hand and the end of a pause, must finish well before the timeout.
if not 1 <= SENDING_SLICE_SECONDS <= Q_TASK_TIMEOUT_SECONDS // 2:
    raise ImproperlyConfigured(
        f"SENDING_SLICE_SECONDS must be between 1 and {Q_TASK_TIMEOUT_SECONDS // 2} seconds "
        f"(got {SENDING_SLICE_SECONDS})."
    )
Q_CLUSTER: dict[str, Any] = {
    "name": "blastadmin",
    "workers": Q_WORKERS,
    "timeout": Q_TASK_TIMEOUT_SECONDS,
    "retry": Q_TASK_TIMEOUT_SECONDS + 60,
    "max_attempts": 3,
    "ack_failures": True,
    "bulk": 1,
    "queue_limit": Q_WORKERS,
    "catch_up": False,
    "save_limit": 500,
    "label": "Django Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Logging: never log request bodies or headers (they carry tokens) -----------------------
LOG_LEVEL: str = env.str("LOG_LEVEL", "INFO").upper()
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"urllib3": {"level": "WARNING"}},
}

env.seal()
