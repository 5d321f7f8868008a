"""What a run's progress page shows: figures, notices, the activity log and the batch chart.

Built from :func:`campaigns.sending.progress.snapshot` plus two small indexed reads of the
run's log, so polling it every second from several browsers stays cheap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from campaigns.batch_forms import SECONDS_PER_MINUTE, format_hms
from campaigns.models import BatchRun, BatchRunLog
from campaigns.sending.progress import Progress, snapshot

LOG_LINES_ON_PAGE = 50
CHART_BATCHES = 60
CHART_MIN_SLOTS = 20
CHART_WIDTH = 600
CHART_HEIGHT = 120
CHART_BAR_FILL = 0.8
# A rate-limit line in the log counts as "recent" for this long.
RATE_LIMIT_RECENT = timedelta(minutes=2)
# How the engine's rate-limit lines and API-error reasons begin. The engine writes them in
# the language active where it runs (English in workers and commands; a request's language
# when an operator's action writes them), so each is recognised in every language we ship.
RATE_LIMIT_MARKER = gettext_noop("Rate limit exceeded")
RATE_LIMIT_CLEARED_MARKER = gettext_noop("Rate limit cleared")
API_ERROR_PREFIX = gettext_noop("API Error")
# Reasons written by the engine end with " — what to do"; one without gets the generic advice.
ADVICE_SEPARATOR = " — "


@functools.cache
def in_every_language(text: str) -> tuple[str, ...]:
    """``text`` as written in each of the LANGUAGES (the untranslated form included)."""
    forms = {text}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            forms.add(_(text))
    return tuple(sorted(forms))


def _contains_any(text: str, markers: tuple[str, ...]) -> bool:
    return any(marker in text for marker in markers)


@dataclass(frozen=True)
class Notice:
    """One message box on the progress page; ``code`` names the situation."""

    code: str
    level: str  # a Django messages level tag: "error", "warning", "info" or "success"
    title: str
    text: str = ""
    link_url: str = ""
    link_label: str = ""


@dataclass(frozen=True)
class ChartBar:
    batch_number: int | None
    x: float
    width: float
    sent: int
    failed: int
    sent_y: float
    sent_height: float
    failed_y: float
    failed_height: float
    seconds: float


@dataclass(frozen=True)
class Chart:
    bars: list[ChartBar]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    peak: int = 0


@dataclass
class RunPage:
    run: BatchRun
    progress: Progress
    still_pending: int
    elapsed: str
    eta: str
    rate: str
    log: list[BatchRunLog]
    chart: Chart
    notices: list[Notice] = field(default_factory=list)

    @property
    def percent_text(self) -> str:
        return f"{self.progress.percent:.1f}"

    @property
    def delay_changed(self) -> bool:
        return self.progress.current_delay_seconds > self.run.delay_seconds


def build_run_page(*, run: BatchRun, in_doubt_url: str = "") -> RunPage:
    """Everything the page and its live fragment show for ``run`` (campaign freshly loaded)."""
    progress = snapshot(run)
    log = list(run.logs.order_by("-id")[:LOG_LINES_ON_PAGE])
    return RunPage(
        run=run,
        progress=progress,
        still_pending=progress.pending,
        elapsed=format_hms(progress.elapsed_seconds),
        eta=format_hms(progress.eta_seconds) if progress.is_active else "—",
        rate=_rate_text(progress),
        log=log,
        chart=batch_chart(run),
        notices=run_notices(run=run, progress=progress, log=log, in_doubt_url=in_doubt_url),
    )


def _rate_text(progress: Progress) -> str:
    """The recent rate while active; once ended, the average over the whole run."""
    rate = progress.rate_per_minute
    if not progress.is_active:
        elapsed = progress.elapsed_seconds
        done = progress.sent + progress.failed
        rate = SECONDS_PER_MINUTE * done / elapsed if elapsed else None
    return "—" if rate is None else f"{rate:.1f}"


def batch_chart(run: BatchRun) -> Chart:
    """Stacked sent/failed bars of the run's latest batches, oldest on the left."""
    summaries = list(
        run.logs.filter(batch_seconds__isnull=False)
        .order_by("-id")
        .values_list("batch_number", "batch_sent", "batch_failed", "batch_seconds")[:CHART_BATCHES]
    )
    summaries.reverse()
    if not summaries:
        return Chart(bars=[])
    peak = max((sent or 0) + (failed or 0) for _n, sent, failed, _s in summaries) or 1
    # Room for at least CHART_MIN_SLOTS bars, so a young run's few bars are not slabs.
    slot = CHART_WIDTH / max(len(summaries), CHART_MIN_SLOTS)
    bar_width = round(slot * CHART_BAR_FILL, 2)
    scale = CHART_HEIGHT / peak
    bars = []
    for index, (number, sent, failed, seconds) in enumerate(summaries):
        sent, failed = sent or 0, failed or 0
        sent_height = round(sent * scale, 2)
        failed_height = round(failed * scale, 2)
        bars.append(
            ChartBar(
                batch_number=number,
                x=round(index * slot, 2),
                width=bar_width,
                sent=sent,
                failed=failed,
                sent_y=round(CHART_HEIGHT - sent_height, 2),
                sent_height=sent_height,
                failed_y=round(CHART_HEIGHT - sent_height - failed_height, 2),
                failed_height=failed_height,
                seconds=round(seconds or 0.0, 1),
            )
        )
    return Chart(bars=bars, peak=peak)


