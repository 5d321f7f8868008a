"""A small client for the WhatsApp Cloud API ``/messages`` endpoint.

Every call returns one frozen :class:`SendResult`; nothing raises for an API, HTTP or network
failure. Which outcome a failure gets is decided in :mod:`campaigns.whatsapp.errors`.

Thread safety: one client (one ``requests.Session``) may be shared by many threads sending at
once. The session's state is fixed after construction (headers set once, cookies refused), and
its connection pool hands each concurrent request its own keep-alive connection; size the pool
(``pool_size``) at least as large as the number of threads sending through it.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3.exceptions
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter

from campaigns.whatsapp.errors import (
    Outcome,
    classify,
    pair_rate_backoff_seconds,
    retry_backoff_seconds,
)

# E.164: a +, a country code that does not start with 0, at most 15 digits in all.
E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
TEXT_BODY_MAX_CHARS = 4096
DEFAULT_POOL_SIZE = 64
# Enough of a non-JSON error body (an HTML gateway page, say) to recognise it in the log.
_BODY_SNIPPET_CHARS = 200
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_REDACTED = "[redacted]"
# Failures after the request may have been written: the API may have accepted the message.
_CONNECTION_LOST = (
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one attempt to send one message."""

    outcome: Outcome
    http_status: int | None = None
    wamid: str | None = None
    wa_id: str | None = None
    message_status: str | None = None
    error_code: int | None = None
    error_message: str = ""
    error_details: str = ""
    error_type: str = ""
    fbtrace_id: str = ""
    slow_down: bool = False
    opt_out: bool = False
    defer_hours: int | None = None
    # Seconds from a Retry-After header, when the response carried one.
    retry_after_seconds: float | None = None
    # True when the request may have reached the API although no answer came back (read
    # timeout, connection dropped after sending, 2xx without an id): a resend may duplicate.
    possibly_accepted: bool = False
    hint: str = ""
    elapsed_seconds: float = 0.0

    @property
    def is_sent(self) -> bool:
        return self.outcome is Outcome.SENT

    def backoff_seconds(self, *, failures: int) -> float | None:
        """Suggested wait before the next attempt, ``None`` when there should be none.

        ``failures`` counts this recipient's retryable failures so far, this one included.
        A Retry-After header is honoured when it asks for longer.
        """
        if self.outcome is Outcome.RETRY_LATER:
            suggested = retry_backoff_seconds(failures=failures, slow_down=self.slow_down)
        elif self.outcome is Outcome.RETRY_RECIPIENT_LATER:
            suggested = pair_rate_backoff_seconds(failures=failures)
        else:
            return None
        return max(suggested, self.retry_after_seconds or 0.0)

    def describe(self) -> str:
        """One line for a log: code, Meta's message and details, or the local reason."""
        if self.is_sent:
            return _("sent (%(wamid)s)") % {"wamid": self.wamid}
        parts = [str(self.error_code) if self.error_code is not None else ""]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        head = " ".join(part for part in parts if part)
        text = self.error_message or self.hint
        if self.error_details and self.error_details != text:
            text = f"{text}: {self.error_details}" if text else self.error_details
        return f"{head} {text}".strip()


class WhatsAppConfigurationError(ValueError):
    """The client cannot be built: a setting it needs is empty or invalid."""


def merge_parameters(
    defaults: Sequence[object], overrides: Mapping[str, Any] | None
) -> list[tuple[str, str]]:
    """Campaign default parameters, in their order, with a recipient's values by name on top.

    Only names the campaign defines are sent: extra recipient variables (other spreadsheet
    columns) are ignored so they never change the number of template parameters. A recipient
    value that is ``None`` or blank does not override: one empty cell must not empty a
    parameter the campaign fills in.
    """
    overrides = overrides or {}
    merged: list[tuple[str, str]] = []
    for index, item in enumerate(defaults):
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(item, Mapping) or not isinstance(name, str) or not name:
            raise ValueError(_("Template parameter %(index)s has no name.") % {"index": index + 1})
        value = _as_text(item.get("value"))
        override = _as_text(overrides.get(name))
        merged.append((name, override if override.strip() else value))
    return merged


def build_template_payload(
    *,
    to: str,
    template_name: str,
    language: str,
    parameters: Sequence[tuple[str, str]],
    named: bool,
) -> dict[str, Any]:
    """The JSON body Meta expects for a template message with body parameters."""
    template: dict[str, Any] = {"name": template_name, "language": {"code": language}}
    if parameters:
        template["components"] = [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "parameter_name": name, "text": value}
                    if named
                    else {"type": "text", "text": value}
                    for name, value in parameters
                ],
            }
        ]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
    }


