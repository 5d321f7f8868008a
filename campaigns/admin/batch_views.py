"""Manual Batch Processing pages: the config form, a run's progress page, its live fragment,
Stop, and the operator guide. Wired in CampaignAdmin.get_urls and BatchRunAdmin.get_urls.

``admin_view`` only checks ``is_staff``; every view here checks its permission explicitly.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseStopPolling

from campaigns.admin.progress import RunPage, build_run_page
from campaigns.batch_forms import (
    BatchConfigForm,
    default_config,
    estimated_batch_seconds,
    format_hms,
    preview,
    recommended_batch_range,
    size_recommendations,
)
from campaigns.models import BatchRun, Campaign
from campaigns.sending import runs
from campaigns.sending.exceptions import BatchRunError, CampaignNotFound, RunNotFound

RUN_BATCH = "campaigns.run_batch"
VIEW_RUNS = "campaigns.view_batchrun"
# The campaigns "Send Batch Manually" is offered for (issue #4).
SENDABLE_STATUSES = (Campaign.Status.DRAFT, Campaign.Status.SENDING, Campaign.Status.FAILED)
# The Overview's Manual Batch Processing card is shown for these.
CARD_STATUSES = (Campaign.Status.SENDING, Campaign.Status.FAILED)
POLL_INTERVAL = "1s"
# Without JavaScript an active run's page reloads itself this often (seconds).
NOSCRIPT_REFRESH_SECONDS = 5
OPERATOR_GUIDE_REPO_PATH = "docs/manual-batch-processing.md"
OPERATOR_GUIDE_PATH = settings.BASE_DIR / OPERATOR_GUIDE_REPO_PATH

CONFIG_TEMPLATE = "admin/campaigns/campaign/send_batch.html"
PROGRESS_TEMPLATE = "admin/campaigns/batchrun/progress.html"
LIVE_TEMPLATE = "admin/campaigns/batchrun/progress_live.html"


def status_refusal(campaign: Campaign) -> str | None:
    """Why "Send Batch Manually" is not offered for the campaign's status, or None."""
    if campaign.status in SENDABLE_STATUSES:
        return None
    return _(
        "“%(campaign)s” is %(status)s: Send Batch Manually works on a campaign in draft, "
        "sending or failed."
    ) % {"campaign": campaign, "status": campaign.get_status_display().lower()}


def active_run_of(campaign: Campaign) -> BatchRun | None:
    return campaign.batch_runs.filter(status__in=BatchRun.ACTIVE_STATUSES).first()


def progress_url(run: BatchRun | int) -> str:
    pk = run if isinstance(run, int) else run.pk
    return reverse("admin:campaigns_batchrun_progress", args=[pk])


def config_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_send_batch", args=[campaign.pk])


def in_doubt_url(campaign_id: int) -> str:
    query = urlencode({"campaign__id__exact": campaign_id, "status__exact": "in_doubt"})
    return reverse("admin:campaigns_recipient_changelist") + "?" + query


def runs_of_campaign_url(campaign: Campaign) -> str:
    query = urlencode({"campaign__id__exact": campaign.pk})
    return reverse("admin:campaigns_batchrun_changelist") + "?" + query


# --- The configuration page -------------------------------------------------------------------
def send_batch_view(
    model_admin: admin.ModelAdmin[Campaign], request: HttpRequest, object_id: str
) -> HttpResponseBase:
    """GET: the form beside the campaign, preview and recommendations. POST: start the run."""
    if not request.user.has_perm(RUN_BATCH):
        raise PermissionDenied
    campaign = model_admin.get_object(request, unquote(object_id))
    if campaign is None:
        messages.error(request, str(CampaignNotFound()))
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_changelist"))

    if request.method == "POST":
        form = BatchConfigForm(request.POST)
        started = _start(request=request, campaign=campaign, form=form)
        if started is not None:
            return started
    else:
        form = BatchConfigForm()

    context = {
        **model_admin.admin_site.each_context(request),
        **config_page_context(campaign=campaign, form=form),
        "opts": model_admin.opts,
        "title": _("Send Batch Manually"),
        "subtitle": str(campaign),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, CONFIG_TEMPLATE, context)


