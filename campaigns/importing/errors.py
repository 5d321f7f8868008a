"""Why an import cannot go ahead; each carries a message for the operator."""

from __future__ import annotations


class RecipientImportError(ValueError):
    """An import that cannot go ahead; ``message`` is for the operator. Nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImportFileError(RecipientImportError):
    """The file (or the moment) does not allow an import."""


class CampaignClosedError(RecipientImportError):
    """The campaign no longer accepts recipients."""
