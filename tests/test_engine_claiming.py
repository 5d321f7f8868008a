"""A claimed recipient is committed as ``sending`` before its message goes out; no HTTP call
happens inside a database transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from campaigns.models import Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)

OPEN_TRANSACTIONS = """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND state LIKE 'idle in transaction%%'
"""


def test_the_api_only_ever_sees_recipients_already_committed_as_sending(
    sandbox, whatsapp, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 6)
    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=3,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )
    seen: list[tuple[str, str | None, int]] = []
    handle = sandbox.state.handle_message

    def observing(**request: Any) -> Any:
        # Runs in the sandbox's thread, on its own connection: it sees only committed rows.
        try:
            body = request["body"].decode()
            to = next(r.phone_number for r in Recipient.objects.all() if r.phone_number in body)
            status = Recipient.objects.filter(phone_number=to).values_list("status", flat=True)
            with connection.cursor() as cursor:
                cursor.execute(OPEN_TRANSACTIONS)
                (open_transactions,) = cursor.fetchone()
            seen.append((to, status.first(), open_transactions))
        finally:
            connection.close()
        return handle(**request)

    monkeypatch.setattr(sandbox.state, "handle_message", observing)

    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.FINISHED

    assert len(seen) == 6
    assert {status for _to, status, _open in seen} == {Recipient.Status.SENDING}
    assert {open_transactions for _to, _status, open_transactions in seen} == {0}
    assert set(Recipient.objects.values_list("status", flat=True)) == {Recipient.Status.SENT}
