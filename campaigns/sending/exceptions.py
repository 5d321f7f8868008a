"""Domain errors of the batch engine; their text is what the operator reads."""

from __future__ import annotations

from django.utils.translation import gettext as _


class BatchRunError(Exception):
    """A batch operation was refused; ``str(error)`` is the operator's message."""


class CampaignNotFound(BatchRunError):
    def __init__(self) -> None:
        super().__init__(_("Campaign not found"))


class NoPendingRecipients(BatchRunError):
    def __init__(self) -> None:
        super().__init__(_("No pending recipients — all messages already sent"))


class RunAlreadyActive(BatchRunError):
    def __init__(self) -> None:
        super().__init__(_("A batch run is already active for this campaign"))


class CampaignNotRunnable(BatchRunError):
    def __init__(self, status_label: str) -> None:
        super().__init__(
            _(
                "Only campaigns in draft, sending, completed or failed can be sent; "
                "this one is %(status)s."
            )
            % {"status": status_label}
        )


class InvalidBatchConfiguration(BatchRunError):
    pass


class RunNotActive(BatchRunError):
    def __init__(self) -> None:
        super().__init__(_("This batch run has already ended."))


class RunNotFound(BatchRunError):
    def __init__(self) -> None:
        super().__init__(_("Batch run not found"))
