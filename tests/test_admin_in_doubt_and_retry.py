"""Recipients admin: resolving in-doubt rows and "Retry failed", audited, counters kept right."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from campaigns import stats
from campaigns.models import AuditLog, Campaign, Recipient
from tests.batch_admin_helpers import action_post
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:campaigns_recipient_changelist")
ACTIONS = ("mark_in_doubt_sent", "mark_in_doubt_failed", "send_in_doubt_again", "retry_failed")


def counters(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {status: getattr(campaign, field) for status, field in stats.COUNTER_FIELDS.items()}


def assert_counters_match_rows(campaign: Campaign) -> None:
    kept = counters(campaign)
    assert kept == stats.recount(campaign.pk)


def fail(recipients: list[Recipient], *, code: int | None, http_status: int | None) -> None:
    Recipient.objects.filter(pk__in=[r.pk for r in recipients]).update(
        error_code=code, error_http_status=http_status, attempts=4
    )


@pytest.fixture
def mixed(campaign: Campaign) -> dict[str, list[Recipient]]:
    return {
        "pending": add_recipients(campaign, 2),
        "in_doubt": add_recipients(campaign, 3, status="in_doubt", start=100),
        "failed_retryable": add_recipients(campaign, 2, status="failed", start=200),
        "failed_timeout": add_recipients(campaign, 1, status="failed", start=300),
        "failed_permanent": add_recipients(campaign, 2, status="failed", start=400),
    }


@pytest.fixture
def failures(mixed: dict[str, list[Recipient]]) -> dict[str, list[Recipient]]:
    fail(mixed["failed_retryable"], code=131000, http_status=500)
    fail(mixed["failed_timeout"], code=None, http_status=None)
    fail(mixed["failed_permanent"], code=131026, http_status=400)
    return mixed


def pks(*groups: list[Recipient]) -> list[int]:
    return [r.pk for group in groups for r in group]


def test_operator_is_offered_the_resolution_and_retry_actions(operator_client: Client) -> None:
    page = operator_client.get(CHANGELIST).content.decode()

    for action in ACTIONS:
        assert f'<option value="{action}">' in page, action


def test_auditor_is_not_offered_them_and_gets_403_posting_them(
    auditor_client: Client, campaign: Campaign, mixed: dict[str, list[Recipient]]
) -> None:
    page = auditor_client.get(CHANGELIST).content.decode()
    before = counters(campaign)

    for action in ACTIONS:
        assert action not in page
        response = auditor_client.post(
            CHANGELIST, action_post(action, pks(*mixed.values()), post="yes", force="on")
        )
        assert response.status_code == 403, action
    assert counters(campaign) == before
    assert not AuditLog.objects.filter(action__startswith="recipients.").exists()


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("mark_in_doubt_sent", "sent"),
        ("mark_in_doubt_failed", "failed"),
        ("send_in_doubt_again", "pending"),
    ],
)
def test_in_doubt_recipients_are_resolved_audited_and_counted(
    operator_client: Client,
    campaign: Campaign,
    mixed: dict[str, list[Recipient]],
    action: str,
    status: str,
) -> None:
    before = counters(campaign)
    chosen = mixed["in_doubt"][:2]

    response = operator_client.post(
        CHANGELIST, action_post(action, pks(chosen, mixed["pending"])), follow=True
    )

    assert set(Recipient.objects.filter(pk__in=pks(chosen)).values_list("status", flat=True)) == {
        status
    }
    after = counters(campaign)
    assert after["in_doubt"] == before["in_doubt"] - 2
    assert after[status] == before[status] + 2
    assert_counters_match_rows(campaign)
    entry = AuditLog.objects.get(action="recipients.resolve_in_doubt")
    assert entry.actor_username == "op"
    assert entry.details["resolution"] == status
    assert entry.details["count"] == 2
    text = response.content.decode()
    assert "2 in-doubt recipient(s)" in text
    assert "were not in doubt were left as they are" in text


def test_resolving_a_selection_without_in_doubt_rows_changes_nothing(
    operator_client: Client, campaign: Campaign, mixed: dict[str, list[Recipient]]
) -> None:
    response = operator_client.post(
        CHANGELIST, action_post("mark_in_doubt_sent", pks(mixed["pending"])), follow=True
    )

    assert "None of the selected recipients is in doubt." in response.content.decode()
    assert not AuditLog.objects.filter(action="recipients.resolve_in_doubt").exists()


def test_retry_failed_first_asks_on_a_confirmation_page(
    operator_client: Client, campaign: Campaign, failures: dict[str, list[Recipient]]
) -> None:
    selected = pks(failures["failed_retryable"], failures["failed_timeout"])
    selected += pks(failures["failed_permanent"], failures["pending"])

    response = operator_client.post(CHANGELIST, action_post("retry_failed", selected))
    page = response.content.decode()

    assert response.status_code == 200
    assert '<div class="breadcrumbs">' in page
    assert "5 failed recipient(s): 3 failed with an error" in page
    assert "2 with a permanent error" in page
    assert "131026" in page
    assert 'name="force"' in page
    assert 'name="post" value="yes"' in page
    for pk in selected:
        assert f'name="_selected_action" value="{pk}"' in page
    assert Recipient.objects.filter(status="failed").count() == 5


def test_retry_failed_puts_only_retryable_failures_back_to_pending(
    operator_client: Client, campaign: Campaign, failures: dict[str, list[Recipient]]
) -> None:
    before = counters(campaign)
    selected = pks(
        failures["failed_retryable"], failures["failed_timeout"], failures["failed_permanent"]
    )

    response = operator_client.post(
        CHANGELIST, action_post("retry_failed", selected, post="yes"), follow=True
    )

    retried = Recipient.objects.filter(
        pk__in=pks(failures["failed_retryable"], failures["failed_timeout"])
    )
    assert set(retried.values_list("status", flat=True)) == {"pending"}
    assert set(retried.values_list("failed_at", flat=True)) == {None}
    assert set(retried.values_list("attempts", flat=True)) == {4}
    permanent = Recipient.objects.filter(pk__in=pks(failures["failed_permanent"]))
    assert set(permanent.values_list("status", flat=True)) == {"failed"}
    after = counters(campaign)
    assert after["failed"] == before["failed"] - 3
    assert after["pending"] == before["pending"] + 3
    assert_counters_match_rows(campaign)
    entry = AuditLog.objects.get(action="recipients.retry_failed")
    assert entry.actor_username == "op"
    assert entry.details["count"] == 3
    assert entry.details["force"] is False
    assert entry.details["permanent_included"] == 0
    assert entry.details["by_error_code"] == {"131000": 2, "none": 1}
    text = response.content.decode()
    assert "3 failed recipient(s) put back to pending" in text
    assert "2 recipient(s) with a permanent error were left failed" in text


def test_retry_failed_with_force_includes_permanent_failures(
    operator_client: Client, campaign: Campaign, failures: dict[str, list[Recipient]]
) -> None:
    selected = pks(failures["failed_retryable"], failures["failed_permanent"])

    operator_client.post(CHANGELIST, action_post("retry_failed", selected, post="yes", force="on"))

    assert set(Recipient.objects.filter(pk__in=selected).values_list("status", flat=True)) == {
        "pending"
    }
    assert_counters_match_rows(campaign)
    entry = AuditLog.objects.get(action="recipients.retry_failed")
    assert entry.details["force"] is True
    assert entry.details["permanent_included"] == 2
    assert entry.details["count"] == 4


def test_retry_failed_across_all_pages_uses_the_filtered_selection(
    operator_client: Client, campaign: Campaign, failures: dict[str, list[Recipient]]
) -> None:
    other = make_campaign(name="Lain")
    add_recipients(other, 2, status="failed", start=900)

    operator_client.post(
        CHANGELIST + f"?campaign__id__exact={campaign.pk}",
        action_post(
            "retry_failed", pks(failures["failed_retryable"][:1]), post="yes", select_across="1"
        ),
    )

    assert Recipient.objects.filter(campaign=campaign, status="failed").count() == 2
    assert Recipient.objects.filter(campaign=other, status="failed").count() == 2


def test_retrying_reopens_a_completed_campaign(
    operator_client: Client, failures: dict[str, list[Recipient]], campaign: Campaign
) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)

    operator_client.post(
        CHANGELIST, action_post("retry_failed", pks(failures["failed_retryable"]), post="yes")
    )

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING


def test_retry_failed_on_a_selection_without_failures_says_so(
    operator_client: Client, mixed: dict[str, list[Recipient]]
) -> None:
    response = operator_client.post(
        CHANGELIST, action_post("retry_failed", pks(mixed["pending"])), follow=True
    )

    assert "None of the selected recipients has failed." in response.content.decode()
    assert not AuditLog.objects.filter(action="recipients.retry_failed").exists()