def run_notices(
    *, run: BatchRun, progress: Progress, log: list[BatchRunLog], in_doubt_url: str = ""
) -> list[Notice]:
    """The page's messages for the run's situation, most urgent first."""
    notices: list[Notice] = []
    if run.status == BatchRun.Status.FAILED:
        notices.append(_failure_notice(run))
    if progress.is_active and progress.worker_stale:
        notices.append(_worker_stale_notice(run, progress))
    if _rate_limited(run, progress, log):
        notices.append(_rate_limit_notice(run, progress))
    if run.status == BatchRun.Status.STOPPING:
        who = run.stopped_by.get_username() if run.stopped_by else _("the system")
        notices.append(
            Notice(
                code="stopping",
                level="warning",
                title=_("Stop requested by %(who)s") % {"who": who},
                text=_(
                    "Nothing new is sent; the messages already in flight finish and are "
                    "recorded. The run stops within a second."
                ),
            )
        )
    if run.status == BatchRun.Status.COMPLETED:
        notices.append(
            Notice(
                code=run.status,
                level="success",
                title=run.get_status_display(),
                text=run.end_reason,
            )
        )
    if run.status == BatchRun.Status.STOPPED:
        # A stop (by a person or by the failure-rate guard) leaves work undone: a warning.
        notices.append(
            Notice(
                code=run.status,
                level="warning",
                title=run.end_reason or run.get_status_display(),
                text=_(
                    "Recipients still pending stay pending: a new run (with any configuration) "
                    "continues with them."
                ),
            )
        )
    in_doubt = run.campaign.in_doubt_count
    if in_doubt:
        notices.append(
            Notice(
                code="in_doubt",
                level="warning",
                title=_("%(n)s recipient(s) of this campaign are in doubt") % {"n": in_doubt},
                text=_(
                    "Their message may have reached WhatsApp, so they are never resent "
                    "automatically. Resolve them in the recipient list: mark sent, mark failed "
                    "or back to pending."
                ),
                link_url=in_doubt_url,
                link_label=_("Show the in-doubt recipients") if in_doubt_url else "",
            )
        )
    return notices


def _failure_notice(run: BatchRun) -> Notice:
    reason = run.end_reason or _("The run failed.")
    if reason.startswith(in_every_language(API_ERROR_PREFIX)):
        if ADVICE_SEPARATOR not in reason:
            reason = (
                reason.rstrip(". ") + ADVICE_SEPARATOR + _("check the WhatsApp API configuration")
            )
        return Notice(
            code="api_error",
            level="error",
            title=reason,
            text=_(
                "The run stopped at the first error of this kind; the recipients it had not "
                "sent are still pending. Fix the cause, then start a new run: it continues "
                "with them."
            ),
        )
    return Notice(code="failed", level="error", title=reason)


def _worker_stale_notice(run: BatchRun, progress: Progress) -> Notice:
    if progress.heartbeat_at is None:
        since = _("The run has been waiting for a worker for more than %(s)s seconds.") % {
            "s": settings.SENDING_WORKER_STALE_SECONDS
        }
    else:
        since = _("No heartbeat from the worker since %(when)s (more than %(s)s seconds).") % {
            "when": _local_time(progress.heartbeat_at),
            "s": settings.SENDING_WORKER_STALE_SECONDS,
        }
    return Notice(
        code="worker_stale",
        level="error",
        title=_("Worker not responding"),
        text=since
        + " "
        + _(
            "Start the worker with “python manage.py qcluster” (scripts/run-app starts one), "
            "or check that the qcluster process is running and can reach the database. The "
            "run continues by itself within a minute of a worker being available; recipients "
            "that were in flight become “in doubt” and are never sent twice."
        ),
    )


def _rate_limited(run: BatchRun, progress: Progress, log: list[BatchRunLog]) -> bool:
    if progress.is_active and progress.current_delay_seconds > run.delay_seconds:
        return True
    reference = timezone.now() if progress.is_active else (run.finished_at or timezone.now())
    for line in log:  # newest first: the latest word on rate limits decides
        if _contains_any(line.message, in_every_language(RATE_LIMIT_CLEARED_MARKER)):
            return False
        if _contains_any(line.message, in_every_language(RATE_LIMIT_MARKER)):
            return line.created_at >= reference - RATE_LIMIT_RECENT
    return False


def _rate_limit_notice(run: BatchRun, progress: Progress) -> Notice:
    if progress.is_active and progress.current_delay_seconds > run.delay_seconds:
        detail = _(
            "WhatsApp answers with rate-limit errors: the run now waits %(current)s s between "
            "batches instead of %(configured)s s, and speeds up again when the errors stop."
        ) % {
            "current": f"{progress.current_delay_seconds:.0f}",
            "configured": run.delay_seconds,
        }
    elif progress.is_active:
        detail = _("WhatsApp answered with rate-limit errors in the last minutes.")
    else:
        detail = _("WhatsApp answered with rate-limit errors shortly before the run ended.")
    return Notice(
        code="rate_limit",
        level="warning",
        title=_("Rate limit exceeded — increase the delay"),
        text=detail
        + " "
        + _("For the next run choose a longer delay (10–30 s after rate-limit errors)."),
    )


def _local_time(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%H:%M:%S}"
