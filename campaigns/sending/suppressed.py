"""Claimed recipients whose number is on the suppression list are failed, never sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Case, CharField, Value, When
from django.utils.translation import gettext as _

from campaigns import stats, suppression
from campaigns.models import BatchRunLog, Recipient
from campaigns.sending.runs import add_to_run_counters

# claim_batch's rows: (pk, phone_number, variables, attempts).
Row = tuple[Any, ...]


def skip_suppressed(
    rows: Sequence[Row], *, run_id: int, campaign_id: int, now: datetime
) -> list[Row]:
    """Mark the suppressed among locked pending ``rows`` failed; return the others.

    Call inside claim_batch's transaction. Each skipped recipient gets the reason as its
    error message ("suppressed: opted out (STOP)"), counts as failed in the campaign's and
    the run's figures, and has a line in the run's activity log.
    """
    entries = suppression.suppressed_among(row[1] for row in rows)
    if not entries:
        return list(rows)
    skipped = [row for row in rows if row[1] in entries]
    reasons = {
        row[0]: _("suppressed: %(why)s") % {"why": suppression.describe(entries[row[1]])}
        for row in skipped
    }
    Recipient.objects.filter(pk__in=list(reasons)).update(
        status=Recipient.Status.FAILED,
        failed_at=now,
        next_attempt_at=None,
        batch_run_id=run_id,
        error_code=None,
        error_message=Case(
            *(When(pk=pk, then=Value(reason)) for pk, reason in reasons.items()),
            output_field=CharField(),
        ),
        error_details="",
        error_http_status=None,
        error_fbtrace_id="",
    )
    stats.move(
        campaign_id,
        from_status=Recipient.Status.PENDING,
        to_status=Recipient.Status.FAILED,
        count=len(skipped),
    )
    add_to_run_counters(run_id, failed=len(skipped))
    BatchRunLog.objects.bulk_create(
        BatchRunLog(
            run_id=run_id,
            level=BatchRunLog.Level.WARNING,
            message=_("Skipped %(phone)s: %(reason)s")
            % {"phone": row[1], "reason": reasons[row[0]]},
        )
        for row in skipped
    )
    return [row for row in rows if row[1] not in entries]
