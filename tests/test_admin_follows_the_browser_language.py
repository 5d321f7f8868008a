"""The admin speaks Indonesian to a browser that asks for it and English otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from campaigns.models import BatchRun, BatchRunLog, Campaign
from tests.batch_admin_helpers import config_url, figure, live_url, make_run, progress_url
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:campaigns_campaign_changelist")


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    """LocaleMiddleware leaves the last request's language active in this thread."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def client_for(user: User, language: str | None) -> Client:
    client = Client(headers={"accept-language": language} if language else {})
    client.force_login(user)
    return client


@pytest.fixture
def pending(campaign: Campaign) -> Campaign:
    add_recipients(campaign, 30)
    return campaign


@pytest.fixture
def running(pending: Campaign) -> BatchRun:
    run = make_run(pending, batches_done=1)
    BatchRunLog.objects.create(
        run=run, batch_number=1, message="Batch 1", batch_sent=10, batch_failed=0, batch_seconds=1
    )
    return run


def action_option(page: str) -> str:
    start = page.index('<option value="send_batch_manually">')
    return page[start : page.index("</option>", start)].split(">", 1)[1]


@pytest.mark.parametrize(
    ("language", "label"),
    [
        ("id", "Kirim Batch Manual"),
        ("id-ID,id;q=0.9,en;q=0.8", "Kirim Batch Manual"),
        ("en", "Send Batch Manually"),
        ("en-US,en;q=0.9", "Send Batch Manually"),
        (None, "Send Batch Manually"),
        ("fr", "Send Batch Manually"),
    ],
)
def test_the_campaign_list_offers_the_action_in_the_browsers_language(
    operator: User, pending: Campaign, language: str | None, label: str
) -> None:
    page = client_for(operator, language).get(CHANGELIST).content.decode()

    assert action_option(page) == label


def test_the_configuration_page_in_indonesian(operator: User, pending: Campaign) -> None:
    page = client_for(operator, "id").get(config_url(pending)).content.decode()

    assert '<html lang="id"' in page
    for text in (
        "Kirim Batch Manual",
        "Mulai Pemrosesan Batch",
        "Ukuran batch",
        "Jeda antar-batch (detik)",
        "Maks. percobaan ulang",
        "Penerima tertunda",
        "Rekomendasi",
        "Pratinjau",
        "Beranda",
    ):
        assert text in page, text
    assert "Start Batch Processing" not in page


def test_the_configuration_page_in_english(operator: User, pending: Campaign) -> None:
    page = client_for(operator, "en").get(config_url(pending)).content.decode()

    assert '<html lang="en"' in page
    for text in ("Start Batch Processing", "Batch size", "Recommendations", "Pending recipients"):
        assert text in page, text
    assert "Mulai Pemrosesan Batch" not in page


def test_the_progress_page_in_indonesian(operator: User, running: BatchRun) -> None:
    client = client_for(operator, "id")
    page = client.get(progress_url(running)).content.decode()
    fragment = client.get(live_url(running)).content.decode()

    assert figure(page, "run-status") == "Berjalan"
    assert figure(page, "run-batches") == "1 dari 4"
    assert '<button type="submit" class="button stop-button" id="run-stop-button">Hentikan' in page
    for text in ("Masih tertunda", "Terkirim", "Tidak pasti", "Konfigurasi", "Corong pengiriman"):
        assert text in page, text
        assert text in fragment, text
    assert f"Proses batch #{running.pk}" in page
    assert "Still pending" not in page


def test_the_progress_page_in_english(operator: User, running: BatchRun) -> None:
    page = client_for(operator, None).get(progress_url(running)).content.decode()

    assert figure(page, "run-status") == "Running"
    assert figure(page, "run-batches") == "1 of 4"
    for text in ("Still pending", "In doubt", "Configuration", "Delivery funnel", ">Stop<"):
        assert text in page, text
    assert "Masih tertunda" not in page


def test_the_progress_notices_in_indonesian(operator: User, running: BatchRun) -> None:
    BatchRun.objects.filter(pk=running.pk).update(status=BatchRun.Status.STOPPING)
    BatchRunLog.objects.create(
        run=running,
        level=BatchRunLog.Level.WARNING,
        message="Rate limit exceeded — increase the delay between batches (waiting 10 s)",
    )

    page = client_for(operator, "id").get(live_url(running)).content.decode()

    assert "Penghentian diminta oleh sistem" in page
    assert "Batas laju terlampaui — perbesar jeda" in page


def test_an_engine_line_written_in_indonesian_is_still_recognised(
    operator: User, running: BatchRun
) -> None:
    BatchRunLog.objects.create(
        run=running,
        level=BatchRunLog.Level.WARNING,
        message="Batas laju terlampaui — perbesar jeda antar-batch (HTTP 429)",
    )

    page = client_for(operator, "en").get(live_url(running)).content.decode()

    assert 'data-notice="rate_limit"' in page
    assert "Rate limit exceeded — increase the delay" in page
