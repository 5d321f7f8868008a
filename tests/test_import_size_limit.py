"""Files above IMPORT_MAX_FILE_BYTES are refused before anything is written."""

from __future__ import annotations

import io

import pytest
from pytest_django import Settings

from campaigns.importing import ImportFileError, import_recipients
from campaigns.models import Campaign, Recipient

pytestmark = pytest.mark.django_db

FILE = b"nomor,nama\n081234567890,Budi\n"


def test_a_file_over_the_limit_is_refused_naming_the_limit(
    campaign: Campaign, settings: Settings
) -> None:
    settings.IMPORT_MAX_FILE_BYTES = len(FILE) - 1

    with pytest.raises(ImportFileError, match=f"too large: the limit is {len(FILE) - 1}\xa0bytes"):
        import_recipients(campaign=campaign, fileobj=io.BytesIO(FILE), filename="big.csv")

    assert not Recipient.objects.exists()


def test_a_file_exactly_at_the_limit_is_imported(campaign: Campaign, settings: Settings) -> None:
    settings.IMPORT_MAX_FILE_BYTES = len(FILE)

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(FILE), filename="ok.csv")

    assert result.created == 1
