"""Manual Batch Processing in a real Chromium: an operator sends and stops runs, an auditor
reviews them — against the live server, a running qcluster and the WhatsApp sandbox.

Screenshots of the config form and the progress page go to docs/screenshots/ with
``SAVE_SCREENSHOTS=1`` (to a temporary directory otherwise).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.urls import reverse

from campaigns import stats
from campaigns.demo import (
    DEMO_CAMPAIGN_NAME,
    DEMO_TEMPLATE_LANGUAGE,
    DEMO_TEMPLATE_NAME,
    DEMO_TEMPLATE_PARAMETERS,
    demo_recipients,
)
from campaigns.models import BatchRun, Campaign, Recipient
from campaigns.roles import AUDITORS, OPERATORS, setup_roles
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, VIEWPORT
from tests.e2e.processes import Processes, database_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.IS_POSTGRES,
        reason="the browser test shares its database with a qcluster: PostgreSQL only",
    ),
]

FIRST_RECIPIENTS = 25  # 5 batches of 5 with 1 s between them: about 5 s
SECOND_RECIPIENTS = 80  # 16 batches: stopped long before the end
STOP_AFTER_SENT = 15
BATCH_SIZE, DELAY_SECONDS, MAX_RETRIES = 5, 1, 2
SECOND_CAMPAIGN_NAME = "Demo — Undangan Seminar Surabaya"
PASSWORD = "browser-test-password-123"
# The longest a run of this test may take to finish or to honour a stop.
RUN_TIMEOUT_MS = 45_000
STOP_TIMEOUT_MS = 10_000


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path) -> Iterator[Processes]:
    """The sandbox and a qcluster on the test database; SIGKILLed before the tables are flushed."""
    from django.db import connection

    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        # The cluster unsigns the tasks the live server queues: same key.
        "SECRET_KEY": settings.SECRET_KEY,
        "WHATSAPP_ACCESS_TOKEN": settings.WHATSAPP_ACCESS_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": settings.WHATSAPP_PHONE_NUMBER_ID,
        "LOG_LEVEL": "INFO",
    }
    if settings.REDIS_URL:
        # The live server queues on the broker its settings name; the cluster must read it.
        env["REDIS_URL"] = settings.REDIS_URL
    started = Processes(log_dir=tmp_path, env=env)
    try:
        yield started
    finally:
        started.close()
        sys.stdout.write(started.report())


# --- data ----------------------------------------------------------------------------------
def staff_user(username: str, group: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def campaign_of(name: str, recipients: list[Recipient]) -> Campaign:
    """A campaign shaped like seed_demo's, with the given (demo) recipients pending."""
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            template_name=DEMO_TEMPLATE_NAME,
            template_language=DEMO_TEMPLATE_LANGUAGE,
            template_parameters=DEMO_TEMPLATE_PARAMETERS,
        )
        for recipient in recipients:
            recipient.campaign = campaign
        Recipient.objects.bulk_create(recipients)
        stats.shift(campaign.pk, {Recipient.Status.PENDING: len(recipients)})
    return campaign


def sent_in_database(campaign: Campaign) -> int:
    return Recipient.objects.filter(campaign=campaign, status=Recipient.Status.SENT).count()


