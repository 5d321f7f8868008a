"""The public schema of blastadmin: campaigns, recipients, batch runs and the audit trail.

Field names here are used by reports, scripts and acceptance checks; rename with care.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

BATCH_SIZE_MIN, BATCH_SIZE_MAX, BATCH_SIZE_DEFAULT = 1, 50, 10
DELAY_SECONDS_MIN, DELAY_SECONDS_MAX, DELAY_SECONDS_DEFAULT = 1, 60, 5
MAX_RETRIES_MIN, MAX_RETRIES_MAX, MAX_RETRIES_DEFAULT = 1, 5, 3


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENDING = "sending", _("Sending")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=200)
    template_name = models.CharField(_("template name"), max_length=512)
    template_language = models.CharField(_("template language"), max_length=15, default="id")
    template_parameters = models.JSONField(
        _("default template parameters"),
        default=list,
        blank=True,
        help_text=_(
            'Ordered list of named values, e.g. [{"name": "participant_name", "value": "Peserta"},'
            ' {"name": "location", "value": "Jakarta"}]. A recipient\'s own variables with the'
            " same name override these."
        ),
    )
    named_parameters = models.BooleanField(
        _("template uses named parameters"),
        default=False,
        help_text=_(
            "Off: the template has positional placeholders ({{1}}, {{2}} …) filled in the order"
            " above. On: it has named placeholders, sent with their parameter names."
        ),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    # Per-status recipient counts, kept in step by campaigns.stats in the same transaction as
    # every status change, so lists never count a million rows on a page view.
    pending_count = models.PositiveIntegerField(_("pending"), default=0, editable=False)
    sending_count = models.PositiveIntegerField(_("sending"), default=0, editable=False)
    sent_count = models.PositiveIntegerField(_("sent"), default=0, editable=False)
    delivered_count = models.PositiveIntegerField(_("delivered"), default=0, editable=False)
    read_count = models.PositiveIntegerField(_("read"), default=0, editable=False)
    failed_count = models.PositiveIntegerField(_("failed"), default=0, editable=False)
    in_doubt_count = models.PositiveIntegerField(_("in doubt"), default=0, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("run_batch", _("Can run manual batch processing")),
            ("import_recipients", _("Can import recipients")),
            ("export_recipients", _("Can export recipients")),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="campaign_status_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def total_recipients(self) -> int:
        return (
            self.pending_count
            + self.sending_count
            + self.sent_count
            + self.delivered_count
            + self.read_count
            + self.failed_count
            + self.in_doubt_count
        )

    @property
    def accepted_count(self) -> int:
        """Recipients WhatsApp accepted: sent, delivered or read."""
        return self.sent_count + self.delivered_count + self.read_count

    @property
    def processed_count(self) -> int:
        """Recipients that are no longer waiting to be sent."""
        return self.accepted_count + self.failed_count + self.in_doubt_count

    @property
    def progress_percent(self) -> float:
        total = self.total_recipients
        return round(100.0 * self.processed_count / total, 1) if total else 0.0

    @property
    def success_rate_percent(self) -> float | None:
        """Share of finished recipients that WhatsApp accepted; None before any finished."""
        finished = self.accepted_count + self.failed_count
        return round(100.0 * self.accepted_count / finished, 1) if finished else None


class Recipient(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")
        IN_DOUBT = "in_doubt", _("In doubt")

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="recipients",
    )
    phone_number = models.CharField(
        _("phone number"), max_length=20, help_text=_("E.164 with the leading +.")
    )
    name = models.CharField(_("name"), max_length=255, blank=True)
    variables = models.JSONField(
        _("template variables"),
        default=dict,
        blank=True,
        help_text=_("Per-recipient template values by name; they override the campaign's."),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # NULL rather than "" so that the partial unique constraint ignores unsent rows.
    wamid = models.CharField(  # noqa: DJ001
        _("WhatsApp message id"), max_length=128, null=True, blank=True
    )
    error_code = models.IntegerField(_("error code"), null=True, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    error_details = models.TextField(_("error details"), blank=True)
    error_http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error_fbtrace_id = models.CharField(_("fbtrace id"), max_length=64, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    # The run that last claimed this recipient: how a crashed run finds its in-flight rows.
    batch_run = models.ForeignKey(
        "BatchRun",
        verbose_name=_("last batch run"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "phone_number"], name="recipient_unique_phone_per_campaign"
            ),
            models.UniqueConstraint(
                fields=["wamid"], condition=Q(wamid__isnull=False), name="recipient_unique_wamid"
            ),
            models.CheckConstraint(
                condition=Q(phone_number__startswith="+"), name="recipient_phone_is_e164"
            ),
        ]
        indexes = [
            # "Pending recipients of a campaign, in a stable order" and the status tabs.
            models.Index(fields=["campaign", "status", "id"], name="recipient_campaign_status_idx"),
            # "Recipients by status" across campaigns (admin filter, newest first).
            models.Index(fields=["status", "id"], name="recipient_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.phone_number}>" if self.name else self.phone_number


class BatchRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        STOPPING = "stopping", _("Stopping")
        STOPPED = "stopped", _("Stopped")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    ACTIVE_STATUSES: ClassVar[tuple[str, ...]] = (
        Status.QUEUED,
        Status.RUNNING,
        Status.STOPPING,
    )

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="batch_runs"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("stopped by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    batch_size = models.PositiveSmallIntegerField(_("batch size"), default=BATCH_SIZE_DEFAULT)
    delay_seconds = models.PositiveSmallIntegerField(
        _("delay between batches (s)"), default=DELAY_SECONDS_DEFAULT
    )
    max_retries = models.PositiveSmallIntegerField(_("max retries"), default=MAX_RETRIES_DEFAULT)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    total_count = models.PositiveIntegerField(
        _("recipients to send"), default=0, help_text=_("Pending recipients when the run began.")
    )
    sent_count = models.PositiveIntegerField(_("sent"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    retried_count = models.PositiveIntegerField(_("retried"), default=0)
    in_doubt_count = models.PositiveIntegerField(_("in doubt"), default=0)
    batches_done = models.PositiveIntegerField(_("batches done"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)
    end_reason = models.TextField(_("reason it ended"), blank=True)
    # One worker drives a run at a time: it holds the lease and renews it with the heartbeat.
    lease_owner = models.CharField(_("lease owner"), max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires at"), null=True, blank=True)
    # Grows while WhatsApp answers with rate-limit codes, shrinks back when they stop.
    current_delay_seconds = models.FloatField(_("current delay (s)"), null=True, blank=True)
    avg_batch_seconds = models.FloatField(_("average batch time (s)"), null=True, blank=True)
    next_batch_at = models.DateTimeField(_("next batch at"), null=True, blank=True)

    class Meta:
        verbose_name = _("batch run")
        verbose_name_plural = _("batch runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(status__in=["queued", "running", "stopping"]),
                name="batchrun_one_active_per_campaign",
                violation_error_message=_("A batch run is already active for this campaign"),
            ),
            models.CheckConstraint(
                condition=Q(batch_size__gte=BATCH_SIZE_MIN, batch_size__lte=BATCH_SIZE_MAX),
                name="batchrun_batch_size_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    delay_seconds__gte=DELAY_SECONDS_MIN, delay_seconds__lte=DELAY_SECONDS_MAX
                ),
                name="batchrun_delay_seconds_range",
            ),
            models.CheckConstraint(
                condition=Q(max_retries__gte=MAX_RETRIES_MIN, max_retries__lte=MAX_RETRIES_MAX),
                name="batchrun_max_retries_range",
            ),
        ]
        indexes = [models.Index(fields=["status"], name="batchrun_status_idx")]

    def __str__(self) -> str:
        return gettext("Run #%(run)s of %(campaign)s") % {"run": self.pk, "campaign": self.campaign}

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class SenderThrottle(models.Model):
    """The shared send budget of one WhatsApp phone-number id, across all runs and workers."""

    phone_number_id = models.CharField(_("phone-number id"), max_length=64, unique=True)
    # Unix times of the sends reserved within the last second (and ahead of now).
    recent_sends = models.JSONField(_("recent send slots"), default=list, blank=True)

    class Meta:
        verbose_name = _("sender throttle")
        verbose_name_plural = _("sender throttles")

    def __str__(self) -> str:
        return self.phone_number_id


class BatchRunLog(models.Model):
    """One line of a run's activity log."""

    class Level(models.TextChoices):
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    run = models.ForeignKey(
        BatchRun, verbose_name=_("batch run"), on_delete=models.CASCADE, related_name="logs"
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    level = models.CharField(_("level"), max_length=8, choices=Level.choices, default=Level.INFO)
    batch_number = models.PositiveIntegerField(_("batch"), null=True, blank=True)
    message = models.TextField(_("message"))
    # Set on the one summary line each batch writes: the progress chart, rate and ETA use them.
    batch_sent = models.PositiveIntegerField(_("sent in batch"), null=True, blank=True)
    batch_failed = models.PositiveIntegerField(_("failed in batch"), null=True, blank=True)
    batch_seconds = models.FloatField(_("batch duration (s)"), null=True, blank=True)

    class Meta:
        verbose_name = _("activity log entry")
        verbose_name_plural = _("activity log entries")
        ordering = ["-id"]
        indexes = [models.Index(fields=["run", "-id"], name="batchrunlog_run_idx")]

    def __str__(self) -> str:
        return self.message


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditLogIsAppendOnly("The audit log is append-only: rows cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("The audit log is append-only: rows cannot be deleted.")


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or remove an audit row."""


class AuditLog(models.Model):
    """Append-only trail of manual and system operations.

    It deliberately has no foreign keys: deleting a user or a campaign must neither fail nor
    touch this table, so each row keeps a readable reference (ids and names) instead.
    On PostgreSQL a trigger (migration 0002) rejects UPDATE and DELETE as well.
    """

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_username = models.CharField(
        _("actor"), max_length=150, blank=True, help_text=_("Empty for the system.")
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log entries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="auditlog_object_idx"),
            models.Index(fields=["actor_username", "-created_at"], name="auditlog_actor_idx"),
        ]

    def __str__(self) -> str:
        who = self.actor_username or gettext("system")
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("The audit log is append-only: rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("The audit log is append-only: rows cannot be deleted.")


class WebhookEvent(models.Model):
    """One webhook POST exactly as it arrived, kept ``WEBHOOK_RETENTION_DAYS`` days.

    The raw body is stored before anything is parsed, so nothing Meta sent is lost: a payload
    that could not be processed can be read (and processed again) later.
    """

    class Result(models.TextChoices):
        RECEIVED = "received", _("Received, not processed yet")
        PROCESSED = "processed", _("Processed")
        BAD_SIGNATURE = "bad_signature", _("Rejected: missing or wrong signature")
        MALFORMED = "malformed", _("Rejected: malformed body")
        FAILED = "failed", _("Processing failed")

    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    body = models.BinaryField(_("raw body"))
    signature_valid = models.BooleanField(_("signature valid"), default=False)
    result = models.CharField(
        _("result"), max_length=16, choices=Result.choices, default=Result.RECEIVED
    )
    # What processing did ({"statuses": 1000, "applied": 998, "unknown": 2, …}) or why not.
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return gettext("Webhook #%(id)s %(result)s") % {
            "id": self.pk,
            "result": self.get_result_display(),
        }


class UnmatchedStatus(models.Model):
    """A delivery status for a wamid no recipient had when it arrived: kept, never dropped.

    It is applied later if a recipient gets that wamid (the status arrived before the send
    result was written), or it resolves an ``in_doubt`` recipient with the same phone number.
    """

    wamid = models.CharField(_("WhatsApp message id"), max_length=128)
    status = models.CharField(_("status"), max_length=16)
    timestamp = models.DateTimeField(_("status time"), null=True, blank=True)
    # The recipient's WhatsApp id (digits, no +); Meta may omit it since 2026.
    recipient_wa_id = models.CharField(_("recipient WhatsApp id"), max_length=32, blank=True)
    recipient_user_id = models.CharField(_("recipient user id"), max_length=128, blank=True)
    phone_number_id = models.CharField(_("sender phone-number id"), max_length=64, blank=True)
    error_code = models.IntegerField(_("error code"), null=True, blank=True)
    error_title = models.TextField(_("error title"), blank=True)
    error_details = models.TextField(_("error details"), blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    event = models.ForeignKey(
        WebhookEvent,
        verbose_name=_("webhook event"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Set once the status was applied to a recipient (late match or in-doubt resolution).
    # A plain id, not a foreign key: a key to Recipient would stop Django from deleting a
    # campaign's recipients in one statement.
    recipient_id = models.BigIntegerField(_("matched recipient id"), null=True, blank=True)
    matched_at = models.DateTimeField(_("matched at"), null=True, blank=True)

    class Meta:
        verbose_name = _("unmatched status")
        verbose_name_plural = _("unmatched statuses")
        ordering = ["-received_at", "-id"]
        constraints = [
            # A replayed status is the same fact: stored once.
            models.UniqueConstraint(fields=["wamid", "status"], name="unmatchedstatus_unique"),
        ]
        indexes = [
            models.Index(
                fields=["recipient_wa_id"],
                condition=Q(recipient_id__isnull=True),
                name="unmatchedstatus_open_phone_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.wamid}"


class Suppression(models.Model):
    """A phone number no run may send to (an opt-out, error 131050, or an operator's entry)."""

    class Reason(models.TextChoices):
        OPT_OUT_WORD = "opt_out_word", _("Replied with an opt-out word")
        MARKETING_OPT_OUT = "131050", _("Stopped marketing messages (131050)")
        MANUAL = "manual", _("Added by an operator")

    class Source(models.TextChoices):
        WEBHOOK = "webhook", _("WhatsApp webhook")
        SEND_RESULT = "send_result", _("Send result")
        ADMIN = "admin", _("Admin")

    phone_number = models.CharField(
        _("phone number"), max_length=20, unique=True, help_text=_("E.164 with the leading +.")
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    # The word the person sent, the wamid or campaign it came from, or the operator's note.
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed number")
        verbose_name_plural = _("suppression list")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(phone_number__startswith="+"), name="suppression_phone_is_e164"
            ),
        ]

    def __str__(self) -> str:
        return self.phone_number
