"""An operator resolves in-doubt recipients: sent, failed, or pending to send again; audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from campaigns import stats
from campaigns.models import AuditLog, Campaign, Recipient
from campaigns.sending.runs import InDoubtResolution, resolve_in_doubt
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db


def counters(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {status: getattr(campaign, f"{status}_count") for status in Recipient.Status.values}


@pytest.mark.parametrize(
    ("resolution", "timestamp"),
    [
        (InDoubtResolution.SENT, "sent_at"),
        (InDoubtResolution.FAILED, "failed_at"),
        (InDoubtResolution.SEND_AGAIN, None),
    ],
)
def test_resolving_moves_the_recipients_and_the_counters_and_is_audited(
    resolution: str, timestamp: str | None
) -> None:
    operator = User.objects.create_user("resolver")
    campaign = make_campaign(status=Campaign.Status.SENDING)
    doubtful = add_recipients(campaign, 3, status="in_doubt")
    add_recipients(campaign, 2, status="sent", start=10)

    resolved = resolve_in_doubt(
        recipient_ids=[r.pk for r in doubtful[:2]],
        resolution=resolution,
        actor=operator,
        note="checked with the customer",
    )

    assert resolved == 2
    rows = Recipient.objects.filter(pk__in=[r.pk for r in doubtful[:2]])
    assert set(rows.values_list("status", flat=True)) == {resolution}
    if timestamp:
        assert all(getattr(r, timestamp) is not None for r in rows)
    now = counters(campaign)
    assert now["in_doubt"] == 1
    assert now == stats.recount(campaign.pk)
    entry = AuditLog.objects.get(action="recipients.resolve_in_doubt")
    assert entry.actor_username == "resolver"
    assert entry.object_id == str(campaign.pk)
    assert entry.details["resolution"] == resolution
    assert entry.details["count"] == 2
    assert entry.details["note"] == "checked with the customer"
    assert sorted(entry.details["recipients"]) == sorted(r.phone_number for r in doubtful[:2])


def test_recipients_no_longer_in_doubt_are_left_alone() -> None:
    campaign = make_campaign()
    (doubtful,) = add_recipients(campaign, 1, status="in_doubt")
    (sent,) = add_recipients(campaign, 1, status="sent", start=10)

    resolved = resolve_in_doubt(
        recipient_ids=[doubtful.pk, sent.pk], resolution=InDoubtResolution.FAILED, actor=None
    )

    assert resolved == 1
    sent.refresh_from_db()
    assert sent.status == Recipient.Status.SENT
    assert counters(campaign) == stats.recount(campaign.pk)
    assert AuditLog.objects.get().actor_username == ""


def test_sending_again_reopens_a_completed_campaign() -> None:
    campaign = make_campaign(status=Campaign.Status.COMPLETED)
    doubtful = add_recipients(campaign, 2, status="in_doubt")

    resolve_in_doubt(
        recipient_ids=[r.pk for r in doubtful],
        resolution=InDoubtResolution.SEND_AGAIN,
        actor=None,
    )

    campaign.refresh_from_db()
    assert (campaign.status, campaign.pending_count, campaign.completed_at) == (
        Campaign.Status.SENDING,
        2,
        None,
    )


def test_resolving_across_campaigns_writes_one_audit_row_per_campaign() -> None:
    first, second = make_campaign(), make_campaign(name="Other")
    ids = [r.pk for r in add_recipients(first, 2, status="in_doubt")]
    ids += [r.pk for r in add_recipients(second, 1, status="in_doubt")]

    assert resolve_in_doubt(recipient_ids=ids, resolution="sent", actor=None) == 3

    assert counters(first)["sent"] == 2 and counters(second)["sent"] == 1
    audited = dict(
        AuditLog.objects.values_list("object_id", "details__count").order_by("object_id")
    )
    assert audited == {str(first.pk): 2, str(second.pk): 1}


def test_an_unknown_resolution_is_refused() -> None:
    campaign = make_campaign()
    (doubtful,) = add_recipients(campaign, 1, status="in_doubt")
    with pytest.raises(ValueError, match="unknown resolution"):
        resolve_in_doubt(recipient_ids=[doubtful.pk], resolution="delivered", actor=None)
    doubtful.refresh_from_db()
    assert doubtful.status == Recipient.Status.IN_DOUBT
