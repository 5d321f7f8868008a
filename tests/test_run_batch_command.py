"""``manage.py run_batch``: the same engine in the foreground, with clear exits and Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from campaigns.models import AuditLog, BatchRun, Campaign, Recipient
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

# The engine's watcher thread and the subprocesses use their own connections: they must see
# committed rows.
committed = pytest.mark.django_db(transaction=True)
MANAGE = Path(django_settings.BASE_DIR) / "manage.py"


@pytest.fixture
def pointed_at_sandbox(sandbox, settings):  # type: ignore[no-untyped-def]
    settings.WHATSAPP_API_BASE_URL = sandbox.url
    return sandbox


def run_batch(*args: str) -> str:
    out = StringIO()
    call_command("run_batch", *args, stdout=out)
    return out.getvalue()


def manage_py(sandbox, *args: str) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    """``manage.py`` in its own process, on the test database and the in-process sandbox."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "WHATSAPP_API_BASE_URL": sandbox.url,
        "WHATSAPP_ACCESS_TOKEN": django_settings.WHATSAPP_ACCESS_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": django_settings.WHATSAPP_PHONE_NUMBER_ID,
        "SECRET_KEY": django_settings.SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "run_batch", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@committed
def test_a_run_to_completion_exits_zero_with_a_progress_line(pointed_at_sandbox) -> None:
    User.objects.create_user("cli-operator")
    campaign = make_campaign(name="Seminar")
    add_recipients(campaign, 3)

    output = run_batch(
        "--campaign",
        str(campaign.pk),
        "--batch-size",
        "5",
        "--delay",
        "1",
        "--max-retries",
        "1",
        "--as",
        "cli-operator",
    )

    run = BatchRun.objects.get(campaign=campaign)
    assert run.status == BatchRun.Status.COMPLETED
    assert f"Run #{run.pk} for “Seminar”: 3 pending, batch 5, delay 1 s, retries 1" in output
    assert "100.0% 3/3 sent 3 failed 0" in output and "batch 1/1" in output
    assert f"Run #{run.pk} Completed" in output
    assert pointed_at_sandbox.state.accepted_counts()["total"] == 3
    start = AuditLog.objects.get(action="batch.start")
    assert (start.actor_username, start.details["via"]) == ("cli-operator", "command line")


@pytest.mark.django_db
def test_an_unknown_campaign_exits_non_zero_with_a_clear_error(sandbox) -> None:
    process = manage_py(sandbox, "--campaign", "987654")
    _out, err = process.communicate(timeout=60)

    assert process.returncode == 1
    assert "Campaign not found" in err


@pytest.mark.django_db
def test_a_campaign_with_nothing_pending_is_refused() -> None:
    campaign = make_campaign()
    add_recipients(campaign, 2, status="sent")

    with pytest.raises(CommandError, match="No pending recipients") as refused:
        run_batch("--campaign", str(campaign.pk))

    assert refused.value.returncode != 0
    assert not BatchRun.objects.exists()


@pytest.mark.django_db
def test_an_unknown_user_is_refused() -> None:
    campaign = make_campaign()
    add_recipients(campaign, 1)
    with pytest.raises(CommandError, match="User not found: nobody"):
        run_batch("--campaign", str(campaign.pk), "--as", "nobody")
    assert not BatchRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--batch-size", "0", "must be between 1 and 50 (got 0)"),
        ("--batch-size", "51", "must be between 1 and 50 (got 51)"),
        ("--delay", "0", "must be between 1 and 60 (got 0)"),
        ("--delay", "61", "must be between 1 and 60 (got 61)"),
        ("--max-retries", "0", "must be between 1 and 5 (got 0)"),
        ("--max-retries", "6", "must be between 1 and 5 (got 6)"),
        ("--batch-size", "ten", "'ten' is not a whole number"),
    ],
)
def test_out_of_range_options_are_refused(option: str, value: str, message: str) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 1)

    with pytest.raises(CommandError, match=re.escape(f"argument {option}: {message}")):
        run_batch("--campaign", str(campaign.pk), option, value)

    assert not BatchRun.objects.exists()


@committed
def test_a_failed_run_exits_non_zero(pointed_at_sandbox) -> None:
    pointed_at_sandbox.state.set_script(parse_script({"all": "190"}))
    campaign = make_campaign()
    add_recipients(campaign, 2)
    out = StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("run_batch", "--campaign", str(campaign.pk), "--delay", "1", stdout=out)

    assert exited.value.code == 1
    run = BatchRun.objects.get(campaign=campaign)
    assert run.status == BatchRun.Status.FAILED
    assert f"Run #{run.pk} Failed: API Error: access token expired (190)" in out.getvalue()


@committed
def test_ctrl_c_stops_the_run_cleanly_records_the_stop_and_exits_two(sandbox) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 30)
    process = manage_py(
        sandbox, "--campaign", str(campaign.pk), "--batch-size", "5", "--delay", "2"
    )
    try:
        deadline = time.monotonic() + 30
        while sandbox.state.accepted_counts()["total"] < 5:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the command never sent its first batch"
            time.sleep(0.05)
        interrupted_at = time.time()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 2, err
    run = BatchRun.objects.get(campaign=campaign)
    assert run.status == BatchRun.Status.STOPPED
    assert run.finished_at is not None
    assert run.finished_at.timestamp() - interrupted_at < 1.0
    assert f"Run #{run.pk} Stopped" in out
    stop = AuditLog.objects.get(action="batch.stop")
    assert stop.details["via"] == "command line (Ctrl-C)"
    assert AuditLog.objects.filter(action="batch.stopped").exists()
    # Every row is in a known state and nothing was sent twice.
    assert not Recipient.objects.filter(status="sending").exists()
    counts = sandbox.state.accepted_counts()
    assert counts["duplicates"] == {}
    assert Recipient.objects.filter(status="sent").count() == counts["total"] == run.sent_count
    assert Recipient.objects.filter(status="pending").count() == 30 - counts["total"]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
