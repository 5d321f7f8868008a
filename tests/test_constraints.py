"""The database itself refuses rows that break the rules, whatever code writes them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from campaigns.models import BatchRun, Campaign, Recipient
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db


def test_a_phone_number_appears_once_per_campaign(campaign: Campaign) -> None:
    Recipient.objects.create(campaign=campaign, phone_number="+6281234567890")
    with pytest.raises(IntegrityError), transaction.atomic():
        Recipient.objects.create(campaign=campaign, phone_number="+6281234567890")


def test_the_same_phone_number_may_be_in_two_campaigns(campaign: Campaign) -> None:
    other = Campaign.objects.create(name="Other", template_name="t")
    Recipient.objects.create(campaign=campaign, phone_number="+6281234567890")
    Recipient.objects.create(campaign=other, phone_number="+6281234567890")
    assert Recipient.objects.filter(phone_number="+6281234567890").count() == 2


def test_a_phone_number_must_be_stored_in_e164_with_the_plus(campaign: Campaign) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Recipient.objects.create(campaign=campaign, phone_number="081234567890")


def test_a_wamid_belongs_to_one_recipient_only(campaign: Campaign) -> None:
    first, second = add_recipients(campaign, 2)
    Recipient.objects.filter(pk=first.pk).update(wamid="wamid.ABC")
    with pytest.raises(IntegrityError), transaction.atomic():
        Recipient.objects.filter(pk=second.pk).update(wamid="wamid.ABC")


def test_many_recipients_may_have_no_wamid_yet(campaign: Campaign) -> None:
    add_recipients(campaign, 3)
    assert Recipient.objects.filter(campaign=campaign, wamid__isnull=True).count() == 3


@pytest.mark.parametrize("active", BatchRun.ACTIVE_STATUSES)
def test_a_campaign_has_at_most_one_active_batch_run(campaign: Campaign, active: str) -> None:
    BatchRun.objects.create(campaign=campaign, status=active)
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchRun.objects.create(campaign=campaign, status=BatchRun.Status.QUEUED)


def test_finished_runs_do_not_block_a_new_one(campaign: Campaign) -> None:
    for status in ("stopped", "completed", "failed"):
        BatchRun.objects.create(campaign=campaign, status=status)
    BatchRun.objects.create(campaign=campaign, status=BatchRun.Status.QUEUED)
    assert campaign.batch_runs.count() == 4


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch_size", 0),
        ("batch_size", 51),
        ("delay_seconds", 0),
        ("delay_seconds", 61),
        ("max_retries", 0),
        ("max_retries", 6),
    ],
)
def test_batch_run_configuration_out_of_range_is_refused(
    campaign: Campaign, field: str, value: int
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchRun.objects.create(campaign=campaign, status="completed", **{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch_size", 1),
        ("batch_size", 50),
        ("delay_seconds", 1),
        ("delay_seconds", 60),
        ("max_retries", 1),
        ("max_retries", 5),
    ],
)
def test_batch_run_configuration_at_the_bounds_is_accepted(
    campaign: Campaign, field: str, value: int
) -> None:
    run = BatchRun.objects.create(campaign=campaign, status="completed", **{field: value})
    assert getattr(run, field) == value


def test_the_run_defaults_are_the_original_tools(campaign: Campaign) -> None:
    run = BatchRun.objects.create(campaign=campaign)
    assert (run.batch_size, run.delay_seconds, run.max_retries) == (10, 5, 3)
    assert run.status == BatchRun.Status.QUEUED