def _start(
    *, request: HttpRequest, campaign: Campaign, form: BatchConfigForm
) -> HttpResponseBase | None:
    """Start the run and redirect to its page; None (with form errors) when refused."""
    config = form.config()
    if config is None:
        return None
    refusal = status_refusal(campaign)
    if refusal:
        form.add_error(None, refusal)
        return None
    try:
        run = runs.start_run(
            campaign_id=campaign.pk,
            actor=request.user,
            request=request,
            via="admin",
            batch_size=config["batch_size"],
            delay_seconds=config["delay_seconds"],
            max_retries=config["max_retries"],
        )
    except CampaignNotFound as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_changelist"))
    except BatchRunError as exc:
        form.add_error(None, str(exc))
        campaign.refresh_from_db()
        return None
    messages.success(
        request,
        _(
            "Batch run #%(run)s started for %(n)s pending recipients: batch %(b)s, delay "
            "%(d)s s, retries %(r)s."
        )
        % {
            "run": run.pk,
            "n": run.total_count,
            "b": run.batch_size,
            "d": run.delay_seconds,
            "r": run.max_retries,
        },
    )
    return HttpResponseRedirect(progress_url(run))


def config_page_context(*, campaign: Campaign, form: BatchConfigForm) -> dict[str, Any]:
    """The campaign's figures, the preview of the form's values and the guide's advice."""
    pending = campaign.pending_count
    batch_seconds, measured = estimated_batch_seconds(campaign)
    chosen = form.config() if form.is_bound else default_config()
    figures = (
        preview(
            pending=pending,
            batch_size=chosen["batch_size"],
            delay_seconds=chosen["delay_seconds"],
            batch_seconds=batch_seconds,
        )
        if chosen is not None
        else None
    )
    low, high = recommended_batch_range(recipients=pending)
    active = active_run_of(campaign)
    notices: list[str] = []
    refusal = status_refusal(campaign)
    if refusal:
        notices.append(refusal)
    if active is None and pending == 0:
        notices.append(_("No pending recipients — all messages already sent"))
    # A refusal the form already shows as its error is not repeated above it.
    shown = set(form.non_field_errors()) if form.is_bound else set()
    notices = [notice for notice in notices if notice not in shown]
    return {
        "campaign": campaign,
        "form": form,
        "pending": pending,
        "preview": figures,
        "preview_duration": format_hms(figures.duration_seconds) if figures else "—",
        "batch_seconds": batch_seconds,
        "batch_seconds_measured": measured,
        "recommendations": size_recommendations(recipients=pending),
        "recommended_min": low,
        "recommended_max": high,
        "outside_recommendation": chosen is not None and not low <= chosen["batch_size"] <= high,
        "active_run": active,
        "active_run_url": progress_url(active) if active else "",
        "notices": notices,
        "guide_url": reverse("admin:campaigns_campaign_batch_guide"),
        "guide_path": OPERATOR_GUIDE_REPO_PATH,
    }


