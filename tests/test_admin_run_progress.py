"""A run's progress page and its live fragment: figures equal the database, polling, messages."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import stats
from campaigns.models import BatchRun, BatchRunLog, Campaign
from tests.batch_admin_helpers import figure, live_url, make_run, progress_url, stop_url
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(campaign: Campaign) -> BatchRun:
    """Run of 100: 42 sent, 3 failed, 1 in doubt, 54 still to go; 5 batches done."""
    add_recipients(campaign, 100)
    run = make_run(campaign, total_count=100, batches_done=5, avg_batch_seconds=1.0)
    for status, n in (("sent", 42), ("failed", 3), ("in_doubt", 1)):
        ids = list(campaign.recipients.filter(status="pending").values_list("pk", flat=True)[:n])
        campaign.recipients.filter(pk__in=ids).update(status=status)
    stats.recount(campaign.pk)
    BatchRun.objects.filter(pk=run.pk).update(
        sent_count=42, failed_count=3, retried_count=4, in_doubt_count=1
    )
    for number in range(1, 6):
        BatchRunLog.objects.create(
            run=run,
            batch_number=number,
            message=f"Batch {number}: 8 sent, 1 failed",
            batch_sent=8 if number < 5 else 10,
            batch_failed=1 if number < 4 else 0,
            batch_seconds=1.0,
        )
    BatchRunLog.objects.create(
        run=run,
        batch_number=5,
        level=BatchRunLog.Level.ERROR,
        message="Failed +6281200000007: the number is not on WhatsApp (131026)",
    )
    run.refresh_from_db()
    return run


def test_page_figures_equal_the_database(operator_client: Client, running: BatchRun) -> None:
    page = operator_client.get(progress_url(running)).content.decode()
    campaign = Campaign.objects.get(pk=running.campaign_id)

    assert figure(page, "run-sent") == "42"
    assert figure(page, "run-failed") == "3"
    assert figure(page, "run-retried") == "4"
    assert figure(page, "run-in-doubt") == "1"
    assert figure(page, "run-pending") == str(campaign.pending_count) == "54"
    assert figure(page, "run-percent") == "46.0 %"
    assert 'value="46.0" max="100"' in page
    assert figure(page, "run-batches") == "5 of 11"
    assert figure(page, "run-status") == "Running"
    assert figure(page, "run-config-batch-size") == "10"
    assert figure(page, "run-config-max-retries") == "3"
    assert figure(page, "run-elapsed").startswith("0:00:")
    assert figure(page, "run-eta") != "—"


def test_fragment_numbers_equal_the_database_as_the_run_moves_on(
    operator_client: Client, running: BatchRun
) -> None:
    before = operator_client.get(live_url(running)).content.decode()
    BatchRun.objects.filter(pk=running.pk).update(sent_count=50, batches_done=6)
    campaign = running.campaign
    ids = list(campaign.recipients.filter(status="pending").values_list("pk", flat=True)[:8])
    campaign.recipients.filter(pk__in=ids).update(status="sent")
    stats.recount(campaign.pk)

    after = operator_client.get(live_url(running)).content.decode()

    assert figure(before, "run-sent") == "42"
    assert figure(after, "run-sent") == "50"
    assert figure(after, "run-pending") == "46"
    assert figure(after, "run-batches") == "6 of 11"
    assert figure(after, "run-percent") == "54.0 %"


def test_active_run_fragment_polls_every_second(auditor_client: Client, running: BatchRun) -> None:
    response = auditor_client.get(live_url(running))
    page = response.content.decode()

    assert response.status_code == 200
    assert f'hx-get="{live_url(running)}"' in page
    assert 'hx-trigger="every 1s"' in page
    assert "<html" not in page


@pytest.mark.parametrize("status", ["completed", "stopped", "failed"])
def test_fragment_of_an_ended_run_stops_polling(
    auditor_client: Client, running: BatchRun, status: str
) -> None:
    BatchRun.objects.filter(pk=running.pk).update(status=status, finished_at=timezone.now())

    response = auditor_client.get(live_url(running))
    page = response.content.decode()
    live_div = page[page.index('<div id="run-live"') :]
    live_div = live_div[: live_div.index(">")]

    assert response.status_code == 286
    assert "hx-trigger" not in live_div
    # Only the delivery funnel keeps polling (by itself): statuses arrive after the run.
    assert page.count("hx-trigger") == 1
    assert f'hx-get="{funnel_url(running)}"' in page


def test_page_without_javascript_shows_the_same_state_and_loads_htmx(
    auditor_client: Client, running: BatchRun
) -> None:
    page = auditor_client.get(progress_url(running)).content.decode()
    fragment = auditor_client.get(live_url(running)).content.decode()

    assert "django_htmx/htmx-2.min.js" in page
    assert '<meta http-equiv="refresh"' in page
    for element_id in ("run-sent", "run-failed", "run-pending", "run-batches", "run-percent"):
        assert figure(page, element_id) == figure(fragment, element_id)


def test_activity_log_is_newest_first_with_failures(
    auditor_client: Client, running: BatchRun
) -> None:
    page = auditor_client.get(progress_url(running)).content.decode()
    page = page[page.index('id="run-log"') :]

    failure = page.index("Failed +6281200000007: the number is not on WhatsApp (131026)")
    newest_batch = page.index("Batch 5: 8 sent")
    oldest_batch = page.index("Batch 1: 8 sent")
    assert failure < newest_batch < oldest_batch


def test_chart_has_one_bar_group_per_batch_with_its_counts(
    auditor_client: Client, running: BatchRun
) -> None:
    page = auditor_client.get(progress_url(running)).content.decode()

    assert '<svg id="run-chart"' in page
    assert page.count('<g data-batch="') == 5
    assert '<g data-batch="1" data-sent="8" data-failed="1">' in page
    assert '<g data-batch="5" data-sent="10" data-failed="0">' in page
    assert "Batch 1: 8 sent, 1 failed in 1.0 s" in page


def test_chart_coordinates_are_not_localised(operator: User, running: BatchRun) -> None:
    client = Client(headers={"accept-language": "id"})
    client.force_login(operator)

    page = client.get(progress_url(running)).content.decode()

    start = page.index('<svg id="run-chart"')
    svg = page[start : page.index("</svg>", start)]
    assert 'width="' in svg
    assert "," not in svg.split("<title>")[0]


def test_an_ended_runs_rate_is_its_average_over_the_run(
    auditor_client: Client, running: BatchRun
) -> None:
    BatchRun.objects.filter(pk=running.pk).update(
        status=BatchRun.Status.COMPLETED,
        finished_at=running.started_at + timedelta(seconds=90),
    )

    page = auditor_client.get(progress_url(running)).content.decode()

    # 42 sent + 3 failed in 90 s.
    assert figure(page, "run-rate") == "30.0"
    assert figure(page, "run-eta") == "—"


# --- messages in their situations ---------------------------------------------------------


def notices(page: str) -> str:
    return html.unescape(page)


def test_api_error_is_shown_with_what_to_check(auditor_client: Client, running: BatchRun) -> None:
    reason = "API Error: access token expired (190) — check the WhatsApp API configuration"
    BatchRun.objects.filter(pk=running.pk).update(
        status=BatchRun.Status.FAILED, finished_at=timezone.now(), end_reason=reason
    )

    page = notices(auditor_client.get(progress_url(running)).content.decode())

    assert 'data-notice="api_error"' in page
    assert reason in page


def test_api_error_without_advice_gets_the_configuration_advice(
    auditor_client: Client, running: BatchRun
) -> None:
    BatchRun.objects.filter(pk=running.pk).update(
        status=BatchRun.Status.FAILED,
        finished_at=timezone.now(),
        end_reason="API Error: WHATSAPP_ACCESS_TOKEN contains spaces.",
    )

    page = notices(auditor_client.get(live_url(running)).content.decode())

    assert (
        "API Error: WHATSAPP_ACCESS_TOKEN contains spaces — check the WhatsApp API configuration"
        in page
    )


def test_rate_limit_is_shown_while_the_run_waits_longer_than_configured(
    auditor_client: Client, running: BatchRun
) -> None:
    BatchRun.objects.filter(pk=running.pk).update(current_delay_seconds=10.0)

    page = notices(auditor_client.get(live_url(running)).content.decode())

    assert "Rate limit exceeded — increase the delay" in page
    assert "now waits 10 s between batches instead of 5 s" in page


def test_rate_limit_is_shown_after_a_recent_rate_limit_log_line(
    auditor_client: Client, running: BatchRun
) -> None:
    before = notices(auditor_client.get(live_url(running)).content.decode())
    BatchRunLog.objects.create(
        run=running,
        level=BatchRunLog.Level.WARNING,
        message="Rate limit exceeded — increase the delay between batches (waiting 10 s)",
    )

    after = notices(auditor_client.get(live_url(running)).content.decode())

    assert 'data-notice="rate_limit"' not in before
    assert 'data-notice="rate_limit"' in after


def test_rate_limit_notice_goes_once_the_engine_says_it_cleared(
    auditor_client: Client, running: BatchRun
) -> None:
    BatchRunLog.objects.create(
        run=running,
        level=BatchRunLog.Level.WARNING,
        message="Rate limit exceeded — increase the delay between batches (waiting 10 s)",
    )
    BatchRunLog.objects.create(run=running, message="Rate limit cleared — back to 5 s")

    page = notices(auditor_client.get(live_url(running)).content.decode())

    assert 'data-notice="rate_limit"' not in page


def test_an_old_rate_limit_line_is_no_longer_news(
    auditor_client: Client, running: BatchRun
) -> None:
    line = BatchRunLog.objects.create(
        run=running,
        level=BatchRunLog.Level.WARNING,
        message="Rate limit exceeded — increase the delay between batches (waiting 10 s)",
    )
    BatchRunLog.objects.filter(pk=line.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    page = notices(auditor_client.get(live_url(running)).content.decode())

    assert 'data-notice="rate_limit"' not in page


def test_worker_not_responding_after_a_minute_without_heartbeat(
    auditor_client: Client, running: BatchRun
) -> None:
    fresh = notices(auditor_client.get(live_url(running)).content.decode())
    BatchRun.objects.filter(pk=running.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=61)
    )

    stale = notices(auditor_client.get(live_url(running)).content.decode())

    assert "Worker not responding" not in fresh
    assert "Worker not responding" in stale
    assert "python manage.py qcluster" in stale


def test_worker_not_responding_when_a_queued_run_is_never_picked_up(
    auditor_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 3)
    run = make_run(campaign, status=BatchRun.Status.QUEUED, heartbeat_at=None, lease_owner="")
    BatchRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=2))

    page = notices(auditor_client.get(progress_url(run)).content.decode())

    assert "Worker not responding" in page
    assert "waiting for a worker" in page


def test_stopped_run_says_who_stopped_it_and_that_pending_stay_pending(
    auditor_client: Client, running: BatchRun
) -> None:
    BatchRun.objects.filter(pk=running.pk).update(
        status=BatchRun.Status.STOPPED, finished_at=timezone.now(), end_reason="Stopped by op"
    )

    page = notices(auditor_client.get(progress_url(running)).content.decode())

    assert "Stopped by op" in page
    assert "a new run (with any configuration) continues with them" in page
    assert figure(page, "run-pending") == "54"


def test_in_doubt_recipients_link_to_their_resolution(
    auditor_client: Client, running: BatchRun
) -> None:
    page = notices(auditor_client.get(progress_url(running)).content.decode())

    assert "1 recipient(s) of this campaign are in doubt" in page
    assert f"campaign__id__exact={running.campaign_id}&status__exact=in_doubt" in page


def test_missing_run_says_not_found_instead_of_failing(auditor_client: Client) -> None:
    response = auditor_client.get(
        reverse("admin:campaigns_batchrun_progress", args=[999_999]), follow=True
    )
    fragment = auditor_client.get(reverse("admin:campaigns_batchrun_progress_live", args=["x"]))

    assert "Batch run not found" in response.content.decode()
    assert fragment.status_code == 286
    assert "Batch run not found" in fragment.content.decode()


# --- who sees what --------------------------------------------------------------------------


def test_operator_sees_a_stop_button_with_csrf_and_confirmation(
    operator_client: Client, running: BatchRun
) -> None:
    page = operator_client.get(progress_url(running)).content.decode()

    form = page[page.index('<form method="post" action="' + stop_url(running)) :]
    form = form[: form.index("</form>")]
    assert "csrfmiddlewaretoken" in form
    assert "data-confirm=" in form
    assert "campaigns/batch.js" in page


def test_auditor_sees_the_progress_but_no_stop_button(
    auditor_client: Client, running: BatchRun
) -> None:
    page = auditor_client.get(progress_url(running)).content.decode()

    assert figure(page, "run-sent") == "42"
    assert stop_url(running) not in page
    assert "run-stop-button" not in page


def test_anonymous_visitor_goes_to_login_for_the_page_and_fragment(running: BatchRun) -> None:
    client = Client()
    for url in (progress_url(running), live_url(running)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def funnel_url(run: BatchRun) -> str:
    return reverse("campaign_delivery_funnel", args=[run.campaign_id])
