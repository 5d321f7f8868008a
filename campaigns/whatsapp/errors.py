"""The one place that decides what a Cloud API outcome means for a blast.

:func:`classify` follows the table in ``shared/reference/whatsapp-cloud-api.md``. It decides on
Meta's error ``code`` and, when there is no code, on the HTTP status; never on message text.

Decisions where the table is silent (documented here because the engine relies on them):

* An unknown code with an HTTP 5xx status is *retry later* (the server had trouble).
* Any other unknown code is *permanent for this recipient*: retrying blindly could repeat a
  bad request forever, and stopping the run on a code we do not know could halt a campaign for
  one odd number. If an unknown code hits every message, the engine's failure-rate guard stops
  the run.
* No code at all (HTML, empty or non-JSON body): HTTP 5xx, 408 and 429 are *retry later*
  (429 also slows the sender down); any other status — 3xx, 400, 401, 403, 404 … — is *fatal*,
  because Meta always answers its 4xx with an error envelope, so a bare 4xx means we are not
  talking to the Cloud API as configured (wrong base URL or version, a proxy, a captive
  portal) and every further message would fail the same way.
* No HTTP status and no code (timeout, refused or reset connection) is *retry later*.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Retries of one recipient after 131056 wait 4^n seconds: 1, 4, 16, 64 … (Meta's suggestion).
PAIR_RATE_BACKOFF_BASE = 4
# Ceiling for any suggested backoff, so a recipient is never parked for absurdly long.
MAX_BACKOFF_SECONDS = 15 * 60
# Base of the exponential backoff for ordinary retry-later outcomes (doubles per attempt).
RETRY_BACKOFF_BASE_SECONDS = 2.0
# Throttling codes start higher: the whole sender is over its limit.
SLOW_DOWN_BACKOFF_BASE_SECONDS = 5.0
# 131049: Meta's per-user marketing limit; retrying inside a day is pointless.
MARKETING_LIMIT_DEFER_HOURS = 24


class Outcome(enum.StrEnum):
    """What the sender should do with the recipient after one attempt."""

    SENT = "sent"
    RETRY_LATER = "retry_later"
    RETRY_RECIPIENT_LATER = "retry_recipient_later"
    PERMANENT = "permanent"
    FATAL = "fatal"
    # HTTP 2xx without a message id: the API may or may not have accepted the message, so it
    # must be neither retried automatically nor counted as sent (the engine marks it in doubt).
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Classification:
    outcome: Outcome
    slow_down: bool = False
    opt_out: bool = False
    defer_hours: int | None = None
    hint: str = ""


@dataclass(frozen=True, slots=True)
class _Rule:
    outcome: Outcome
    hint: str | Promise = ""
    slow_down: bool = False
    opt_out: bool = False
    defer_hours: int | None = None


_RETRY = Outcome.RETRY_LATER
_PERMANENT = Outcome.PERMANENT
_FATAL = Outcome.FATAL

_SLOW_DOWN_HINT = gettext_lazy(
    "Rate limit exceeded — increase the delay between batches (%(code)s)"
)
_TEMPLATE_PARAMS_HINT = gettext_lazy(
    "the template parameters do not match the template (%(code)s) — check the campaign's "
    "template parameters"
)

_RULES: dict[int, _Rule] = {
    # --- retry later, with backoff ------------------------------------------------------------
    1: _Rule(_RETRY, gettext_lazy("unknown API error (%(code)s) — will retry")),
    2: _Rule(_RETRY, gettext_lazy("API service temporarily unavailable (%(code)s) — will retry")),
    4: _Rule(_RETRY, _SLOW_DOWN_HINT, slow_down=True),
    80007: _Rule(_RETRY, _SLOW_DOWN_HINT, slow_down=True),
    130429: _Rule(_RETRY, _SLOW_DOWN_HINT, slow_down=True),
    131000: _Rule(_RETRY, gettext_lazy("something went wrong at WhatsApp (%(code)s) — will retry")),
    131016: _Rule(_RETRY, gettext_lazy("WhatsApp service overloaded (%(code)s) — will retry")),
    131057: _Rule(
        _RETRY, gettext_lazy("the business account is in maintenance mode (%(code)s) — will retry")
    ),
    133004: _Rule(_RETRY, gettext_lazy("WhatsApp server temporarily unavailable (%(code)s)")),
    2494100: _Rule(_RETRY, gettext_lazy("WhatsApp could not process the message (%(code)s)")),
    # --- retry this recipient later only ------------------------------------------------------
    131056: _Rule(
        Outcome.RETRY_RECIPIENT_LATER,
        gettext_lazy("too many messages to this number in a short time (%(code)s)"),
    ),
    # --- permanent for this recipient ---------------------------------------------------------
    131026: _Rule(
        _PERMANENT,
        gettext_lazy("the number is not on WhatsApp or cannot receive this message (%(code)s)"),
    ),
    131050: _Rule(
        _PERMANENT,
        gettext_lazy("the recipient stopped marketing messages from this business (%(code)s)"),
        opt_out=True,
    ),
    130403: _Rule(_PERMANENT, gettext_lazy("the business blocked this user (%(code)s)")),
    131047: _Rule(
        _PERMANENT,
        gettext_lazy(
            "more than 24 hours since the user last replied (%(code)s) — use a template message"
        ),
    ),
    131021: _Rule(_PERMANENT, gettext_lazy("the recipient is the sender's own number (%(code)s)")),
    131051: _Rule(_PERMANENT, gettext_lazy("unsupported message type (%(code)s)")),
    131053: _Rule(_PERMANENT, gettext_lazy("the media could not be uploaded (%(code)s)")),
    132005: _Rule(_PERMANENT, gettext_lazy("the filled-in template text is too long (%(code)s)")),
    135000: _Rule(_PERMANENT, gettext_lazy("generic user error (%(code)s)")),
    131030: _Rule(
        _PERMANENT,
        gettext_lazy(
            "the recipient is not in the allowed list (%(code)s) — the sender is a test number; "
            "add the recipient in WhatsApp Manager or use a production number"
        ),
    ),
    # --- defer ≥ 24 h ------------------------------------------------------------------------
    131049: _Rule(
        _PERMANENT,
        gettext_lazy(
            "WhatsApp's per-user marketing limit was reached (%(code)s) — try this recipient "
            "again in a day"
        ),
        defer_hours=MARKETING_LIMIT_DEFER_HOURS,
    ),
    # --- stop the run: configuration or account ------------------------------------------------
    0: _Rule(
        _FATAL,
        gettext_lazy("authentication failed (%(code)s) — check the WhatsApp API configuration"),
    ),
    190: _Rule(
        _FATAL,
        gettext_lazy("access token expired (%(code)s) — check the WhatsApp API configuration"),
    ),
    3: _Rule(
        _FATAL,
        gettext_lazy(
            "the app is not allowed to send messages (%(code)s) — check the app's WhatsApp "
            "permissions"
        ),
    ),
    10: _Rule(
        _FATAL,
        gettext_lazy(
            "permission denied (%(code)s) — check that the access token has the "
            "whatsapp_business_messaging permission"
        ),
    ),
    131005: _Rule(
        _FATAL,
        gettext_lazy(
            "access denied (%(code)s) — check the access token's permissions for this number"
        ),
    ),
    33: _Rule(
        _FATAL,
        gettext_lazy(
            "the phone-number ID does not exist or is not accessible (%(code)s) — check "
            "WHATSAPP_PHONE_NUMBER_ID"
        ),
    ),
    133010: _Rule(
        _FATAL,
        gettext_lazy(
            "the sender phone number is not registered (%(code)s) — register it in WhatsApp Manager"
        ),
    ),
    131031: _Rule(
        _FATAL,
        gettext_lazy("the WhatsApp Business account is locked (%(code)s) — see WhatsApp Manager"),
    ),
    368: _Rule(
        _FATAL,
        gettext_lazy(
            "the account is temporarily blocked for policy violations (%(code)s) — see "
            "WhatsApp Manager"
        ),
    ),
    131042: _Rule(
        _FATAL,
        gettext_lazy(
            "a payment problem on the business account (%(code)s) — check the payment method "
            "in WhatsApp Manager"
        ),
    ),
    131037: _Rule(
        _FATAL,
        gettext_lazy(
            "the sender number needs an approved display name (%(code)s) — see WhatsApp Manager"
        ),
    ),
    131045: _Rule(
        _FATAL,
        gettext_lazy(
            "the sender number's registration is incomplete (%(code)s) — re-register the number"
        ),
    ),
    131063: _Rule(
        _FATAL,
        gettext_lazy(
            "the business account may not send these messages (%(code)s) — see WhatsApp Manager"
        ),
    ),
    100: _Rule(
        _FATAL,
        gettext_lazy(
            "invalid request parameter (%(code)s) — check the WhatsApp API configuration and the "
            "campaign's template"
        ),
    ),
    131008: _Rule(
        _FATAL,
        gettext_lazy(
            "a required parameter is missing (%(code)s) — check the campaign's template parameters"
        ),
    ),
    131009: _Rule(
        _FATAL,
        gettext_lazy(
            "a parameter value is not valid (%(code)s) — check the campaign's template parameters"
        ),
    ),
    132000: _Rule(_FATAL, _TEMPLATE_PARAMS_HINT),
    132001: _Rule(
        _FATAL,
        gettext_lazy(
            "the template does not exist in this language or is not approved (%(code)s) — check "
            "the template name and language"
        ),
    ),
    132007: _Rule(
        _FATAL,
        gettext_lazy("the template content violates a WhatsApp policy (%(code)s)"),
    ),
    132012: _Rule(_FATAL, _TEMPLATE_PARAMS_HINT),
    132015: _Rule(
        _FATAL,
        gettext_lazy(
            "the template is paused because of low quality (%(code)s) — fix it in WhatsApp Manager"
        ),
    ),
    132016: _Rule(
        _FATAL,
        gettext_lazy("the template is disabled (%(code)s) — fix it in WhatsApp Manager"),
    ),
    131048: _Rule(
        _FATAL,
        gettext_lazy(
            "spam rate limit hit: too many messages were blocked or reported (%(code)s) — pause "
            "the campaign and check the account's quality rating"
        ),
    ),
}

# 200–299: one permission code per Graph API permission.
_PERMISSION_CODES = range(200, 300)
_PERMISSION_RULE = _Rule(
    _FATAL,
    gettext_lazy(
        "a permission is missing or was removed (%(code)s) — check the access token's permissions"
    ),
)

KNOWN_CODES: frozenset[int] = frozenset(_RULES) | frozenset(_PERMISSION_CODES)
SLOW_DOWN_CODES: frozenset[int] = frozenset(code for code, rule in _RULES.items() if rule.slow_down)


def classify(*, code: int | None, http_status: int | None, details: str = "") -> Classification:
    """Classify one failed attempt by Meta's error code, else by HTTP status.

    ``details`` (Meta's ``error_data.details``) never changes the class; it only makes the
    hint of an unrecognised error more useful.
    """
    if code is not None:
        rule = _RULES.get(code) or (_PERMISSION_RULE if code in _PERMISSION_CODES else None)
        if rule is not None:
            return Classification(
                outcome=rule.outcome,
                slow_down=rule.slow_down,
                opt_out=rule.opt_out,
                defer_hours=rule.defer_hours,
                hint=str(rule.hint) % {"code": code},
            )
        return _classify_unknown_code(code=code, http_status=http_status, details=details)
    return _classify_without_code(http_status=http_status)


def _classify_unknown_code(*, code: int, http_status: int | None, details: str) -> Classification:
    suffix = f": {details}" if details else ""
    if http_status is not None and http_status >= 500:
        return Classification(
            outcome=Outcome.RETRY_LATER,
            hint=_("unrecognised WhatsApp error %(code)s on a server error — will retry")
            % {"code": code}
            + suffix,
        )
    return Classification(
        outcome=Outcome.PERMANENT,
        hint=_("unrecognised WhatsApp error %(code)s") % {"code": code} + suffix,
    )


def _classify_without_code(*, http_status: int | None) -> Classification:
    if http_status is None:
        return Classification(
            outcome=Outcome.RETRY_LATER,
            hint=_("no answer from the WhatsApp API (timeout or connection error) — will retry"),
        )
    if http_status >= 500 or http_status == 408:
        return Classification(
            outcome=Outcome.RETRY_LATER,
            hint=_("the WhatsApp API answered HTTP %(status)s — will retry")
            % {"status": http_status},
        )
    if http_status == 429:
        return Classification(
            outcome=Outcome.RETRY_LATER,
            slow_down=True,
            hint=_("Rate limit exceeded — increase the delay between batches (HTTP 429)"),
        )
    return Classification(
        outcome=Outcome.FATAL,
        hint=_(
            "unexpected HTTP %(status)s without a WhatsApp error code — check the WhatsApp API "
            "configuration (WHATSAPP_API_BASE_URL, WHATSAPP_API_VERSION)"
        )
        % {"status": http_status},
    )


def pair_rate_backoff_seconds(*, failures: int) -> float:
    """Wait before retrying one recipient after its ``failures``-th 131056: 1, 4, 16, 64 … s."""
    exponent = max(failures, 1) - 1
    return float(min(PAIR_RATE_BACKOFF_BASE**exponent, MAX_BACKOFF_SECONDS))


def retry_backoff_seconds(*, failures: int, slow_down: bool = False) -> float:
    """Deterministic exponential backoff after the ``failures``-th retryable failure.

    2, 4, 8 … s (5, 10, 20 … s when the sender must slow down), capped at
    :data:`MAX_BACKOFF_SECONDS`. Callers add their own jitter.
    """
    base = SLOW_DOWN_BACKOFF_BASE_SECONDS if slow_down else RETRY_BACKOFF_BASE_SECONDS
    exponent = min(max(failures, 1) - 1, 30)
    return float(min(base * 2**exponent, MAX_BACKOFF_SECONDS))
