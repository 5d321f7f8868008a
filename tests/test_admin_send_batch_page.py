"""The Manual Batch Processing configuration page: what it shows and how it starts a run."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns.models import AuditLog, BatchRun, Campaign
from campaigns.sending import runs
from tests.batch_admin_helpers import config_url, figure, make_run, progress_url
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db

VALID = {"batch_size": "10", "delay_seconds": "5", "max_retries": "3"}


@pytest.fixture
def pending_campaign(campaign: Campaign) -> Campaign:
    add_recipients(campaign, 95)
    add_recipients(campaign, 4, status="sent", start=1000)
    return campaign


def test_page_shows_the_campaign_its_pending_count_and_the_form_in_the_admin_look(
    operator_client: Client, pending_campaign: Campaign
) -> None:
    page = operator_client.get(config_url(pending_campaign)).content.decode()

    assert '<div class="breadcrumbs">' in page
    assert reverse("admin:campaigns_campaign_change", args=[pending_campaign.pk]) in page
    assert figure(page, "campaign-pending") == "95"
    for name, value in (("batch_size", "10"), ("delay_seconds", "5"), ("max_retries", "3")):
        assert f'name="{name}" value="{value}"' in page
    assert "Start Batch Processing" in page


def test_page_shows_the_preview_without_javascript(
    operator_client: Client, pending_campaign: Campaign
) -> None:
    page = operator_client.get(config_url(pending_campaign)).content.decode()

    # 95 pending in batches of 10: 10 batches of ~1 s and 9 pauses of 5 s.
    assert figure(page, "preview-batches") == "10"
    assert figure(page, "preview-duration") == "0:00:55"
    assert figure(page, "preview-rate") == "100"
    assert 'data-pending="95"' in page
    assert "campaigns/batch.js" in page


def test_preview_uses_the_batch_time_measured_on_the_last_run(
    operator_client: Client, pending_campaign: Campaign
) -> None:
    make_run(pending_campaign, status=BatchRun.Status.STOPPED, avg_batch_seconds=2.0)

    page = operator_client.get(config_url(pending_campaign)).content.decode()

    assert 'data-batch-seconds="2.0"' in page
    # 10 batches × 2 s + 9 × 5 s.
    assert figure(page, "preview-duration") == "0:01:05"


def test_page_recommends_for_this_campaigns_size_and_links_the_guide(
    operator_client: Client, pending_campaign: Campaign
) -> None:
    page = html.unescape(operator_client.get(config_url(pending_campaign)).content.decode())

    assert "under 100 recipients" in page
    assert "← this campaign (95 pending)" in page
    assert "Delay: 3–5 s normally, 5–10 s at busy times, 10–30 s after rate-limit errors." in page
    assert "Retries: 2–3 for a stable API, 3–5 when it is unstable, 1–2 when testing." in page
    assert reverse("admin:campaigns_campaign_batch_guide") in page
    assert "docs/manual-batch-processing.md" in page


def test_start_creates_the_run_audits_it_and_redirects_to_its_progress_page(
    operator_client: Client,
    operator: User,
    pending_campaign: Campaign,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enqueued: list[int] = []
    monkeypatch.setattr(runs, "enqueue_driver", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            config_url(pending_campaign),
            {"batch_size": "5", "delay_seconds": "2", "max_retries": "2"},
        )

    run = BatchRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == progress_url(run)
    assert (run.batch_size, run.delay_seconds, run.max_retries) == (5, 2, 2)
    assert run.started_by == operator
    assert run.total_count == 95
    assert enqueued == [run.pk]
    entry = AuditLog.objects.get(action="batch.start")
    assert entry.actor_username == "op"
    assert entry.details["batch_size"] == 5
    assert entry.details["via"] == "admin"
    pending_campaign.refresh_from_db()
    assert pending_campaign.status == Campaign.Status.SENDING


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("batch_size", "51", "less than or equal to 50"),
        ("batch_size", "0", "greater than or equal to 1"),
        ("delay_seconds", "61", "less than or equal to 60"),
        ("max_retries", "6", "less than or equal to 5"),
        ("max_retries", "", "This field is required."),
    ],
)
def test_out_of_range_values_are_form_errors_and_start_nothing(
    operator_client: Client, pending_campaign: Campaign, field: str, value: str, error: str
) -> None:
    response = operator_client.post(config_url(pending_campaign), {**VALID, field: value})

    assert response.status_code == 200
    assert error in html.unescape(response.content.decode())
    assert figure(response.content.decode(), "preview-batches") == "—"
    assert not BatchRun.objects.exists()
    assert not AuditLog.objects.filter(action="batch.start").exists()


def test_nothing_pending_says_no_pending_recipients(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 3, status="sent")

    shown = operator_client.get(config_url(campaign)).content.decode()
    response = operator_client.post(config_url(campaign), VALID)

    message = "No pending recipients — all messages already sent"
    assert message in shown
    assert response.content.decode().count(message) == 1
    assert not BatchRun.objects.exists()


def test_an_active_run_is_named_with_a_link_and_a_second_start_is_refused(
    operator_client: Client, pending_campaign: Campaign
) -> None:
    run = make_run(pending_campaign)

    shown = operator_client.get(config_url(pending_campaign)).content.decode()
    response = operator_client.post(config_url(pending_campaign), VALID)

    message = "A batch run is already active for this campaign"
    assert message in shown
    assert progress_url(run) in shown
    assert message in response.content.decode()
    assert BatchRun.objects.count() == 1


def test_a_completed_campaign_is_refused_even_by_a_direct_post(
    operator_client: Client,
) -> None:
    campaign = make_campaign(status=Campaign.Status.COMPLETED)
    add_recipients(campaign, 2)

    response = operator_client.post(config_url(campaign), VALID)

    assert "draft, sending or failed" in response.content.decode()
    assert not BatchRun.objects.exists()


def test_a_missing_campaign_says_campaign_not_found(operator_client: Client) -> None:
    for response in (
        operator_client.get(config_url(999_999), follow=True),
        operator_client.post(config_url(999_999), VALID, follow=True),
    ):
        assert response.redirect_chain[-1][0] == reverse("admin:campaigns_campaign_changelist")
        assert "Campaign not found" in response.content.decode()
    assert not BatchRun.objects.exists()


def test_a_campaign_deleted_before_start_says_campaign_not_found(
    operator_client: Client, pending_campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_start = runs.start_run

    def start_after_delete(**kwargs):  # type: ignore[no-untyped-def]
        Campaign.objects.filter(pk=pending_campaign.pk).delete()
        return real_start(**kwargs)

    monkeypatch.setattr(runs, "start_run", start_after_delete)

    response = operator_client.post(config_url(pending_campaign), VALID, follow=True)

    assert "Campaign not found" in response.content.decode()


def test_auditor_gets_403_on_the_page_and_its_post(
    auditor_client: Client, pending_campaign: Campaign
) -> None:
    assert auditor_client.get(config_url(pending_campaign)).status_code == 403
    assert auditor_client.post(config_url(pending_campaign), VALID).status_code == 403
    assert not BatchRun.objects.exists()


def test_anonymous_visitor_is_sent_to_the_login_page(pending_campaign: Campaign) -> None:
    client = Client()
    for response in (
        client.get(config_url(pending_campaign)),
        client.post(config_url(pending_campaign), VALID),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert not BatchRun.objects.exists()


def test_the_guide_is_served_as_text_to_staff(
    auditor_client: Client,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from campaigns.admin import batch_views

    guide = tmp_path / "manual-batch-processing.md"
    guide.write_text("# Manual Batch Processing\n\nLangkah demi langkah.\n", encoding="utf-8")
    monkeypatch.setattr(batch_views, "OPERATOR_GUIDE_PATH", guide)

    response = auditor_client.get(reverse("admin:campaigns_campaign_batch_guide"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"Langkah demi langkah." in b"".join(response.streaming_content)


def test_a_missing_guide_is_a_404_not_a_500(
    auditor_client: Client,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from campaigns.admin import batch_views

    monkeypatch.setattr(batch_views, "OPERATOR_GUIDE_PATH", tmp_path / "absent.md")

    assert auditor_client.get(reverse("admin:campaigns_campaign_batch_guide")).status_code == 404
