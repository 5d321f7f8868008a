from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.e2e.processes import Processes, database_url


@pytest.fixture
def processes(transactional_db: None, tmp_path: Path) -> Iterator[Processes]:
    """Starts the sandbox and clusters against the test database; kills them all afterwards.

    It depends on ``transactional_db`` so its teardown (SIGKILL of every process group) runs
    before pytest-django flushes the tables the children were writing to.
    """
    from django.db import connection

    started = Processes(
        log_dir=tmp_path,
        env={
            "DATABASE_URL": database_url(connection.settings_dict),
            # The cluster must sign and unsign tasks with the test process's key.
            "SECRET_KEY": settings.SECRET_KEY,
            "WHATSAPP_ACCESS_TOKEN": settings.WHATSAPP_ACCESS_TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": settings.WHATSAPP_PHONE_NUMBER_ID,
            "LOG_LEVEL": "INFO",
        },
    )
    try:
        yield started
    finally:
        started.close()
        # Captured by pytest: shown with the output of a failed test only.
        sys.stdout.write(started.report())
