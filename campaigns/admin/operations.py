"""The writes staff make through the admin, each with its audit row and counter update.

ModelAdmins stay thin and call these; each runs in one transaction so the change, the
campaign counters (campaigns.stats) and the audit row commit or roll back together.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from campaigns import stats
from campaigns.audit import record
from campaigns.models import Campaign, Recipient
from campaigns.sending.runs import reopen_campaign
from campaigns.whatsapp.errors import Outcome, classify

Actor = AbstractBaseUser | AnonymousUser


def create_campaign(
    *, campaign: Campaign, actor: Actor, request: HttpRequest | None = None
) -> Campaign:
    """Save a new campaign as created by ``actor``."""
    with transaction.atomic():
        if actor.is_authenticated:
            campaign.created_by_id = actor.pk
        campaign.save()
        record(
            action="campaign.create",
            actor=actor,
            obj=campaign,
            details={
                "template_name": campaign.template_name,
                "template_language": campaign.template_language,
            },
            request=request,
        )
    return campaign


def change_campaign(
    *,
    campaign: Campaign,
    changes: Mapping[str, Any],
    actor: Actor,
    request: HttpRequest | None = None,
) -> Campaign:
    """Save edits to a campaign; ``changes`` describes them for the audit row."""
    with transaction.atomic():
        campaign.save()
        if changes:
            record(
                action="campaign.change",
                actor=actor,
                obj=campaign,
                details={"changes": dict(changes)},
                request=request,
            )
    return campaign


def delete_campaigns(
    *, campaigns: Iterable[Campaign], actor: Actor, request: HttpRequest | None = None
) -> int:
    """Delete campaigns with their recipients and runs; the audit rows stay."""
    with transaction.atomic():
        ids = [campaign.pk for campaign in campaigns]
        # Lock the rows so the counters written to the audit row are the final ones.
        locked = list(Campaign.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        for campaign in locked:
            record(
                action="campaign.delete",
                actor=actor,
                obj=campaign,
                details={
                    "status": campaign.status,
                    "template_name": campaign.template_name,
                    "recipients": campaign.total_recipients,
                    "by_status": {
                        status: getattr(campaign, field)
                        for status, field in stats.COUNTER_FIELDS.items()
                    },
                },
                request=request,
            )
        Campaign.objects.filter(pk__in=[campaign.pk for campaign in locked]).delete()
    return len(locked)


def add_recipient(
    *, recipient: Recipient, actor: Actor, request: HttpRequest | None = None
) -> Recipient:
    """Add one recipient (already validated and normalised) to its campaign."""
    with transaction.atomic():
        recipient.save()
        stats.shift(recipient.campaign_id, {recipient.status: 1})
        record(
            action="recipient.create",
            actor=actor,
            obj=recipient,
            details={"campaign_id": recipient.campaign_id, "phone_number": recipient.phone_number},
            request=request,
        )
    return recipient


def change_recipient(
    *,
    recipient: Recipient,
    changes: Mapping[str, Any],
    actor: Actor,
    request: HttpRequest | None = None,
) -> Recipient:
    """Save edits to a recipient's contact fields (never its status: the engine owns that)."""
    with transaction.atomic():
        recipient.save()
        if changes:
            record(
                action="recipient.change",
                actor=actor,
                obj=recipient,
                details={"campaign_id": recipient.campaign_id, "changes": dict(changes)},
                request=request,
            )
    return recipient


def delete_recipients(
    *, recipients: QuerySet[Recipient], actor: Actor, request: HttpRequest | None = None
) -> int:
    """Delete recipients and take them off their campaigns' counters.

    The rows are locked before their statuses are read, so a status change by the sending
    engine cannot slip between the read and the delete and leave the counters wrong. One
    delete writes a ``recipient.delete`` row; several write one ``recipient.bulk_delete``
    row per campaign listing what went.
    """
    with transaction.atomic():
        rows: list[Mapping[str, Any]] = list(
            Recipient.objects.select_for_update()
            .filter(pk__in=recipients.values("pk"))
            .order_by("pk")
            .values("pk", "campaign_id", "phone_number", "name", "status")
        )
        if not rows:
            return 0
        by_campaign: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            by_campaign[row["campaign_id"]].append(row)
        if len(rows) == 1:
            row = rows[0]
            recipient = Recipient(
                pk=row["pk"],
                campaign_id=row["campaign_id"],
                phone_number=row["phone_number"],
                name=row["name"],
                status=row["status"],
            )
            record(
                action="recipient.delete",
                actor=actor,
                obj=recipient,
                details={"campaign_id": recipient.campaign_id, "status": recipient.status},
                request=request,
            )
        else:
            campaigns = Campaign.objects.in_bulk(list(by_campaign))
            for campaign_id, campaign_rows in by_campaign.items():
                record(
                    action="recipient.bulk_delete",
                    actor=actor,
                    obj=campaigns.get(campaign_id),
                    details={
                        "campaign_id": campaign_id,
                        "count": len(campaign_rows),
                        "by_status": Counter(row["status"] for row in campaign_rows),
                        "recipients": [
                            {
                                "id": row["pk"],
                                "phone_number": row["phone_number"],
                                "name": row["name"],
                            }
                            for row in campaign_rows
                        ],
                    },
                    request=request,
                )
        Recipient.objects.filter(pk__in=[row["pk"] for row in rows]).delete()
        for campaign_id, campaign_rows in by_campaign.items():
            counts = Counter(row["status"] for row in campaign_rows)
            stats.shift(campaign_id, {status: -n for status, n in counts.items()})
    return len(rows)


