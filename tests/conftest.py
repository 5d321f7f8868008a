from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from tests.factories import make_campaign

# The engine's tests run its watcher and sending threads against the database and rely on row
# locks; SQLite's shared in-memory test database locks whole tables instead, so on SQLite these
# modules are skipped (CI runs everything on PostgreSQL).
POSTGRESQL_ONLY_MODULES = ("test_engine_", "test_run_batch_command", "test_webhook_bulk")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (threads and row locks)")
    for item in items:
        if item.path.name.startswith(POSTGRESQL_ONLY_MODULES):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    """Tests create many users; a real password hash costs ~0.3 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def roles(db: None) -> None:
    call_command("setup_roles", verbosity=0)


@pytest.fixture
def operator(roles: None) -> User:
    from django.contrib.auth.models import Group

    user = User.objects.create_user("op", password="op-password-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    return user


@pytest.fixture
def auditor(roles: None) -> User:
    from django.contrib.auth.models import Group

    user = User.objects.create_user("aud", password="aud-password-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Auditors"))
    return user


@pytest.fixture
def operator_client(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def auditor_client(auditor: User) -> Client:
    client = Client()
    client.force_login(auditor)
    return client


@pytest.fixture
def campaign(db: None):  # type: ignore[no-untyped-def]
    return make_campaign()


@pytest.fixture
def sandbox():  # type: ignore[no-untyped-def]
    """A WhatsApp Cloud API sandbox on a free local port, answering over real HTTP."""
    from campaigns.whatsapp.sandbox import SandboxConfig, start_sandbox

    server = start_sandbox(config=SandboxConfig.from_settings(throughput_per_second=0))
    yield server
    server.stop()


@pytest.fixture
def whatsapp(sandbox):  # type: ignore[no-untyped-def]
    """A real Cloud API client pointed at the sandbox, with short timeouts."""
    from campaigns.whatsapp.client import WhatsAppClient

    client = WhatsAppClient(base_url=sandbox.url, connect_timeout=2, read_timeout=2)
    yield client
    client.close()