# --- browser steps ---------------------------------------------------------------------------
def log_in(browser: Any, base_url: str, username: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.goto(base_url + reverse("admin:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(base_url + reverse("admin:index"))
    return page


def send_batch_manually(page: Any, base_url: str, campaign: Campaign) -> None:
    """Tick the campaign on the changelist and run the "Send Batch Manually" action."""
    page.goto(base_url + reverse("admin:campaigns_campaign_changelist"))
    row = page.locator("#result_list tbody tr").filter(has_text=campaign.name)
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "send_batch_manually")
    page.click("button[name=index]")
    page.wait_for_url(base_url + reverse("admin:campaigns_campaign_send_batch", args=[campaign.pk]))


def configure(page: Any) -> None:
    page.fill("#id_batch_size", str(BATCH_SIZE))
    page.fill("#id_delay_seconds", str(DELAY_SECONDS))
    page.fill("#id_max_retries", str(MAX_RETRIES))


def start_and_open_progress(page: Any, campaign: Campaign) -> BatchRun:
    page.click("#start-batch")
    page.wait_for_url(re.compile(r"/batchrun/\d+/progress/?$"))
    run = BatchRun.objects.get(campaign=campaign)
    assert page.url.endswith(reverse("admin:campaigns_batchrun_progress", args=[run.pk]))
    return run


def screenshot(page: Any, path: Path) -> None:
    """The whole page in a window as tall as it, so the admin's full-height sidebar is whole."""
    page.locator(":focus").evaluate_all("elements => elements.forEach(e => e.blur())")
    width = VIEWPORT["width"]
    page.set_viewport_size({"width": width, "height": VIEWPORT["height"]})
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": width, "height": max(height, VIEWPORT["height"])})
    page.screenshot(path=path)
    page.set_viewport_size(VIEWPORT)


def number(page: Any, selector: str) -> int:
    return int(page.inner_text(selector).strip())


def audit_rows(page: Any) -> set[tuple[str, str]]:
    """(action, object) of every row on the audit log's changelist page.

    A long object name is shortened in the cell; its tooltip has it in full.
    """
    rows = page.locator("#result_list tbody tr").evaluate_all(
        """rows => rows.map(row => {
            const cell = row.querySelector('.field-object');
            const full = cell.querySelector('[title]');
            return [
                row.querySelector('.field-action').textContent.trim(),
                full ? full.getAttribute('title') : cell.textContent.trim(),
            ];
        })"""
    )
    return {(action, obj) for action, obj in rows}


def test_an_operator_sends_and_stops_runs_and_an_auditor_reviews_them_in_chromium(
    chromium: Any,
    live_server: Any,
    stack: Processes,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    screenshot_dir: Path,
) -> None:
    from playwright.sync_api import expect

    clock = time.monotonic()
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are
    # plain synchronous ones between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server speaks plain HTTP.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False

    setup_roles()
    operator = staff_user("operator", OPERATORS)
    staff_user("auditor", AUDITORS)
    people = demo_recipients(FIRST_RECIPIENTS + SECOND_RECIPIENTS)
    demo = campaign_of(DEMO_CAMPAIGN_NAME, people[:FIRST_RECIPIENTS])
    second = campaign_of(SECOND_CAMPAIGN_NAME, people[FIRST_RECIPIENTS:])

    sandbox = stack.sandbox(latency_ms=20)
    settings.WHATSAPP_API_BASE_URL = sandbox.url
    stack.cluster(workers=2)
    base = live_server.url

    # --- the operator completes a run on the demo campaign ----------------------------------
    page = log_in(chromium, base, "operator")
    send_batch_manually(page, base, demo)
    configure(page)
    expect(page.locator("#preview-batches")).to_have_text(str(FIRST_RECIPIENTS // BATCH_SIZE))
    expect(page.locator("#campaign-pending")).to_have_text(str(FIRST_RECIPIENTS))
    screenshot(page, screenshot_dir / "batch-config.png")

    first = start_and_open_progress(page, demo)
    expect(page.locator("#run-percent")).to_have_text("100.0 %", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#run-progress")).to_have_attribute("value", "100.0")
    expect(page.locator("#run-status")).to_have_text("Completed")
    first.refresh_from_db()
    demo.refresh_from_db()
    assert first.status == BatchRun.Status.COMPLETED
    assert number(page, "#run-sent") == first.sent_count == sent_in_database(demo)
    assert first.sent_count == FIRST_RECIPIENTS
    assert number(page, "#run-failed") == first.failed_count == demo.failed_count == 0
    assert number(page, "#run-in-doubt") == first.in_doubt_count == demo.in_doubt_count == 0
    assert number(page, "#run-pending") == demo.pending_count == 0
    assert page.inner_text("#run-processed") == f"{FIRST_RECIPIENTS} / {FIRST_RECIPIENTS}"
    assert page.inner_text("#run-config-batch-size") == str(BATCH_SIZE)
    assert page.inner_text("#run-config-max-retries") == str(MAX_RETRIES)
    expect(page.locator("#run-stop-button")).to_have_count(0)
    # Ended runs are not polled any more.
    expect(page.locator("#run-live")).not_to_have_attribute("hx-get", re.compile(".*"))

    # --- a second run, watched by an auditor, stopped midway by the operator ----------------
    send_batch_manually(page, base, second)
    configure(page)
    second_run = start_and_open_progress(page, second)
    page.wait_for_function(
        "n => parseInt(document.getElementById('run-sent').textContent, 10) >= n",
        arg=STOP_AFTER_SENT,
        timeout=RUN_TIMEOUT_MS,
    )
    expect(page.locator("#run-status")).to_have_text("Running")

    auditor = log_in(chromium, base, "auditor")
    auditor.goto(page.url)
    expect(auditor.locator("#run-status")).to_have_text("Running")
    expect(auditor.locator("#run-live")).to_have_attribute("hx-get", re.compile("live"))
    expect(auditor.locator("#run-stop-button")).to_have_count(0)

    screenshot(page, screenshot_dir / "batch-progress.png")
    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click("#run-stop-button")
    expect(page.locator("#run-status")).to_have_text("Stopped", timeout=STOP_TIMEOUT_MS)
    assert questions and questions[0].startswith("Stop this batch run?")
    second_run.refresh_from_db()
    second.refresh_from_db()
    assert second_run.status == BatchRun.Status.STOPPED
    assert second_run.stopped_by_id == operator.pk
    assert page.inner_text("#run-stopped-by") == "operator"
    assert STOP_AFTER_SENT <= second_run.sent_count < SECOND_RECIPIENTS
    assert number(page, "#run-sent") == second_run.sent_count == sent_in_database(second)
    assert number(page, "#run-pending") == second.pending_count > 0
    expect(page.locator("#run-stop-button")).to_have_count(0)
    # The watching auditor's page follows by itself.
    expect(auditor.locator("#run-status")).to_have_text("Stopped", timeout=STOP_TIMEOUT_MS)

    # --- the auditor reviews both runs -----------------------------------------------------
    auditor.goto(base + reverse("admin:campaigns_batchrun_changelist"))
    for run, status in ((first, "Completed"), (second_run, "Stopped")):
        link = auditor.locator(
            f'a[href="{reverse("admin:campaigns_batchrun_progress", args=[run.pk])}"]'
        )
        expect(link).to_have_count(1)
        row = auditor.locator("#result_list tbody tr").filter(has=link)
        expect(row.locator(".field-status")).to_have_text(status)
        expect(row.locator(".field-started_by")).to_have_text("operator")

    auditor.goto(base + reverse("admin:campaigns_auditlog_changelist"))
    rows = audit_rows(auditor)
    # "Run #12 of …" already names the run, so no "(#12)" follows it.
    first_object = str(first)
    second_object = str(second_run)
    assert {
        ("batch.start", first_object),
        ("batch.complete", first_object),
        ("batch.start", second_object),
        ("batch.stop", second_object),
        ("batch.stopped", second_object),
    } <= rows, rows

    auditor.goto(base + reverse("admin:campaigns_campaign_changelist"))
    expect(auditor.locator("option[value=send_batch_manually]")).to_have_count(0)
    auditor.goto(base + reverse("admin:campaigns_campaign_change", args=[second.pk]))
    expect(auditor.locator("#send-batch-manually")).to_have_count(0)
    auditor.goto(base + reverse("admin:campaigns_batchrun_progress", args=[second_run.pk]))
    expect(auditor.locator("#run-status")).to_have_text("Stopped")
    expect(auditor.locator("#run-stop-button")).to_have_count(0)

    print(f"browser scenario done in {time.monotonic() - clock:.1f} s")
