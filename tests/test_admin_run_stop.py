"""Stop from the progress page: POST with CSRF, operators only, recorded with who stopped."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns.models import AuditLog, BatchRun, Campaign
from tests.batch_admin_helpers import live_url, make_run, progress_url, stop_url
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(campaign: Campaign) -> BatchRun:
    add_recipients(campaign, 20)
    return make_run(campaign)


def test_stop_asks_the_running_run_to_stop_and_audits_who(
    operator_client: Client, operator: User, running: BatchRun
) -> None:
    response = operator_client.post(stop_url(running), follow=True)

    running.refresh_from_db()
    assert response.redirect_chain[-1][0] == progress_url(running)
    assert running.status == BatchRun.Status.STOPPING
    assert running.stopped_by == operator
    entry = AuditLog.objects.get(action="batch.stop")
    assert entry.actor_username == "op"
    assert entry.object_id == str(running.pk)
    assert entry.ip_address == "127.0.0.1"
    page = response.content.decode()
    assert "Stop requested" in page
    assert "run-stop-button" not in page


def test_a_queued_run_that_no_worker_took_stops_at_once(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 3)
    run = make_run(campaign, status=BatchRun.Status.QUEUED, lease_owner="", heartbeat_at=None)

    operator_client.post(stop_url(run))

    run.refresh_from_db()
    assert run.status == BatchRun.Status.STOPPED
    assert run.end_reason.startswith("Stopped by op")


def test_stopping_fragment_drops_the_stop_button_out_of_band(
    operator_client: Client, running: BatchRun
) -> None:
    before = operator_client.get(live_url(running)).content.decode()
    operator_client.post(stop_url(running))

    after = operator_client.get(live_url(running)).content.decode()

    assert 'hx-swap-oob="true"' not in before
    assert '<div id="run-actions" class="run-actions" hx-swap-oob="true">' in after
    assert "run-stop-button" not in after
    assert 'hx-trigger="every 1s"' in after  # still stopping: keep watching until it ends


def test_stopping_an_ended_run_says_it_already_ended(
    operator_client: Client, campaign: Campaign
) -> None:
    run = make_run(campaign, status=BatchRun.Status.COMPLETED)

    response = operator_client.post(stop_url(run), follow=True)

    assert "This batch run has already ended." in response.content.decode()
    assert not AuditLog.objects.filter(action="batch.stop").exists()


def test_stopping_a_missing_run_says_not_found(operator_client: Client) -> None:
    response = operator_client.post(
        reverse("admin:campaigns_batchrun_stop", args=[999_999]), follow=True
    )

    assert "Batch run not found" in response.content.decode()


def test_stop_is_post_only(operator_client: Client, running: BatchRun) -> None:
    assert operator_client.get(stop_url(running)).status_code == 405
    running.refresh_from_db()
    assert running.status == BatchRun.Status.RUNNING


def test_stop_without_the_csrf_token_is_refused(operator: User, running: BatchRun) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)

    assert client.post(stop_url(running)).status_code == 403
    running.refresh_from_db()
    assert running.status == BatchRun.Status.RUNNING


def test_auditor_posting_stop_gets_403_and_the_run_goes_on(
    auditor_client: Client, running: BatchRun
) -> None:
    assert auditor_client.post(stop_url(running)).status_code == 403
    running.refresh_from_db()
    assert running.status == BatchRun.Status.RUNNING
    assert not AuditLog.objects.filter(action="batch.stop").exists()


def test_anonymous_stop_goes_to_login(running: BatchRun) -> None:
    response = Client().post(stop_url(running))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    running.refresh_from_db()
    assert running.status == BatchRun.Status.RUNNING


def test_after_a_stop_the_page_offers_a_new_run_for_what_is_still_pending(
    operator_client: Client, auditor_client: Client, running: BatchRun
) -> None:
    BatchRun.objects.filter(pk=running.pk).update(
        status=BatchRun.Status.STOPPED, end_reason="Stopped by op"
    )
    Campaign.objects.filter(pk=running.campaign_id).update(status=Campaign.Status.SENDING)

    operator_page = operator_client.get(progress_url(running)).content.decode()
    auditor_page = auditor_client.get(progress_url(running)).content.decode()

    config = reverse("admin:campaigns_campaign_send_batch", args=[running.campaign_id])
    assert config in operator_page
    assert config not in auditor_page
