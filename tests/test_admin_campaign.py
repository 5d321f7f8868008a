"""The campaign admin: list figures, the Overview, the Recipients tabs, the form and deletion."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns import stats
from campaigns.models import AuditLog, BatchRun, BatchRunLog, Campaign, Recipient
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:campaigns_campaign_changelist"


def change_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Undangan Webinar",
        "template_name": "event_reminder",
        "template_language": "id",
        "template_parameters": '[{"name": "participant_name", "value": "Peserta"}]',
    }
    data.update(overrides)
    return data


def figure(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert match, element_id
    return match.group(1)


def mixed_campaign() -> Campaign:
    campaign = make_campaign(name="Seminar Bandung")
    add_recipients(campaign, 7, status="pending")
    add_recipients(campaign, 5, status="sent", start=100)
    add_recipients(campaign, 4, status="delivered", start=200)
    add_recipients(campaign, 3, status="read", start=300)
    add_recipients(campaign, 2, status="failed", start=400)
    add_recipients(campaign, 1, status="in_doubt", start=500)
    return campaign


# --- list -------------------------------------------------------------------------------------


def test_campaign_list_shows_counts_equal_to_a_recount(operator_client: Client) -> None:
    campaign = mixed_campaign()
    counts = stats.recount(campaign.pk)

    page = operator_client.get(reverse(CHANGELIST)).content.decode()

    row = re.search(r"<tr[^>]*>.*?Seminar Bandung.*?</tr>", page, re.S)
    assert row
    cells = re.findall(r'<td class="field-(\w+)[^"]*">(.*?)</td>', row.group(0), re.S)
    shown = dict(cells)
    for status in ("pending", "sent", "delivered", "read", "failed"):
        assert shown[f"{status}_count"] == str(counts[status]), status
    # 15 of 22 processed.
    assert "68.2%" in shown["progress"]


def test_campaign_list_filters_by_status_and_searches_template_names(
    operator_client: Client,
) -> None:
    make_campaign(name="Draft one", template_name="promo_juni")
    make_campaign(name="Sent one", template_name="event_reminder", status="completed")

    by_status = operator_client.get(reverse(CHANGELIST), {"status__exact": "completed"})
    by_template = operator_client.get(reverse(CHANGELIST), {"q": "promo_juni"})

    assert "Sent one" in by_status.content.decode()
    assert "Draft one" not in by_status.content.decode()
    assert "Draft one" in by_template.content.decode()
    assert "Sent one" not in by_template.content.decode()


def test_campaign_list_does_not_query_more_with_more_recipients(
    operator_client: Client, django_assert_max_num_queries
) -> None:
    small = make_campaign(name="small")
    add_recipients(small, 2)
    operator_client.get(reverse(CHANGELIST))  # warm caches (content types, permissions)
    with django_assert_max_num_queries(12) as few:
        operator_client.get(reverse(CHANGELIST))
    add_recipients(make_campaign(name="big"), 1500, start=10_000)
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        operator_client.get(reverse(CHANGELIST))
    assert not any("campaigns_recipient" in query["sql"] for query in many.captured_queries), (
        "the campaign list must read counters, not recipient rows"
    )


# --- the campaign page ------------------------------------------------------------------------


def test_overview_shows_the_counters_progress_and_success_rate(operator_client: Client) -> None:
    campaign = mixed_campaign()
    counts = stats.recount(campaign.pk)
    campaign.refresh_from_db()

    page = operator_client.get(change_url(campaign)).content.decode()

    assert figure(page, "overview-total") == str(sum(counts.values())) == "22"
    assert figure(page, "overview-pending") == str(counts["pending"])
    assert figure(page, "overview-sent") == str(counts["sent"])
    assert figure(page, "overview-delivered") == str(counts["delivered"])
    assert figure(page, "overview-read") == str(counts["read"])
    assert figure(page, "overview-failed") == str(counts["failed"])
    assert figure(page, "overview-in-doubt") == str(counts["in_doubt"])
    assert figure(page, "overview-progress") == "68.2%"
    # 12 accepted of 14 finished.
    assert figure(page, "overview-success-rate") == "85.7%"


def test_overview_offers_import_and_export_to_operators(operator_client: Client) -> None:
    campaign = make_campaign()

    page = operator_client.get(change_url(campaign)).content.decode()

    assert reverse("admin:campaigns_campaign_import", args=[campaign.pk]) in page
    assert reverse("admin:campaigns_campaign_export", args=[campaign.pk]) in page


def test_success_rate_is_a_dash_before_anything_finished(operator_client: Client) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 3)

    page = operator_client.get(change_url(campaign)).content.decode()

    assert figure(page, "overview-success-rate") == "—"


def test_recipient_tabs_show_their_counts_and_only_their_rows(operator_client: Client) -> None:
    campaign = mixed_campaign()

    page = operator_client.get(change_url(campaign), {"tab": "failed"}).content.decode()

    tabs = dict(re.findall(r'data-status="(\w+)">[^<]*<span class="tab-count">\((\d+)\)', page))
    assert tabs == {
        "all": "22",
        "pending": "7",
        "sent": "5",
        "delivered": "4",
        "read": "3",
        "failed": "2",
        "in_doubt": "1",
    }
    table = page[page.index('id="recipient-rows"') :]
    failed_phones = set(
        Recipient.objects.filter(campaign=campaign, status="failed").values_list(
            "phone_number", flat=True
        )
    )
    shown = set(re.findall(r">(\+62\d+)</a>", table))
    assert shown == failed_phones


def test_recipient_tab_pages_through_fifty_rows_at_a_time(operator_client: Client) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 120)

    first = operator_client.get(change_url(campaign)).content.decode()
    last = operator_client.get(change_url(campaign), {"page": "3"}).content.decode()
    beyond = operator_client.get(change_url(campaign), {"page": "999"}).content.decode()
    junk = operator_client.get(change_url(campaign), {"page": "abc", "tab": "nope"})

    table = first[first.index('id="recipient-rows"') :]
    assert len(re.findall(r">\+62\d+</a>", table)) == 50
    assert "Page 1 of 3 (120 recipients)" in first
    last_table = last[last.index('id="recipient-rows"') :]
    assert len(re.findall(r">\+62\d+</a>", last_table)) == 20
    assert "Page 3 of 3" in beyond
    assert junk.status_code == 200
    assert "Page 1 of 3" in junk.content.decode()


def test_recipients_section_links_to_the_filtered_recipient_list(operator_client: Client) -> None:
    campaign = make_campaign()

    page = operator_client.get(change_url(campaign), {"tab": "sent"}).content.decode()

    changelist = reverse("admin:campaigns_recipient_changelist")
    assert f"{changelist}?campaign__id__exact={campaign.pk}&amp;status__exact=sent" in page


def test_campaign_page_does_not_query_more_with_more_recipients(
    operator_client: Client, django_assert_max_num_queries
) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 3)
    operator_client.get(change_url(campaign))
    with django_assert_max_num_queries(15) as few:
        assert operator_client.get(change_url(campaign)).status_code == 200
    add_recipients(campaign, 1500, start=1000)
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        assert operator_client.get(change_url(campaign), {"page": "20"}).status_code == 200
    recipient_queries = [
        q["sql"] for q in many.captured_queries if "campaigns_recipient" in q["sql"]
    ]
    assert len(recipient_queries) == 1
    assert "COUNT(" not in recipient_queries[0].upper()


# --- the form ---------------------------------------------------------------------------------


def test_adding_a_campaign_records_its_creator_and_audits_it(
    operator_client: Client, operator: User
) -> None:
    response = operator_client.post(reverse("admin:campaigns_campaign_add"), form_data())

    assert response.status_code == 302
    campaign = Campaign.objects.get(name="Undangan Webinar")
    assert campaign.created_by == operator
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.template_parameters == [{"name": "participant_name", "value": "Peserta"}]
    entry = AuditLog.objects.get(action="campaign.create")
    assert (entry.actor_username, entry.object_id) == ("op", str(campaign.pk))
    assert entry.ip_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ('{"name": "x"}', "Enter a JSON list of parameters"),
        ('["Peserta"]', 'exactly the keys "name" and "value"'),
        ('[{"name": "participant_name"}]', 'exactly the keys "name" and "value"'),
        ('[{"name": "Participant Name", "value": "x"}]', "lowercase letters, digits"),
        ('[{"name": "a", "value": "x"}, {"name": "a", "value": "y"}]', "used twice"),
        ('[{"name": "a", "value": {"nested": 1}}]', "text or a number"),
        ("[{'name': 'a'}", "Enter a valid JSON"),
    ],
)
def test_badly_shaped_template_parameters_get_a_form_error(
    operator_client: Client, parameters: str, message: str
) -> None:
    response = operator_client.post(
        reverse("admin:campaigns_campaign_add"), form_data(template_parameters=parameters)
    )

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert not Campaign.objects.exists()


def test_numbers_in_template_parameters_are_stored_as_text(operator_client: Client) -> None:
    operator_client.post(
        reverse("admin:campaigns_campaign_add"),
        form_data(template_parameters='[{"name": "seats", "value": 40}]'),
    )

    assert Campaign.objects.get().template_parameters == [{"name": "seats", "value": "40"}]


def test_changing_a_campaign_keeps_its_status_and_audits_the_change(
    operator_client: Client,
) -> None:
    campaign = make_campaign(status=Campaign.Status.SENDING)

    response = operator_client.post(
        change_url(campaign), {**form_data(name="Renamed"), "status": "completed"}
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"
    assert campaign.status == Campaign.Status.SENDING
    entry = AuditLog.objects.get(action="campaign.change")
    assert entry.details["changes"]["name"] == {"from": "Undangan Seminar", "to": "Renamed"}


# --- deletion ---------------------------------------------------------------------------------


def test_deleting_a_campaign_removes_recipients_and_runs_but_keeps_its_audit_rows(
    operator_client: Client,
) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 30)
    run = BatchRun.objects.create(campaign=campaign, status=BatchRun.Status.COMPLETED)
    BatchRunLog.objects.create(run=run, message="done")
    operator_client.post(change_url(campaign), form_data(name="Before delete"))
    url = reverse("admin:campaigns_campaign_delete", args=[campaign.pk])

    confirmation = operator_client.get(url).content.decode()
    response = operator_client.post(url, {"post": "yes"})

    assert "30" in confirmation  # recipients summarised, not listed one by one
    assert not re.search(r"/recipient/\d+/change/", confirmation)
    assert response.status_code == 302
    assert not Campaign.objects.exists()
    assert not Recipient.objects.exists()
    assert not BatchRun.objects.exists()
    assert not BatchRunLog.objects.exists()
    actions = list(
        AuditLog.objects.filter(object_id=str(campaign.pk)).values_list("action", flat=True)
    )
    assert sorted(actions) == ["campaign.change", "campaign.delete"]
    deleted = AuditLog.objects.get(action="campaign.delete")
    assert deleted.details["recipients"] == 30
    assert deleted.object_repr == "Before delete"


def test_a_campaign_with_an_active_run_cannot_be_deleted(operator_client: Client) -> None:
    campaign = make_campaign()
    BatchRun.objects.create(campaign=campaign, status=BatchRun.Status.RUNNING)
    url = reverse("admin:campaigns_campaign_delete", args=[campaign.pk])

    page = operator_client.get(url).content.decode()
    operator_client.post(url, {"post": "yes"})

    assert "still active" in page
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert not AuditLog.objects.filter(action="campaign.delete").exists()
