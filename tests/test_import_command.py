"""`manage.py import_recipients` imports like the admin, prints every rejected row, fails loudly."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command, execute_from_command_line

from campaigns.models import AuditLog, Campaign, Recipient

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_recipients", *args, stdout=out)
    return out.getvalue()


def test_it_imports_and_prints_the_summary_and_every_rejected_row(
    campaign: Campaign, tmp_path: Path
) -> None:
    path = tmp_path / "peserta.csv"
    path.write_bytes(b"nomor,nama\n081234567890,A\n0812,B\n081234567890,C\n")

    output = run(str(campaign.pk), str(path))

    assert "3 rows read, 1 imported, 1 duplicates in the file" in output
    assert "row 3: 0812 — not a valid phone number (too short)" in output
    assert "row 4: 081234567890 — duplicate of row 2" in output
    assert Recipient.objects.filter(campaign=campaign).count() == 1


def test_the_audit_row_names_the_as_user_and_the_command_line(
    campaign: Campaign, tmp_path: Path
) -> None:
    User.objects.create_user("ops")
    path = tmp_path / "peserta.csv"
    path.write_bytes(b"nomor\n081234567890\n")

    run(str(campaign.pk), str(path), "--as", "ops")

    entry = AuditLog.objects.get(action="recipients.import")
    assert (entry.actor_username, entry.details["via"], entry.details["filename"]) == (
        "ops",
        "command line",
        "peserta.csv",
    )


def test_without_as_the_system_is_the_actor(campaign: Campaign, tmp_path: Path) -> None:
    path = tmp_path / "peserta.csv"
    path.write_bytes(b"nomor\n081234567890\n")

    run(str(campaign.pk), str(path))

    assert AuditLog.objects.get(action="recipients.import").actor_username == ""


def test_a_bad_file_exits_non_zero_with_its_message_and_writes_nothing(
    campaign: Campaign, tmp_path: Path
) -> None:
    path = tmp_path / "peserta.csv"
    path.write_bytes(b"nama,kota\nBudi,Solo\n")

    with pytest.raises(CommandError, match="No phone column"):
        run(str(campaign.pk), str(path))

    assert not Recipient.objects.exists()


def test_an_unknown_campaign_exits_non_zero(tmp_path: Path, db: None) -> None:
    path = tmp_path / "peserta.csv"
    path.write_bytes(b"nomor\n081234567890\n")

    with pytest.raises(CommandError, match="Campaign not found"):
        run("999999", str(path))


def test_a_missing_file_or_unknown_user_exits_non_zero(campaign: Campaign, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        run(str(campaign.pk), str(tmp_path / "missing.csv"))
    path = tmp_path / "peserta.csv"
    path.write_bytes(b"nomor\n081234567890\n")
    with pytest.raises(CommandError, match="User “ghost” not found"):
        run(str(campaign.pk), str(path), "--as", "ghost")
    assert not Recipient.objects.exists()


def test_the_exit_status_of_the_real_command_is_non_zero(
    campaign: Campaign, tmp_path: Path
) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "import_recipients", str(campaign.pk), str(path)])

    assert exited.value.code != 0
