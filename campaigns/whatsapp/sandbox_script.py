"""Scripted and random faults for the sandbox; the JSON format is described in ``sandbox``."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from campaigns.whatsapp.sandbox_meta import E164_PATTERN, TemplateSpec

FAULT_KINDS = frozenset({"ok", "error", "http", "timeout", "drop", "fail_by_webhook"})
# "fail_by_webhook": accepted (200 with a wamid), then a "failed" status webhook with this code
# (Meta's per-user marketing limit usually arrives that way).
DEFAULT_WEBHOOK_FAILURE_CODE = 131049
HTTP_BODIES = frozenset({"envelope", "html", "empty"})
DEFAULT_RANDOM_FAULTS: tuple[str, ...] = ("500", "503", "timeout", "drop", "130429", "131000")
# Gateways, not Meta, answer 502 and 504: an HTML page rather than Meta's envelope.
_GATEWAY_STATUSES = frozenset({502, 504})
_FAULT_KEYS = frozenset({"kind", "code", "http_status", "body", "details", "seconds", "accept"})
_SCRIPT_KEYS = frozenset({"all", "numbers", "random", "templates"})


class ScriptError(ValueError):
    """A fault script that does not follow the documented format."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    code: int | None = None
    http_status: int | None = None
    body: str = "envelope"
    details: str | None = None
    # For "timeout": how long to hold the connection; None means the sandbox default.
    seconds: float | None = None
    # For "timeout" and "drop": record the message as accepted before failing to answer.
    accept: bool = False
    # How many times this step applies before the next one; None means for ever.
    times: int | None = None


@dataclass(frozen=True, slots=True)
class RandomFaults:
    rate: float
    faults: tuple[Fault, ...]

    def pick(self, rng: random.Random) -> Fault | None:
        if self.rate <= 0 or not self.faults or rng.random() >= self.rate:
            return None
        return rng.choice(self.faults)


@dataclass(frozen=True)
class Script:
    all: tuple[Fault, ...] = ()
    numbers: Mapping[str, tuple[Fault, ...]] = field(default_factory=dict)
    random: RandomFaults | None = None
    templates: Mapping[str, TemplateSpec] = field(default_factory=dict)
    # The JSON it was read from, for GET /_sandbox/script.
    source: Mapping[str, Any] = field(default_factory=dict)

    def with_random(self, *, rate: float, faults: Sequence[str]) -> Script:
        """This script with the random faults replaced (the command's --fail-rate)."""
        source = dict(self.source)
        source["random"] = {"rate": rate, "faults": list(faults)}
        return replace(self, random=_parse_random(source["random"]), source=source)


class StepCursor:
    """Where a sequence of steps has got to; not thread-safe (the sandbox holds its lock)."""

    __slots__ = ("index", "used")

    def __init__(self) -> None:
        self.index = 0
        self.used = 0

    def advance(self, steps: Sequence[Fault]) -> Fault | None:
        """The step that applies to this request, or None once the sequence is exhausted."""
        while self.index < len(steps):
            step = steps[self.index]
            if step.times is None:
                return step
            if self.used < step.times:
                self.used += 1
                return step
            self.index += 1
            self.used = 0
        return None


def parse_script(data: object) -> Script:
    """Read a fault script (already decoded from JSON); raise :class:`ScriptError`."""
    if not isinstance(data, dict):
        raise ScriptError("A script must be a JSON object.")
    unknown = set(data) - _SCRIPT_KEYS
    if unknown:
        raise ScriptError(f"Unknown script keys: {', '.join(sorted(unknown))}.")
    numbers = data.get("numbers", {})
    if not isinstance(numbers, dict):
        raise ScriptError("'numbers' must map phone numbers to steps.")
    parsed_numbers: dict[str, tuple[Fault, ...]] = {}
    for number, steps in numbers.items():
        if not E164_PATTERN.match(number):
            raise ScriptError(f"{number!r} is not an E.164 phone number with a leading +.")
        parsed_numbers[number] = _parse_steps(steps, where=number)
    return Script(
        all=_parse_steps(data.get("all", []), where="all"),
        numbers=parsed_numbers,
        random=_parse_random(data["random"]) if data.get("random") is not None else None,
        templates=_parse_templates(data.get("templates", {})),
        source=data,
    )


