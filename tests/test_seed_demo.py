"""seed_demo: three logins with printed passwords and a demo campaign, once."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import override_settings

from campaigns import stats
from campaigns.demo import DEMO_CAMPAIGN_NAME, DEMO_RECIPIENT_COUNT, demo_recipients
from campaigns.models import Campaign, Recipient
from campaigns.phones import normalise_phone
from campaigns.roles import AUDITORS, OPERATORS

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"User (\w+) \([^)]*\) password: (\S+)", output))


@override_settings(DEBUG=True)
def test_seed_demo_creates_three_staff_logins_with_printed_passwords() -> None:
    passwords = printed_passwords(seed())

    assert set(passwords) == {"admin", "operator", "auditor"}
    assert len(set(passwords.values())) == 3
    for username, password in passwords.items():
        user = User.objects.get(username=username)
        assert user.is_staff
        assert user.check_password(password)
        assert len(password) >= 20
    assert User.objects.get(username="admin").is_superuser
    assert not User.objects.get(username="operator").is_superuser
    assert list(User.objects.get(username="operator").groups.values_list("name", flat=True)) == [
        OPERATORS
    ]
    assert list(User.objects.get(username="auditor").groups.values_list("name", flat=True)) == [
        AUDITORS
    ]


@override_settings(DEBUG=True)
def test_seed_demo_creates_a_campaign_of_valid_indonesian_numbers_with_right_counters() -> None:
    seed()

    campaign = Campaign.objects.get(name=DEMO_CAMPAIGN_NAME)
    assert campaign.template_name == "event_reminder"
    assert campaign.template_language == "id"
    assert [p["name"] for p in campaign.template_parameters] == [
        "participant_name",
        "location",
        "address",
        "date",
        "time",
    ]
    phones = list(campaign.recipients.values_list("phone_number", flat=True))
    assert len(phones) == len(set(phones)) == DEMO_RECIPIENT_COUNT
    assert all(normalise_phone(p, region="ID") == p and p.startswith("+628") for p in phones)
    assert campaign.recipients.exclude(variables={}).exists()
    assert campaign.pending_count == DEMO_RECIPIENT_COUNT
    assert stats.recount(campaign.pk)["pending"] == DEMO_RECIPIENT_COUNT


@override_settings(DEBUG=True)
def test_running_seed_demo_again_adds_nothing_and_keeps_passwords() -> None:
    first = printed_passwords(seed())

    output = seed()

    assert printed_passwords(output) == {}
    assert "password unchanged" in output
    assert Campaign.objects.count() == 1
    assert Recipient.objects.count() == DEMO_RECIPIENT_COUNT
    assert User.objects.count() == 3
    assert User.objects.get(username="operator").check_password(first["operator"])


@override_settings(DEBUG=True)
def test_reset_passwords_sets_and_prints_new_ones() -> None:
    first = printed_passwords(seed())

    second = printed_passwords(seed("--reset-passwords"))

    assert set(second) == {"admin", "operator", "auditor"}
    for username, password in second.items():
        assert password != first[username]
        assert User.objects.get(username=username).check_password(password)
    assert Recipient.objects.count() == DEMO_RECIPIENT_COUNT


@override_settings(DEBUG=False)
def test_seed_demo_refuses_without_debug() -> None:
    with pytest.raises(CommandError, match="DEBUG"):
        seed()

    assert not User.objects.exists()
    assert not Campaign.objects.exists()


@override_settings(DEBUG=False)
def test_seed_demo_runs_without_debug_when_forced() -> None:
    assert set(printed_passwords(seed("--force"))) == {"admin", "operator", "auditor"}


def test_demo_recipients_are_the_same_every_time() -> None:
    assert [r.phone_number for r in demo_recipients(20)] == [
        r.phone_number for r in demo_recipients(20)
    ]