def build_text_payload(*, to: str, body: str, preview_url: bool = False) -> dict[str, Any]:
    """The JSON body Meta expects for a free-form text message."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": preview_url, "body": body},
    }


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(tz=UTC))).total_seconds(), 0.0)


def parse_response(
    *,
    http_status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    elapsed_seconds: float = 0.0,
) -> SendResult:
    """Turn one HTTP answer of ``/messages`` into a :class:`SendResult`."""
    retry_after = parse_retry_after((headers or {}).get("Retry-After"))
    data = _json_object(body)
    error = data.get("error") if data is not None else None
    if isinstance(error, Mapping) and _as_int(error.get("code")) is not None:
        return _error_result(
            error=error,
            http_status=http_status,
            retry_after=retry_after,
            elapsed_seconds=elapsed_seconds,
        )
    if 200 <= http_status < 300:
        return _success_result(data=data, http_status=http_status, elapsed_seconds=elapsed_seconds)
    classification = classify(code=None, http_status=http_status)
    return SendResult(
        outcome=classification.outcome,
        http_status=http_status,
        error_message=_("HTTP %(status)s without a WhatsApp error envelope")
        % {"status": http_status},
        error_details=_body_snippet(body),
        slow_down=classification.slow_down,
        retry_after_seconds=retry_after,
        hint=classification.hint,
        elapsed_seconds=elapsed_seconds,
    )


class WhatsAppClient:
    """Sends messages for one phone-number ID through one pooled HTTP session."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_version: str | None = None,
        phone_number_id: str | None = None,
        access_token: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        pool_size: int | None = None,
    ) -> None:
        from django.conf import settings

        base_url = base_url if base_url is not None else settings.WHATSAPP_API_BASE_URL
        api_version = api_version if api_version is not None else settings.WHATSAPP_API_VERSION
        self.phone_number_id = (
            phone_number_id if phone_number_id is not None else settings.WHATSAPP_PHONE_NUMBER_ID
        )
        token = access_token if access_token is not None else settings.WHATSAPP_ACCESS_TOKEN
        if not token:
            raise WhatsAppConfigurationError(
                _("WHATSAPP_ACCESS_TOKEN is not set — check the WhatsApp API configuration.")
            )
        if not token.isprintable() or any(char.isspace() for char in token):
            # Said without echoing the value: it is a secret.
            raise WhatsAppConfigurationError(
                _("WHATSAPP_ACCESS_TOKEN contains spaces or control characters — check it.")
            )
        if not self.phone_number_id:
            raise WhatsAppConfigurationError(
                _("WHATSAPP_PHONE_NUMBER_ID is not set — check the WhatsApp API configuration.")
            )
        self.base_url = base_url.rstrip("/")
        self.messages_url = f"{self.base_url}/{api_version}/{self.phone_number_id}/messages"
        self.timeout = (
            connect_timeout
            if connect_timeout is not None
            else settings.WHATSAPP_CONNECT_TIMEOUT_SECONDS,
            read_timeout if read_timeout is not None else settings.WHATSAPP_READ_TIMEOUT_SECONDS,
        )
        self._token = token
        size = pool_size if pool_size is not None else settings.WHATSAPP_HTTP_POOL_SIZE
        self._session = _make_session(base_url=self.base_url, token=token, pool_size=size)

    def __repr__(self) -> str:
        return f"<WhatsAppClient {self.messages_url}>"

    def __enter__(self) -> WhatsAppClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def send_template(
        self,
        *,
        to: str,
        template_name: str,
        language: str,
        parameters: Sequence[tuple[str, str]],
        named: bool,
    ) -> SendResult:
        """Send one template message; positional templates take ``parameters`` in order."""
        if not template_name or not language:
            return _local_failure(
                outcome=Outcome.FATAL,
                hint=_("the campaign has no template name or language — check the campaign"),
            )
        for name, value in parameters:
            if not value.strip():
                return _local_failure(
                    outcome=Outcome.PERMANENT,
                    hint=_("template parameter “%(name)s” is empty for this recipient")
                    % {"name": name},
                )
        return self._send(
            to=to,
            payload=build_template_payload(
                to=to,
                template_name=template_name,
                language=language,
                parameters=parameters,
                named=named,
            ),
        )

    def send_text(self, *, to: str, body: str, preview_url: bool = False) -> SendResult:
        """Send one free-form text (only inside the 24-hour customer-service window)."""
        if not body.strip() or len(body) > TEXT_BODY_MAX_CHARS:
            return _local_failure(
                outcome=Outcome.PERMANENT,
                hint=_("a text message must have 1 to %(max)s characters")
                % {"max": TEXT_BODY_MAX_CHARS},
            )
        return self._send(
            to=to, payload=build_text_payload(to=to, body=body, preview_url=preview_url)
        )

    def _send(self, *, to: str, payload: dict[str, Any]) -> SendResult:
        if not E164_PATTERN.match(to):
            return _local_failure(
                outcome=Outcome.PERMANENT,
                hint=_("“%(to)s” is not an E.164 phone number with a leading +") % {"to": to},
            )
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        started = time.monotonic()
        try:
            response = self._session.post(
                self.messages_url, data=data, timeout=self.timeout, allow_redirects=False
            )
            body = response.content
        except requests.RequestException as exc:
            return self._transport_failure(exc, elapsed_seconds=time.monotonic() - started)
        return parse_response(
            http_status=response.status_code,
            body=body,
            headers=response.headers,
            elapsed_seconds=time.monotonic() - started,
        )

    def _transport_failure(
        self, exc: requests.RequestException, *, elapsed_seconds: float
    ) -> SendResult:
        connect, read = self.timeout
        if isinstance(exc, requests.ConnectTimeout):
            message = _("timed out connecting to the WhatsApp API after %(s)s s") % {"s": connect}
            possibly_accepted = False
        elif isinstance(exc, requests.ReadTimeout):
            message = _("no answer from the WhatsApp API within %(s)s s") % {"s": read}
            possibly_accepted = True
        elif isinstance(exc, _CONNECTION_LOST):
            possibly_accepted = not _failed_before_sending(exc)
            message = (
                _("the connection to the WhatsApp API was lost before an answer")
                if possibly_accepted
                else _("could not connect to the WhatsApp API")
            )
        else:
            # Invalid URL, missing schema and the like: configuration, same for every message.
            return SendResult(
                outcome=Outcome.FATAL,
                error_message=_("the WhatsApp API request could not be made"),
                error_details=self._scrub(str(exc)),
                error_type=type(exc).__name__,
                hint=_(
                    "the request to the WhatsApp API could not be made (%(error)s) — check the "
                    "WhatsApp API configuration (WHATSAPP_API_BASE_URL)"
                )
                % {"error": type(exc).__name__},
                elapsed_seconds=elapsed_seconds,
            )
        classification = classify(code=None, http_status=None)
        return SendResult(
            outcome=classification.outcome,
            error_message=message,
            error_details=self._scrub(str(exc)),
            error_type=type(exc).__name__,
            possibly_accepted=possibly_accepted,
            hint=classification.hint,
            elapsed_seconds=elapsed_seconds,
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, _REDACTED) if self._token in text else text


