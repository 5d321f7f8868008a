"""What the Cloud API says, for the sandbox: request checks, error envelopes, success bodies.

Messages and HTTP statuses copy Meta's (see ``shared/reference/whatsapp-cloud-api.md``); they
are API output, not user-facing text, so they are not translated.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
TEXT_BODY_MAX_CHARS = 4096
_PARAMETER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_COMPONENT_TYPES = frozenset({"header", "body", "button"})

_MESSAGES: dict[int, str] = {
    0: "(#0) AuthException",
    1: "An unknown error has occurred.",
    2: "Service temporarily unavailable",
    4: "(#4) Application request limit reached",
    10: "(#10) Permission denied",
    100: "(#100) Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    368: "(#368) Temporarily blocked for policies violations",
    80007: "(#80007) Rate limit issues",
    130429: "(#130429) Rate limit hit",
    131000: "(#131000) Something went wrong",
    131005: "(#131005) Access denied",
    131008: "(#131008) Required parameter is missing",
    131009: "(#131009) Parameter value is not valid",
    131026: "(#131026) Message undeliverable",
    131030: "(#131030) Recipient phone number not in allowed list",
    131031: "(#131031) Account has been locked",
    131047: "(#131047) Re-engagement message",
    131048: "(#131048) Spam rate limit hit",
    131049: "(#131049) This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "(#131050) Unable to deliver the message. This recipient has chosen to stop "
    "receiving marketing messages on WhatsApp from your business.",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    131057: "(#131057) Account in maintenance mode",
    132000: "(#132000) Number of parameters does not match the expected number of params",
    132001: "(#132001) Template name does not exist in the translation",
    132012: "(#132012) Parameter format does not match format in the created template",
    133010: "(#133010) Account not registered",
}
_DETAILS: dict[int, str] = {
    4: "Too many calls to the API from this app.",
    80007: "The WhatsApp Business Account has reached its rate limit.",
    130429: "Cloud API message throughput has been reached.",
    131000: "Something went wrong.",
    131026: "Message Undeliverable.",
    131050: "The recipient has stopped marketing messages from this business.",
    131056: "Message failed to send because there were too many messages sent from this phone "
    "number to the same phone number in a short period of time.",
}
_AUTH_CODES = frozenset({0, 190})
_FORBIDDEN_CODES = frozenset({3, 10, 368, 131005, 131031})
_SERVER_ERROR_CODES = {1: 500, 131000: 500, 2: 503, 133004: 503}


class MetaError(Exception):
    """A request the Cloud API would refuse with error ``code``."""

    def __init__(self, code: int, details: str = "") -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """An approved template the sandbox knows; with none configured any template is accepted."""

    languages: frozenset[str]
    parameter_count: int | None = None


@dataclass(frozen=True, slots=True)
class MessageRequest:
    to: str
    type: str
    template_name: str | None = None
    language: str | None = None
    # (parameter_name or None, text) of the body component, in order.
    parameters: tuple[tuple[str | None, str], ...] = ()
    text: str | None = None


def http_status_for(code: int) -> int:
    """The HTTP status Meta answers with for an error code (most are 400)."""
    if code in _AUTH_CODES:
        return 401
    if code in _FORBIDDEN_CODES or 200 <= code < 300:
        return 403
    if code == 132001:
        return 404
    return _SERVER_ERROR_CODES.get(code, 400)


def error_envelope(code: int, *, details: str | None = None) -> dict[str, Any]:
    """Meta's error body for ``code``."""
    return {
        "error": {
            "message": _MESSAGES.get(code, f"(#{code}) Error"),
            "type": "OAuthException",
            "code": code,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": details if details is not None else _DETAILS.get(code, ""),
            },
            "fbtrace_id": secrets.token_urlsafe(17)[:23],
        }
    }


def error_title(code: int) -> str:
    """Meta's title for ``code`` as webhooks carry it (without the "(#code)" prefix)."""
    return _MESSAGES.get(code, "Error").removeprefix(f"(#{code}) ")


def new_wamid(to: str) -> str:
    """A fresh message id shaped like Meta's (``wamid.`` + base64)."""
    raw = to.lstrip("+").encode() + uuid.uuid4().bytes
    return "wamid." + base64.b64encode(raw).decode()