# --- The campaign page's card and button ------------------------------------------------------
def campaign_page_context(*, request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
    """The Overview's Manual Batch Processing card and the Recipients section's button."""
    can_run = request.user.has_perm(RUN_BATCH)
    context: dict[str, Any] = {
        "send_batch_url": config_url(campaign)
        if can_run and campaign.status in SENDABLE_STATUSES
        else "",
        "batch_card": None,
    }
    if campaign.status not in CARD_STATUSES:
        return context
    active = active_run_of(campaign)
    latest = active or campaign.batch_runs.order_by("-id").first()
    open_url = progress_url(active) if active else (config_url(campaign) if can_run else "")
    context["batch_card"] = {
        "active_run": active,
        "latest_run": latest,
        "latest_run_url": progress_url(latest) if latest else "",
        "open_url": open_url,
        "runs_url": runs_of_campaign_url(campaign),
    }
    return context


# --- A run's progress page --------------------------------------------------------------------
def _run_or_none(object_id: str) -> BatchRun | None:
    try:
        pk = int(unquote(object_id))
    except ValueError:
        return None
    return (
        BatchRun.objects.select_related("campaign", "started_by", "stopped_by")
        .filter(pk=pk)
        .first()
    )


def _live_context(request: HttpRequest, run: BatchRun, *, is_fragment: bool) -> dict[str, Any]:
    page: RunPage = build_run_page(run=run, in_doubt_url=in_doubt_url(run.campaign_id))
    campaign = run.campaign
    can_run = request.user.has_perm(RUN_BATCH)
    return {
        "page": page,
        "run": run,
        "is_fragment": is_fragment,
        "can_stop": can_run and run.status in (BatchRun.Status.QUEUED, BatchRun.Status.RUNNING),
        "start_again_url": config_url(campaign)
        if can_run
        and not run.is_active
        and campaign.status in SENDABLE_STATUSES
        and campaign.pending_count
        else "",
        "live_url": reverse("admin:campaigns_batchrun_progress_live", args=[run.pk]),
        "stop_url": reverse("admin:campaigns_batchrun_stop", args=[run.pk]),
        "full_log_url": reverse("admin:campaigns_batchrunlog_changelist")
        + "?"
        + urlencode({"run__id__exact": run.pk}),
        "poll_interval": POLL_INTERVAL,
        # While the run is active its 1 s poll refreshes the funnel too; once it has ended,
        # the funnel polls by itself (deliveries and reads keep arriving for days).
        "funnel_polled_by_page": run.is_active,
    }


def progress_view(
    model_admin: admin.ModelAdmin[BatchRun], request: HttpRequest, object_id: str
) -> HttpResponseBase:
    if not request.user.has_perm(VIEW_RUNS):
        raise PermissionDenied
    run = _run_or_none(object_id)
    if run is None:
        messages.error(request, str(RunNotFound()))
        return HttpResponseRedirect(reverse("admin:campaigns_batchrun_changelist"))
    live = _live_context(request, run, is_fragment=False)
    campaign = run.campaign
    context = {
        **model_admin.admin_site.each_context(request),
        **live,
        "opts": model_admin.opts,
        "campaign": campaign,
        "campaign_opts": Campaign._meta,
        "campaign_runs_url": runs_of_campaign_url(campaign),
        # The campaign is named once, in the line under the title (and in the breadcrumbs).
        "title": _("Batch run #%(run)s") % {"run": run.pk},
        "noscript_refresh": NOSCRIPT_REFRESH_SECONDS if run.is_active else None,
        "record_url": reverse("admin:campaigns_batchrun_change", args=[run.pk]),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, PROGRESS_TEMPLATE, context)


def progress_live_view(
    model_admin: admin.ModelAdmin[BatchRun], request: HttpRequest, object_id: str
) -> HttpResponseBase:
    """The polled part of the progress page; once the run has ended, htmx stops polling."""
    if not request.user.has_perm(VIEW_RUNS):
        raise PermissionDenied
    run = _run_or_none(object_id)
    if run is None:
        return HttpResponseStopPolling(
            format_html(
                '<div id="run-live"><ul class="messagelist"><li class="error">{}</li></ul></div>',
                str(RunNotFound()),
            )
        )
    response = TemplateResponse(
        request, LIVE_TEMPLATE, _live_context(request, run, is_fragment=True)
    )
    if not run.is_active:
        # 286 tells htmx to stop polling; the fragment itself no longer has hx-trigger either.
        response.status_code = HttpResponseStopPolling.status_code
    return response


def stop_view(
    model_admin: admin.ModelAdmin[BatchRun], request: HttpRequest, object_id: str
) -> HttpResponseBase:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.user.has_perm(RUN_BATCH):
        raise PermissionDenied
    run = _run_or_none(object_id)
    if run is None:
        messages.error(request, str(RunNotFound()))
        return HttpResponseRedirect(reverse("admin:campaigns_batchrun_changelist"))
    try:
        stopped = runs.request_stop(run_id=run.pk, actor=request.user, request=request)
    except BatchRunError as exc:
        messages.warning(request, str(exc))
    else:
        if stopped.status == BatchRun.Status.STOPPED:
            messages.success(request, _("The run was stopped before it started sending."))
        else:
            messages.success(
                request,
                _(
                    "Stop requested: nothing new is sent; messages in flight finish and are "
                    "recorded."
                ),
            )
    return HttpResponseRedirect(progress_url(run))


# --- The operator guide ---------------------------------------------------------------------
def guide_view(request: HttpRequest) -> HttpResponse | FileResponse:
    """docs/manual-batch-processing.md as plain text, for staff who have no repository."""
    if not request.user.has_perm("campaigns.view_campaign"):
        raise PermissionDenied
    if not OPERATOR_GUIDE_PATH.is_file():
        raise Http404(_("The operator guide is not installed."))
    return FileResponse(OPERATOR_GUIDE_PATH.open("rb"), content_type="text/plain; charset=utf-8")