def _make_session(*, base_url: str, token: str, pool_size: int) -> requests.Session:
    session = requests.Session()
    # max_retries=0: every attempt is counted and classified by the caller, none hidden here.
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "blastadmin",
        }
    )
    # Refusing cookies keeps the session's state read-only, which is what makes sharing it
    # between sending threads safe.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # Proxies from HTTPS_PROXY/NO_PROXY are read once here rather than on every request
    # (requests rescans the whole environment per call otherwise), and ~/.netrc can never
    # replace the bearer token.
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(base_url)
    return session


def _failed_before_sending(exc: requests.RequestException) -> bool:
    """Whether the connection never opened, so the API cannot have seen the request."""
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(
        reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    )


def _success_result(
    *, data: Mapping[str, Any] | None, http_status: int, elapsed_seconds: float
) -> SendResult:
    message = _first(data, "messages")
    contact = _first(data, "contacts")
    wamid = message.get("id")
    if not isinstance(wamid, str) or not wamid:
        return SendResult(
            outcome=Outcome.UNKNOWN,
            http_status=http_status,
            error_message=_("HTTP %(status)s without a message id") % {"status": http_status},
            possibly_accepted=True,
            hint=_(
                "the WhatsApp API answered without a message id — the message may or may not "
                "have been accepted; check before sending it again"
            ),
            elapsed_seconds=elapsed_seconds,
        )
    wa_id = contact.get("wa_id")
    message_status = message.get("message_status")
    return SendResult(
        outcome=Outcome.SENT,
        http_status=http_status,
        wamid=wamid,
        wa_id=wa_id if isinstance(wa_id, str) else None,
        message_status=message_status if isinstance(message_status, str) else None,
        elapsed_seconds=elapsed_seconds,
    )


def _error_result(
    *,
    error: Mapping[str, Any],
    http_status: int,
    retry_after: float | None,
    elapsed_seconds: float,
) -> SendResult:
    code = _as_int(error.get("code"))
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, Mapping) else None
    details = details if isinstance(details, str) else ""
    classification = classify(code=code, http_status=http_status, details=details)
    return SendResult(
        outcome=classification.outcome,
        http_status=http_status,
        error_code=code,
        error_message=_as_text(error.get("message")),
        error_details=details,
        error_type=_as_text(error.get("type")),
        fbtrace_id=_as_text(error.get("fbtrace_id")),
        slow_down=classification.slow_down,
        opt_out=classification.opt_out,
        defer_hours=classification.defer_hours,
        retry_after_seconds=retry_after,
        hint=classification.hint,
        elapsed_seconds=elapsed_seconds,
    )


def _local_failure(*, outcome: Outcome, hint: str) -> SendResult:
    """A message refused before any HTTP call (bad number, empty parameter …)."""
    return SendResult(outcome=outcome, error_message=hint, error_type="invalid_request", hint=hint)


def _json_object(body: bytes) -> Mapping[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _first(data: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    items = data.get(key) if data is not None else None
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        return items[0]
    return {}


def _body_snippet(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    title = _HTML_TITLE.search(text)
    if title:
        text = title.group(1)
    return " ".join(text.split())[:_BODY_SNIPPET_CHARS]


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _as_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
