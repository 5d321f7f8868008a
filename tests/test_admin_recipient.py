"""The recipient admin: normalised numbers, counters kept in step, no COUNT(*) per page view."""

from __future__ import annotations

import html

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import stats
from campaigns.models import AuditLog, Campaign, Recipient
from campaigns.paginators import recipient_changelist_count
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:campaigns_recipient_changelist"


def counters(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {status: getattr(campaign, field) for status, field in stats.COUNTER_FIELDS.items()}


def add_form(campaign: Campaign, phone: str, **extra: str) -> dict[str, str]:
    return {
        "campaign": str(campaign.pk),
        "phone_number": phone,
        "name": "Budi Santoso",
        "variables": "{}",
        **extra,
    }


def recipient_queries(client: Client, url: str, params: dict[str, str] | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries if "campaigns_recipient" in q["sql"]]


# --- adding -----------------------------------------------------------------------------------


def test_adding_a_recipient_normalises_the_number_and_counts_it(
    operator_client: Client, campaign: Campaign
) -> None:
    response = operator_client.post(
        reverse("admin:campaigns_recipient_add"), add_form(campaign, "0812-3456-7890")
    )

    assert response.status_code == 302
    recipient = Recipient.objects.get()
    assert recipient.phone_number == "+6281234567890"
    assert recipient.status == Recipient.Status.PENDING
    assert counters(campaign) == stats.recount(campaign.pk)
    assert counters(campaign)["pending"] == 1
    entry = AuditLog.objects.get(action="recipient.create")
    assert entry.details["phone_number"] == "+6281234567890"
    assert entry.actor_username == "op"


def test_an_invalid_number_is_a_form_error_and_adds_nothing(
    operator_client: Client, campaign: Campaign
) -> None:
    response = operator_client.post(
        reverse("admin:campaigns_recipient_add"), add_form(campaign, "12345")
    )

    assert response.status_code == 200
    assert "not a valid phone number" in response.content.decode()
    assert not Recipient.objects.exists()
    assert counters(campaign)["pending"] == 0


def test_a_number_already_in_the_campaign_is_a_form_error(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 1)  # +6281200000000

    response = operator_client.post(
        reverse("admin:campaigns_recipient_add"), add_form(campaign, "081200000000")
    )

    assert response.status_code == 200
    assert "already a recipient of this campaign" in response.content.decode()
    assert Recipient.objects.count() == 1
    assert counters(campaign)["pending"] == 1


def test_variables_must_be_an_object_of_values(operator_client: Client, campaign: Campaign) -> None:
    response = operator_client.post(
        reverse("admin:campaigns_recipient_add"),
        add_form(campaign, "081234567890", variables='["Budi"]'),
    )

    assert response.status_code == 200
    assert "Enter a JSON object of values by name" in html.unescape(response.content.decode())
    assert not Recipient.objects.exists()


# --- changing ---------------------------------------------------------------------------------


def test_changing_a_pending_recipient_renormalises_and_rejects_duplicates(
    operator_client: Client, campaign: Campaign
) -> None:
    second = add_recipients(campaign, 2)[1]
    url = reverse("admin:campaigns_recipient_change", args=[second.pk])
    data = {"phone_number": "+62 812 0000 0000", "name": "Siti", "variables": "{}"}

    duplicate = operator_client.post(url, data)
    renamed = operator_client.post(url, {**data, "phone_number": "0813 1111 2222"})

    assert "already a recipient of this campaign" in duplicate.content.decode()
    assert renamed.status_code == 302
    second.refresh_from_db()
    assert second.phone_number == "+6281311112222"
    assert (
        AuditLog.objects.get(action="recipient.change").details["changes"]["phone_number"]["to"]
        == "+6281311112222"
    )


def test_engine_fields_and_the_campaign_are_read_only_on_the_change_form(
    operator_client: Client, campaign: Campaign
) -> None:
    other = make_campaign(name="Other")
    recipient = add_recipients(campaign, 1, status=Recipient.Status.SENT)[0]
    url = reverse("admin:campaigns_recipient_change", args=[recipient.pk])

    response = operator_client.post(
        url,
        {
            "campaign": str(other.pk),
            "phone_number": "+6281399998888",
            "name": "Changed",
            "variables": "{}",
            "status": "pending",
            "attempts": "0",
            "wamid": "wamid.forged",
            "error_code": "1",
        },
    )

    assert response.status_code == 302
    recipient.refresh_from_db()
    assert recipient.name == "Changed"
    assert recipient.campaign_id == campaign.pk
    # Sent already: the number is history now.
    assert recipient.phone_number == "+6281200000000"
    assert (recipient.status, recipient.attempts, recipient.wamid) == ("sent", 0, None)
    assert counters(campaign) == stats.recount(campaign.pk)


# --- deleting ---------------------------------------------------------------------------------


def test_deleting_one_recipient_takes_it_off_the_counters(
    operator_client: Client, campaign: Campaign
) -> None:
    recipient = add_recipients(campaign, 3, status=Recipient.Status.FAILED)[0]

    response = operator_client.post(
        reverse("admin:campaigns_recipient_delete", args=[recipient.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert counters(campaign)["failed"] == 2
    assert counters(campaign) == stats.recount(campaign.pk)
    entry = AuditLog.objects.get(action="recipient.delete")
    assert (entry.object_id, entry.details["status"]) == (str(recipient.pk), "failed")


def test_bulk_delete_takes_each_status_off_each_campaign(
    operator_client: Client, campaign: Campaign
) -> None:
    other = make_campaign(name="Other")
    pending = add_recipients(campaign, 3)
    sent = add_recipients(campaign, 2, status=Recipient.Status.SENT, start=100)
    elsewhere = add_recipients(other, 2, status=Recipient.Status.READ)
    selected = [r.pk for r in [*pending[:2], sent[0], elsewhere[0]]]

    response = operator_client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", "_selected_action": selected, "post": "yes", "index": 0},
    )

    assert response.status_code == 302
    assert counters(campaign) == stats.recount(campaign.pk)
    assert counters(other) == stats.recount(other.pk)
    assert (counters(campaign)["pending"], counters(campaign)["sent"]) == (1, 1)
    assert counters(other)["read"] == 1
    entries = {e.object_id: e for e in AuditLog.objects.filter(action="recipient.bulk_delete")}
    assert set(entries) == {str(campaign.pk), str(other.pk)}
    assert entries[str(campaign.pk)].details["count"] == 3
    assert entries[str(campaign.pk)].details["by_status"] == {"pending": 2, "sent": 1}


def test_bulk_delete_of_too_many_recipients_is_refused(
    operator_client: Client, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("campaigns.admin.recipient.MAX_BULK_DELETE", 5)
    add_recipients(campaign, 6)

    response = operator_client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", "select_across": "1", "_selected_action": ["1"], "index": 0},
        follow=True,
    )

    assert "Select at most 5 recipients" in response.content.decode()
    assert Recipient.objects.count() == 6


# --- the list at scale ------------------------------------------------------------------------


def test_recipient_list_takes_its_totals_from_the_counters(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 120)
    add_recipients(campaign, 30, status=Recipient.Status.SENT, start=1000)
    url = reverse(CHANGELIST)

    for params, total in (
        ({}, 150),
        ({"campaign__id__exact": str(campaign.pk)}, 150),
        ({"status__exact": "sent"}, 30),
        ({"campaign__id__exact": str(campaign.pk), "status__exact": "pending", "p": "2"}, 120),
    ):
        queries = recipient_queries(operator_client, url, params)
        assert not any("COUNT(" in sql.upper() for sql in queries), params
        page = operator_client.get(url, params).content.decode()
        assert f"{total} recipients" in page, params


def test_searching_counts_the_matches_and_understands_local_numbers(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 5)

    page = operator_client.get(reverse(CHANGELIST), {"q": "0812 0000 0003"}).content.decode()

    assert "+6281200000003" in page
    assert "+6281200000004" not in page
    assert "1 recipient" in page


def test_recipient_list_offers_no_facet_counts(operator_client: Client, campaign: Campaign) -> None:
    add_recipients(campaign, 3)

    queries = recipient_queries(operator_client, reverse(CHANGELIST), {"_facets": "1"})

    assert not any("COUNT(" in sql.upper() for sql in queries)


@pytest.mark.parametrize(
    "query",
    [
        "q=Budi",
        "campaign__id__exact=1&campaign__id__exact=2",
        "status__exact=nonsense",
        "campaign__id__exact=abc",
        "name__startswith=B",
    ],
)
def test_counters_are_not_used_when_they_cannot_know_the_answer(query: str) -> None:
    assert recipient_changelist_count(QueryDict(query)) is None


def test_operator_finds_campaigns_by_name_in_the_recipient_form(
    operator_client: Client, campaign: Campaign
) -> None:
    response = operator_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "campaigns",
            "model_name": "recipient",
            "field_name": "campaign",
            "term": "Seminar",
        },
    )

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(campaign.pk)]
