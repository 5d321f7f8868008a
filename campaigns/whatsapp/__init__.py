"""WhatsApp Cloud API: the client, the one classification of its errors, and a local sandbox.

This package knows HTTP and Meta's API, not blastadmin's models.
"""

from campaigns.whatsapp.client import (
    SendResult,
    WhatsAppClient,
    WhatsAppConfigurationError,
    merge_parameters,
)
from campaigns.whatsapp.errors import Classification, Outcome, classify

__all__ = [
    "Classification",
    "Outcome",
    "SendResult",
    "WhatsAppClient",
    "WhatsAppConfigurationError",
    "classify",
    "merge_parameters",
]
