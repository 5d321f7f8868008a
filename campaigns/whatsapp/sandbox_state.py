"""The sandbox's rules and records, independent of HTTP (see ``sandbox`` for the behaviour)."""

from __future__ import annotations

import hmac
import json
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from campaigns.whatsapp.sandbox_meta import (
    MessageRequest,
    MetaError,
    error_envelope,
    http_status_for,
    new_wamid,
    parse_message,
    success_body,
)
from campaigns.whatsapp.sandbox_script import Fault, Script, StepCursor
from campaigns.whatsapp.sandbox_webhooks import (
    DEFAULT_WEBHOOK_DELAY_MS,
    WebhookConfig,
    WebhookSender,
)

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RECORDS = 100_000
DEFAULT_ACCEPTED_LIMIT = 1000
# Per-second counts kept for /_sandbox/stats.
_PER_SECOND_HISTORY = 300
_MESSAGES_PATH = re.compile(r"^/(?P<version>[^/]+)/(?P<phone_number_id>[^/]+)/messages/?$")
_VERSION = re.compile(r"^v\d+\.\d+$")
_GATEWAY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


@dataclass(frozen=True)
class SandboxConfig:
    access_token: str
    phone_number_ids: tuple[str, ...]
    throughput_per_second: int = 80  # 0: no cap
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_records: int = DEFAULT_MAX_RECORDS
    seed: int | None = None
    script: Script = field(default_factory=Script)
    # Where to POST signed status webhooks ("" = none), after how long, signed with what.
    webhook_url: str = ""
    webhook_delay_ms: float = DEFAULT_WEBHOOK_DELAY_MS
    webhook_read_rate: float = 1.0
    app_secret: str = ""

    def __repr__(self) -> str:  # never show the token or the app secret
        return (
            f"SandboxConfig(phone_number_ids={self.phone_number_ids!r}, "
            f"throughput_per_second={self.throughput_per_second}, "
            f"webhook_url={self.webhook_url!r})"
        )

    def webhook_config(self) -> WebhookConfig | None:
        if not self.webhook_url:
            return None
        return WebhookConfig(
            url=self.webhook_url,
            app_secret=self.app_secret,
            delay_seconds=self.webhook_delay_ms / 1000,
            read_rate=self.webhook_read_rate,
        )

    @classmethod
    def from_settings(cls, **overrides: Any) -> SandboxConfig:
        """Accept the token, phone-number ID and throughput the app itself is configured with."""
        from django.conf import settings

        values: dict[str, Any] = {
            "access_token": settings.WHATSAPP_ACCESS_TOKEN,
            "phone_number_ids": (settings.WHATSAPP_PHONE_NUMBER_ID,),
            "throughput_per_second": settings.WHATSAPP_THROUGHPUT_PER_SECOND,
            "app_secret": settings.WHATSAPP_APP_SECRET,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the HTTP layer should do: answer, hold the connection, or drop it."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    action: str = "respond"  # "respond" | "hang" | "drop"
    hang_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    wamid: str
    to: str
    phone_number_id: str
    type: str
    template_name: str | None
    language: str | None
    parameters: tuple[tuple[str | None, str], ...]
    text: str | None
    accepted_at: float

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["parameters"] = [{"name": name, "text": text} for name, text in self.parameters]
        return data


class SlidingWindowLimiter:
    """At most ``limit`` hits in any ``window`` seconds; not thread-safe (callers lock)."""

    def __init__(self, *, limit: int, window: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: deque[float] = deque()

    def allow(self, now: float) -> bool:
        if self.limit <= 0:
            return True
        cutoff = now - self.window
        hits = self._hits
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


def json_bytes(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class SandboxState:
    """The sandbox's rules and records, independent of HTTP; safe to call from many threads."""

    _script: Script
    _cursors: dict[str, StepCursor]
    _all_cursor: StepCursor
    _limiters: dict[str, SlidingWindowLimiter]
    _records: deque[AcceptedMessage]
    _counts: Counter[str]
    _rejected_by_code: Counter[int]
    _faults: Counter[str]
    _per_second: Counter[int]
    _peak_per_second: int
    _accepted_total: int
    _first_accepted_at: float | None
    _last_accepted_at: float | None

    def __init__(
        self,
        config: SandboxConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = random.Random(config.seed)
        self._expected_authorization = f"Bearer {config.access_token}".encode()
        self._lock = threading.Lock()
        self._started_at = wall_clock()
        webhooks = config.webhook_config()
        self.webhooks = (
            WebhookSender(webhooks, rng=random.Random(config.seed), wall_clock=wall_clock)
            if webhooks is not None
            else None
        )
        self._reset_locked(script=config.script)

    def close(self) -> None:
        """Stop the webhook thread (webhooks not yet posted are dropped)."""
        if self.webhooks is not None:
            self.webhooks.stop()

    # --- /messages --------------------------------------------------------------------------
    def latency_seconds(self) -> float:
        jitter = self._rng.uniform(0, self.config.jitter_ms) if self.config.jitter_ms else 0.0
        return (self.config.latency_ms + jitter) / 1000

    def handle_message(self, *, path: str, authorization: str | None, body: bytes) -> Reply:
        """Decide the answer to one ``POST …/messages`` request and record it."""
        supplied = (authorization or "").encode()
        if not hmac.compare_digest(supplied, self._expected_authorization):
            return self._reject(190)
        match = _MESSAGES_PATH.match(path)
        if match is None or not _VERSION.match(match["version"]):
            return self._reject(100, details=f"Unknown path components: {path}")
        phone_number_id = match["phone_number_id"]
        if phone_number_id not in self.config.phone_number_ids:
            return self._reject(
                100,
                details=f"Unsupported post request. Object with ID '{phone_number_id}' does not "
                "exist, cannot be loaded due to missing permissions, or does not support this "
                "operation.",
            )
        try:
            message = parse_message(body, templates=self._script.templates)
        except MetaError as exc:
            return self._reject(exc.code, details=exc.details)
        with self._lock:
            fault = self._all_cursor.advance(self._script.all)
            if fault is None or fault.kind == "ok":
                if not self._limiter(phone_number_id).allow(self._clock()):
                    return self._reject_locked(130429)
                fault = self._fault_for(message.to)
            if fault is not None and fault.kind != "ok":
                return self._apply_fault_locked(fault, message, phone_number_id)
            wamid = self._record_accepted_locked(message, phone_number_id)
        return Reply(body=json_bytes(success_body(message, wamid=wamid)))

    def reject_unsupported(self, *, method: str) -> Reply:
        """Meta's answer to a method other than POST on an API path."""
        return self._reject(100, details=f"Unsupported {method.lower()} request.")

    def _fault_for(self, to: str) -> Fault | None:
        steps = self._script.numbers.get(to)
        if steps:
            cursor = self._cursors.setdefault(to, StepCursor())
            fault = cursor.advance(steps)
            if fault is not None:
                return fault
        random_faults = self._script.random
        return random_faults.pick(self._rng) if random_faults is not None else None

    def _apply_fault_locked(
        self, fault: Fault, message: MessageRequest, phone_number_id: str
    ) -> Reply:
        if fault.kind == "error":
            assert fault.code is not None
            return self._reject_locked(
                fault.code, details=fault.details, http_status=fault.http_status
            )
        if fault.kind == "fail_by_webhook":
            wamid = self._record_accepted_locked(message, phone_number_id, webhook_failure=fault)
            return Reply(body=json_bytes(success_body(message, wamid=wamid)))
        if fault.accept:
            self._record_accepted_locked(message, phone_number_id)
        if fault.kind == "timeout":
            self._faults["timeout"] += 1
            return Reply(action="hang", hang_seconds=fault.seconds or self.config.timeout_seconds)
        if fault.kind == "drop":
            self._faults["drop"] += 1
            return Reply(action="drop")
        status = fault.http_status or 500
        self._faults[f"http_{status}"] += 1
        if fault.body == "envelope":
            code = 1 if status == 500 else 2
            return Reply(
                status=status, body=json_bytes(error_envelope(code, details=fault.details))
            )
        if fault.body == "html":
            return Reply(status=status, body=_GATEWAY_PAGE, content_type="text/html")
        return Reply(status=status, content_type="text/plain")

    def _reject(self, code: int, *, details: str | None = None) -> Reply:
        with self._lock:
            return self._reject_locked(code, details=details)

    def _reject_locked(
        self, code: int, *, details: str | None = None, http_status: int | None = None
    ) -> Reply:
        self._rejected_by_code[code] += 1
        return Reply(
            status=http_status or http_status_for(code),
            body=json_bytes(error_envelope(code, details=details)),
        )

    def _limiter(self, phone_number_id: str) -> SlidingWindowLimiter:
        limiter = self._limiters.get(phone_number_id)
        if limiter is None:
            limiter = SlidingWindowLimiter(limit=self.config.throughput_per_second)
            self._limiters[phone_number_id] = limiter
        return limiter

    def _record_accepted_locked(
        self,
        message: MessageRequest,
        phone_number_id: str,
        *,
        webhook_failure: Fault | None = None,
    ) -> str:
        """The one place a message becomes accepted; its status webhooks are scheduled here."""
        wamid = new_wamid(message.to)
        if self.webhooks is not None:
            self.webhooks.message_accepted(
                wamid=wamid,
                to=message.to,
                phone_number_id=phone_number_id,
                fail_code=webhook_failure.code if webhook_failure is not None else None,
                fail_details=webhook_failure.details if webhook_failure is not None else None,
            )
        now = self._wall_clock()
        self._records.append(
            AcceptedMessage(
                wamid=wamid,
                to=message.to,
                phone_number_id=phone_number_id,
                type=message.type,
                template_name=message.template_name,
                language=message.language,
                parameters=message.parameters,
                text=message.text,
                accepted_at=now,
            )
        )
        self._counts[message.to] += 1
        self._accepted_total += 1
        if self._first_accepted_at is None:
            self._first_accepted_at = now
        self._last_accepted_at = now
        second = int(now)
        self._per_second[second] += 1
        self._peak_per_second = max(self._peak_per_second, self._per_second[second])
        if len(self._per_second) > _PER_SECOND_HISTORY:
            for old in [s for s in self._per_second if s <= second - _PER_SECOND_HISTORY]:
                del self._per_second[old]
        return wamid

    # --- control ----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        with self._lock:
            now = self._wall_clock()
            first = self._first_accepted_at if self._first_accepted_at is not None else now
            last = self._last_accepted_at if self._last_accepted_at is not None else now
            active = max(last - first, 1.0)
            rejected = {str(code): n for code, n in sorted(self._rejected_by_code.items())}
            return {
                "accepted_total": self._accepted_total,
                "rejected_total": sum(self._rejected_by_code.values()),
                "rejected_by_code": rejected,
                "faults": dict(sorted(self._faults.items())),
                "recipients": len(self._counts),
                "duplicate_recipients": sum(1 for n in self._counts.values() if n > 1),
                "accepted_last_second": self._per_second.get(int(now) - 1, 0),
                "accepted_peak_per_second": self._peak_per_second,
                "accepted_average_per_second": round(self._accepted_total / active, 1),
                "throughput_per_second": self.config.throughput_per_second,
                "latency_ms": self.config.latency_ms,
                "jitter_ms": self.config.jitter_ms,
                "uptime_seconds": round(now - self._started_at, 1),
                "webhooks": self.webhooks.stats() if self.webhooks is not None else None,
            }

    def accepted(self, *, to: str | None = None, limit: int = DEFAULT_ACCEPTED_LIMIT) -> list[Any]:
        """Accepted messages still retained (the newest ``max_records``), oldest first."""
        with self._lock:
            if to is None:
                records = list(self._records)[-limit:] if limit else []
            else:
                records = [record for record in self._records if record.to == to][-limit:]
        return [record.as_dict() for record in records]

    def accepted_counts(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
        return {
            "total": sum(counts.values()),
            "recipients": len(counts),
            "duplicates": {to: n for to, n in counts.items() if n > 1},
            "counts": counts,
        }

    def script_source(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._script.source)

    def set_script(self, script: Script) -> None:
        """Replace the scripted faults; every sequence starts again from its first step."""
        with self._lock:
            self._script = script
            self._cursors = {}
            self._all_cursor = StepCursor()

    def reset(self) -> None:
        with self._lock:
            self._reset_locked(script=self.config.script)
        if self.webhooks is not None:
            self.webhooks.clear()

    def send_inbound(self, *, sender: str, text: str) -> bool:
        """Have a user send ``text`` to the (first) business number; False without webhooks."""
        if self.webhooks is None:
            return False
        self.webhooks.inbound_text(
            sender=sender, text=text, phone_number_id=self.config.phone_number_ids[0]
        )
        return True

    def _reset_locked(self, *, script: Script) -> None:
        self._script = script
        self._cursors = {}
        self._all_cursor = StepCursor()
        self._limiters = {}
        self._records = deque(maxlen=self.config.max_records)
        self._counts = Counter()
        self._rejected_by_code = Counter()
        self._faults = Counter()
        self._per_second = Counter()
        self._peak_per_second = 0
        self._accepted_total = 0
        self._first_accepted_at = None
        self._last_accepted_at = None