def success_body(message: MessageRequest, *, wamid: str) -> dict[str, Any]:
    """Meta's 200 body; ``message_status`` is only present for templates."""
    entry: dict[str, str] = {"id": wamid}
    if message.type == "template":
        entry["message_status"] = "accepted"
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": message.to, "wa_id": message.to.lstrip("+")}],
        "messages": [entry],
    }


def parse_message(body: bytes, *, templates: Mapping[str, TemplateSpec]) -> MessageRequest:
    """Check a ``/messages`` body the way the Cloud API does; raise :class:`MetaError`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MetaError(100, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise MetaError(100, "The request body must be a JSON object.")
    if data.get("messaging_product") != "whatsapp":
        raise MetaError(100, "The parameter messaging_product is required and must be whatsapp.")
    if data.get("recipient_type", "individual") != "individual":
        raise MetaError(100, "Param recipient_type must be individual.")
    to = data.get("to")
    if not isinstance(to, str) or not to:
        raise MetaError(100, "The parameter to is required.")
    if not E164_PATTERN.match(to):
        raise MetaError(100, "Param to must be a phone number in E.164 format with a leading +.")
    kind = data.get("type", "text")
    if kind == "text":
        return MessageRequest(to=to, type="text", text=_text_body(data.get("text")))
    if kind == "template":
        return _template_message(to=to, template=data.get("template"), templates=templates)
    raise MetaError(100, "Param type must be one of {TEXT, TEMPLATE} in the sandbox.")


def _text_body(text: object) -> str:
    body = text.get("body") if isinstance(text, dict) else None
    if not isinstance(body, str) or not body.strip():
        raise MetaError(100, "The parameter text['body'] is required.")
    if len(body) > TEXT_BODY_MAX_CHARS:
        raise MetaError(100, f"Param text['body'] must be at most {TEXT_BODY_MAX_CHARS} chars.")
    return body


def _template_message(
    *, to: str, template: object, templates: Mapping[str, TemplateSpec]
) -> MessageRequest:
    if not isinstance(template, dict):
        raise MetaError(131008, "The parameter template is required.")
    name = template.get("name")
    if not isinstance(name, str) or not name:
        raise MetaError(131008, "The parameter template['name'] is required.")
    language = template.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    if not isinstance(code, str) or not code:
        raise MetaError(131008, "The parameter template['language']['code'] is required.")
    parameters = _body_parameters(template.get("components", []))
    if templates:
        spec = templates.get(name)
        if spec is None or code not in spec.languages:
            raise MetaError(132001, f"template name ({name}) does not exist in {code}")
        if spec.parameter_count is not None and len(parameters) != spec.parameter_count:
            raise MetaError(
                132000,
                f"body: number of localizable_params ({len(parameters)}) does not match the "
                f"expected number of params ({spec.parameter_count})",
            )
    return MessageRequest(
        to=to, type="template", template_name=name, language=code, parameters=parameters
    )


def _body_parameters(components: object) -> tuple[tuple[str | None, str], ...]:
    if not isinstance(components, list):
        raise MetaError(131009, "Param template['components'] must be an array.")
    found: list[tuple[str | None, str]] = []
    for component in components:
        if not isinstance(component, dict) or component.get("type") not in _COMPONENT_TYPES:
            raise MetaError(131009, "Each component needs a type: header, body or button.")
        parameters = _component_parameters(component.get("parameters", []))
        if component["type"] == "body":
            found.extend(parameters)
    return tuple(found)


def _component_parameters(parameters: object) -> list[tuple[str | None, str]]:
    if not isinstance(parameters, list):
        raise MetaError(131009, "Param parameters must be an array.")
    result: list[tuple[str | None, str]] = []
    for parameter in parameters:
        if not isinstance(parameter, dict) or parameter.get("type") != "text":
            raise MetaError(131009, "The sandbox supports text parameters only.")
        text = parameter.get("text")
        if not isinstance(text, str) or not text.strip():
            raise MetaError(131008, "Parameter text is missing or empty.")
        name = parameter.get("parameter_name")
        if name is not None and (not isinstance(name, str) or not _PARAMETER_NAME.match(name)):
            raise MetaError(131009, "Param parameter_name must be lowercase letters and _.")
        result.append((name, text))
    if len({name is None for name, _text in result}) > 1:
        raise MetaError(132012, "Named and positional parameters cannot be mixed.")
    return result