def parse_fault(value: object, *, where: str = "fault") -> Fault:
    """One step: a token ("131026", "500", "timeout", "drop", "ok") or an object."""
    if isinstance(value, str):
        return _parse_token(value, where=where)
    if not isinstance(value, dict):
        raise ScriptError(f"{where}: a step must be a string or an object.")
    unknown = set(value) - _FAULT_KEYS - {"times"}
    if unknown:
        raise ScriptError(f"{where}: unknown keys {', '.join(sorted(unknown))}.")
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise ScriptError(f"{where}: kind must be one of {', '.join(sorted(FAULT_KINDS))}.")
    fault = Fault(
        kind=kind,
        code=_optional_int(value, "code", where=where),
        http_status=_optional_int(value, "http_status", where=where),
        body=value.get("body", "envelope"),
        details=value.get("details"),
        seconds=_optional_number(value, "seconds", where=where),
        accept=value.get("accept", False),
        times=_optional_int(value, "times", where=where),
    )
    if fault.kind == "fail_by_webhook" and fault.code is None:
        fault = replace(fault, code=DEFAULT_WEBHOOK_FAILURE_CODE)
    _check_fault(fault, where=where)
    return fault


def _parse_token(token: str, *, where: str) -> Fault:
    token = token.strip().lower()
    if token in {"ok", "timeout", "drop"}:
        return Fault(kind=token)
    if token == "fail_by_webhook":  # noqa: S105 - a step name, not a password
        return Fault(kind=token, code=DEFAULT_WEBHOOK_FAILURE_CODE)
    if token.isdigit():
        number = int(token)
        if 500 <= number <= 599:
            body = "html" if number in _GATEWAY_STATUSES else "envelope"
            return Fault(kind="http", http_status=number, body=body)
        return Fault(kind="error", code=number)
    raise ScriptError(
        f"{where}: {token!r} is not ok, timeout, drop, fail_by_webhook, an HTTP 5xx or an error "
        "code."
    )


def _check_fault(fault: Fault, *, where: str) -> None:
    if fault.times is not None and fault.times < 1:
        raise ScriptError(f"{where}: times must be at least 1.")
    if fault.http_status is not None and not 100 <= fault.http_status <= 599:
        raise ScriptError(f"{where}: http_status must be an HTTP status code.")
    if not isinstance(fault.body, str):
        raise ScriptError(f"{where}: body must be a string.")
    if fault.details is not None and not isinstance(fault.details, str):
        raise ScriptError(f"{where}: details must be a string.")
    if not isinstance(fault.accept, bool):
        raise ScriptError(f"{where}: accept must be true or false.")
    if fault.accept and fault.kind not in {"timeout", "drop"}:
        raise ScriptError(f"{where}: accept only applies to timeout and drop.")
    if fault.seconds is not None and fault.seconds <= 0:
        raise ScriptError(f"{where}: seconds must be positive.")
    if fault.kind == "error" and fault.code is None:
        raise ScriptError(f"{where}: an error step needs a code.")
    if fault.kind == "http":
        if fault.http_status is None:
            raise ScriptError(f"{where}: an http step needs an http_status.")
        if fault.body not in HTTP_BODIES:
            raise ScriptError(f"{where}: body must be one of {', '.join(sorted(HTTP_BODIES))}.")
        if fault.body == "envelope" and fault.http_status < 500:
            raise ScriptError(f"{where}: use an error step for a 4xx with Meta's envelope.")


def _parse_steps(value: object, *, where: str) -> tuple[Fault, ...]:
    items = value if isinstance(value, list) else [value]
    steps = tuple(parse_fault(item, where=f"{where}[{index}]") for index, item in enumerate(items))
    for step in steps[:-1]:
        if step.times is None:
            raise ScriptError(f"{where}: only the last step may apply for ever (give 'times').")
    return steps


def _parse_random(value: object) -> RandomFaults:
    if not isinstance(value, dict):
        raise ScriptError("'random' must be an object with 'rate' and 'faults'.")
    rate = value.get("rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ScriptError("random.rate must be a number from 0 to 1.")
    faults = value.get("faults", list(DEFAULT_RANDOM_FAULTS))
    if not isinstance(faults, list) or not faults:
        raise ScriptError("random.faults must be a non-empty list.")
    return RandomFaults(
        rate=float(rate),
        faults=tuple(
            parse_fault(item, where=f"random.faults[{index}]") for index, item in enumerate(faults)
        ),
    )


def _parse_templates(value: object) -> dict[str, TemplateSpec]:
    if not isinstance(value, dict):
        raise ScriptError("'templates' must map template names to their definition.")
    templates: dict[str, TemplateSpec] = {}
    for name, spec in value.items():
        if not isinstance(spec, dict):
            raise ScriptError(f"templates.{name} must be an object.")
        languages = spec.get("languages", [spec.get("language", "en")])
        if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
            raise ScriptError(f"templates.{name}.languages must be a list of language codes.")
        templates[name] = TemplateSpec(
            languages=frozenset(languages),
            parameter_count=_optional_int(spec, "parameter_count", where=f"templates.{name}"),
        )
    return templates


def _optional_int(data: Mapping[str, Any], key: str, *, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScriptError(f"{where}: {key} must be an integer.")
    return value


def _optional_number(data: Mapping[str, Any], key: str, *, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScriptError(f"{where}: {key} must be a number.")
    return float(value)
