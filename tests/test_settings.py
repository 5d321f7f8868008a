"""Settings come from the environment and fail loudly on bad values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    "db = settings.DATABASES['default'];"
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), 'debug': settings.DEBUG,"
    " 'q': sorted(k for k in ('orm', 'redis') if k in settings.Q_CLUSTER),"
    " 'base': settings.WHATSAPP_API_BASE_URL, 'region': settings.DEFAULT_PHONE_REGION,"
    " 'hosts': settings.ALLOWED_HOSTS}))"
)


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "DJANGO_"))}
    for name in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"):
        clean.pop(name, None)
    clean.update(
        DJANGO_SETTINGS_MODULE="blastadmin.settings",
        BLASTADMIN_ENV_FILE=str(ROOT / "does-not-exist.env"),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def loaded(**env: str) -> dict[str, object]:
    result = load_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_it_defaults_to_a_sqlite_file_in_the_project_and_the_orm_broker() -> None:
    values = loaded(DEBUG="true")
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(ROOT / "db.sqlite3")
    assert values["q"] == ["orm"]
    assert values["base"] == "https://graph.facebook.com"
    assert values["region"] == "ID"


def test_it_uses_postgresql_for_a_postgres_url() -> None:
    values = loaded(DEBUG="true", DATABASE_URL="postgres://u:p@db.internal:5432/blast")
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "blast"


def test_it_uses_redis_as_broker_when_redis_url_is_set() -> None:
    assert loaded(DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/0")["q"] == ["redis"]


def test_it_reads_allowed_hosts_as_a_list() -> None:
    values = loaded(SECRET_KEY="x" * 50, ALLOWED_HOSTS="a.example.com,b.example.com")
    assert values["hosts"] == ["a.example.com", "b.example.com"]
    assert values["debug"] is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY must be set"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DEBUG": "1", "DATABASE_URL": "mysql://u:p@h/db"}, "DATABASE_URL must be"),
        ({"DEBUG": "1", "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DEBUG": "1", "DEFAULT_PHONE_REGION": "XX"}, "DEFAULT_PHONE_REGION"),
        ({"DEBUG": "1", "WHATSAPP_API_BASE_URL": "graph dot facebook"}, "WHATSAPP_API_BASE_URL"),
        ({"DEBUG": "1", "WHATSAPP_API_VERSION": "23.0"}, "WHATSAPP_API_VERSION"),
        ({"DEBUG": "1", "WHATSAPP_PHONE_NUMBER_ID": "+6281234567890"}, "phone-number ID"),
        ({"DEBUG": "1", "Q_WORKERS": "0"}, "Q_WORKERS"),
        ({"DEBUG": "1", "Q_WORKERS": "many"}, "Q_WORKERS"),
        ({"DEBUG": "1", "IMPORT_MAX_FILE_BYTES": "big"}, "IMPORT_MAX_FILE_BYTES"),
        ({"DEBUG": "1", "IMPORT_MAX_FILE_BYTES": "0"}, "IMPORT_MAX_FILE_BYTES"),
    ],
)
def test_it_refuses_to_start_on_a_bad_value(env: dict[str, str], message: str) -> None:
    result = load_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr
