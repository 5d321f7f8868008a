"""``{{ campaign|delivery_funnel }}`` and the funnel's polling pace, for the funnel include."""

from __future__ import annotations

from django import template

from campaigns.funnel import Funnel, delivery_funnel
from campaigns.models import Campaign

register = template.Library()

# Statuses keep arriving for days after a run, just less often once it is over.
POLL_SECONDS_WHILE_SENDING = 3
POLL_SECONDS_OTHERWISE = 15


@register.filter(name="delivery_funnel")
def delivery_funnel_filter(campaign: Campaign) -> Funnel:
    return delivery_funnel(campaign)


@register.simple_tag
def funnel_poll_seconds(campaign: Campaign) -> int:
    if campaign.status == Campaign.Status.SENDING:
        return POLL_SECONDS_WHILE_SENDING
    return POLL_SECONDS_OTHERWISE