# --- Failed recipients back to pending -----------------------------------------------------
RETRYABLE_OUTCOMES = (Outcome.RETRY_LATER, Outcome.RETRY_RECIPIENT_LATER)
# How many phone numbers an audit row lists (the count is always exact).
AUDITED_RECIPIENTS_MAX = 500


def is_retryable_failure(*, error_code: int | None, http_status: int | None) -> bool:
    """Whether a recipient's last error is one a later attempt may overcome.

    Decided by the one classification of Cloud API errors (campaigns.whatsapp.errors).
    """
    return classify(code=error_code, http_status=http_status).outcome in RETRYABLE_OUTCOMES


@dataclass(frozen=True)
class FailedSelection:
    """The failed recipients among a selection, split by whether their error is retryable."""

    retryable: int
    permanent: int
    permanent_by_code: list[tuple[int | None, int]]

    @property
    def total(self) -> int:
        return self.retryable + self.permanent


def summarise_failed(recipients: QuerySet[Recipient]) -> FailedSelection:
    """Count the selection's failed recipients by retryability, grouped by error (no row scan)."""
    groups = (
        recipients.filter(status=Recipient.Status.FAILED)
        .order_by()
        .values_list("error_code", "error_http_status")
        .annotate(n=Count("pk"))
    )
    retryable = 0
    permanent: Counter[int | None] = Counter()
    for code, http_status, n in groups:
        if is_retryable_failure(error_code=code, http_status=http_status):
            retryable += n
        else:
            permanent[code] += n
    return FailedSelection(
        retryable=retryable,
        permanent=sum(permanent.values()),
        permanent_by_code=sorted(permanent.items(), key=lambda item: -item[1]),
    )


@dataclass(frozen=True)
class RetryFailedResult:
    retried: int
    permanent_retried: int
    permanent_left: int


def retry_failed(
    *,
    recipients: QuerySet[Recipient],
    force: bool,
    actor: Actor,
    request: HttpRequest | None = None,
) -> RetryFailedResult:
    """Put the selection's failed recipients whose last error is retryable back to pending.

    With ``force`` the permanently failed ones go back too (the operator decided so). The
    next run sends them; ``attempts`` keeps counting real attempts, so each of them gets at
    least one more. Counters move and one audit row per campaign is written in the same
    transaction; a completed campaign that has something to send again goes back to sending.
    """
    with transaction.atomic():
        rows = list(
            Recipient.objects.select_for_update()
            .filter(
                pk__in=recipients.filter(status=Recipient.Status.FAILED).values("pk"),
                status=Recipient.Status.FAILED,
            )
            .order_by("pk")
            .values_list("pk", "campaign_id", "phone_number", "error_code", "error_http_status")
        )
        chosen: dict[int, list[tuple[int, str, int | None, bool]]] = defaultdict(list)
        permanent_left = 0
        for pk, campaign_id, phone, code, http_status in rows:
            retryable = is_retryable_failure(error_code=code, http_status=http_status)
            if retryable or force:
                chosen[campaign_id].append((pk, phone, code, retryable))
            else:
                permanent_left += 1
        campaigns = Campaign.objects.in_bulk(list(chosen))
        retried = permanent_retried = 0
        for campaign_id, picked in chosen.items():
            moved = Recipient.objects.filter(
                pk__in=[pk for pk, _phone, _code, _r in picked], status=Recipient.Status.FAILED
            ).update(status=Recipient.Status.PENDING, failed_at=None, next_attempt_at=None)
            stats.move(
                campaign_id,
                from_status=Recipient.Status.FAILED,
                to_status=Recipient.Status.PENDING,
                count=moved,
            )
            reopen_campaign(campaign_id)
            forced_here = sum(1 for *_rest, retryable in picked if not retryable)
            retried += moved
            permanent_retried += forced_here
            record(
                action="recipients.retry_failed",
                actor=actor,
                obj=campaigns.get(campaign_id),
                details={
                    "campaign_id": campaign_id,
                    "count": moved,
                    "force": force,
                    "permanent_included": forced_here,
                    "by_error_code": Counter(
                        "none" if code is None else str(code) for _pk, _p, code, _r in picked
                    ),
                    "recipients": [phone for _pk, phone, _c, _r in picked][:AUDITED_RECIPIENTS_MAX],
                },
                request=request,
            )
    return RetryFailedResult(
        retried=retried, permanent_retried=permanent_retried, permanent_left=permanent_left
    )
