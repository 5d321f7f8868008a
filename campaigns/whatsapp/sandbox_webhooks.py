"""The sandbox's webhooks: signed status (and inbound message) POSTs, like Meta's, after a delay.

Each accepted message gets ``sent`` after the delay, ``delivered`` after twice the delay and,
for a share of them (``read_rate``), ``read`` after three times the delay; a message scripted
to fail by webhook gets ``sent`` and then ``failed`` with its code. Everything falling due
within ``BATCH_WINDOW_SECONDS`` goes out in one POST (Meta batches up to 1,000 updates), signed
with the app secret in ``X-Hub-Signature-256``. One background thread does the posting, so
scheduling never blocks the sandbox's request handling; a failed POST is tried again a few times.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from campaigns.whatsapp.sandbox_meta import error_title
from campaigns.whatsapp.signature import SIGNATURE_HEADER, sign_body

logger = logging.getLogger(__name__)

DEFAULT_WEBHOOK_DELAY_MS = 1000.0
MAX_UPDATES_PER_POST = 1000
# Updates falling due within this window of the first one share its POST, as Meta batches.
BATCH_WINDOW_SECONDS = 0.2
POST_TIMEOUT_SECONDS = 10.0
POST_ATTEMPTS = 4
RETRY_BACKOFF_SECONDS = (1.0, 2.0, 4.0)
# The ids Meta puts around the updates; only phone_number_id matters to blastadmin.
BUSINESS_ACCOUNT_ID = "102290129340398"
DISPLAY_PHONE_NUMBER = "15550783881"
ERROR_CODES_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    app_secret: str
    delay_seconds: float = DEFAULT_WEBHOOK_DELAY_MS / 1000
    read_rate: float = 1.0

    def __repr__(self) -> str:  # never show the secret
        return f"WebhookConfig(url={self.url!r}, delay_seconds={self.delay_seconds})"


@dataclass(frozen=True, slots=True)
class _Update:
    """One status or inbound message, and the sender number it belongs to."""

    phone_number_id: str
    kind: str  # "statuses" | "messages"
    body: dict[str, Any]
    attempt: int = 1


class WebhookSender:
    """Schedules webhook updates and posts them from one background thread."""

    def __init__(
        self,
        config: WebhookConfig,
        *,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock
        self._queue: list[tuple[float, int, _Update]] = []
        self._sequence = itertools.count()
        self._wakeup = threading.Condition()
        self._stopping = False
        self._counts: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    # --- scheduling (called under the sandbox's lock: must not block) -----------------------
    def message_accepted(
        self,
        *,
        wamid: str,
        to: str,
        phone_number_id: str,
        fail_code: int | None = None,
        fail_details: str | None = None,
    ) -> None:
        """Schedule the statuses of one accepted message."""
        delay = self.config.delay_seconds
        recipient = to.lstrip("+")
        steps: list[tuple[float, str]] = [(delay, "sent")]
        if fail_code is not None:
            steps.append((2 * delay, "failed"))
        else:
            steps.append((2 * delay, "delivered"))
            if self._rng.random() < self.config.read_rate:
                steps.append((3 * delay, "read"))
        for after, status in steps:
            body: dict[str, Any] = {
                "id": wamid,
                "status": status,
                "timestamp": self._timestamp(after),
                "recipient_id": recipient,
                "conversation": {"id": "sandbox", "origin": {"type": "marketing"}},
                "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing"},
            }
            if status == "failed":
                assert fail_code is not None
                body["errors"] = [_error(fail_code, fail_details)]
                del body["conversation"], body["pricing"]
            self._push(after, _Update(phone_number_id, "statuses", body))

    def inbound_text(self, *, sender: str, text: str, phone_number_id: str) -> None:
        """Schedule a text message from a user (e.g. "STOP") to the business number."""
        body = {
            "from": sender.lstrip("+"),
            "id": f"wamid.sandbox-inbound-{next(self._sequence)}",
            "timestamp": self._timestamp(0.0),
            "type": "text",
            "text": {"body": text},
        }
        self._push(0.0, _Update(phone_number_id, "messages", body))

    def clear(self) -> None:
        """Forget everything not yet posted."""
        with self._wakeup:
            self._queue.clear()

    def stats(self) -> dict[str, int]:
        with self._wakeup:
            return {**self._counts, "pending": len(self._queue)}

    def stop(self) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        self._thread.join(timeout=POST_TIMEOUT_SECONDS + 1)

    def _timestamp(self, after: float) -> str:
        """When the status happens, as Meta writes it: a string of Unix seconds."""
        return str(int(self._wall_clock() + after))

    def _push(self, after: float, update: _Update) -> None:
        with self._wakeup:
            heapq.heappush(self._queue, (time.monotonic() + after, next(self._sequence), update))
            self._counts["scheduled"] += 1
            self._wakeup.notify()

    # --- the posting thread ---------------------------------------------------------------
    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False
        try:
            while True:
                due = self._next_due()
                if due is None:
                    return
                self._post(session, due)
        finally:
            session.close()

    def _next_due(self) -> list[_Update] | None:
        """Wait until something is due; take up to a POST's worth. None when stopping."""
        with self._wakeup:
            while not self._stopping:
                now = time.monotonic()
                if self._queue and self._queue[0][0] <= now:
                    due: list[_Update] = []
                    while (
                        self._queue
                        and self._queue[0][0] <= now + BATCH_WINDOW_SECONDS
                        and len(due) < MAX_UPDATES_PER_POST
                    ):
                        due.append(heapq.heappop(self._queue)[2])
                    return due
                timeout = self._queue[0][0] - now if self._queue else None
                self._wakeup.wait(timeout)
            return None

    def _post(self, session: requests.Session, updates: list[_Update]) -> None:
        body = json.dumps(self._payload(updates), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(body, app_secret=self.config.app_secret),
        }
        try:
            response = session.post(
                self.config.url, data=body, headers=headers, timeout=POST_TIMEOUT_SECONDS
            )
            ok = 200 <= response.status_code < 300
            failure = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            ok, failure = False, type(exc).__name__
        with self._wakeup:
            self._counts["posts" if ok else "failed_posts"] += 1
            self._counts["updates_posted" if ok else "updates_failed"] += len(updates)
        if not ok:
            self._retry(updates, failure)

    def _retry(self, updates: list[_Update], failure: str) -> None:
        attempt = updates[0].attempt
        if attempt >= POST_ATTEMPTS:
            logger.warning("sandbox webhook dropped after %s attempts: %s", attempt, failure)
            return
        logger.info("sandbox webhook failed (%s), trying again", failure)
        wait = RETRY_BACKOFF_SECONDS[min(attempt, len(RETRY_BACKOFF_SECONDS)) - 1]
        for update in updates:
            retry = _Update(update.phone_number_id, update.kind, update.body, attempt + 1)
            self._push(wait, retry)

    def _payload(self, updates: list[_Update]) -> dict[str, Any]:
        """Meta's envelope: one change per sender number, statuses and messages inside."""
        values: dict[str, dict[str, Any]] = {}
        for update in updates:
            value = values.setdefault(
                update.phone_number_id,
                {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": DISPLAY_PHONE_NUMBER,
                        "phone_number_id": update.phone_number_id,
                    },
                },
            )
            value.setdefault(update.kind, []).append(update.body)
            if update.kind == "messages":
                value.setdefault("contacts", []).append(
                    {"profile": {"name": "Sandbox user"}, "wa_id": update.body["from"]}
                )
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": BUSINESS_ACCOUNT_ID,
                    "changes": [{"field": "messages", "value": value} for value in values.values()],
                }
            ],
        }


def _error(code: int, details: str | None) -> dict[str, Any]:
    title = error_title(code)
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or title},
        "href": ERROR_CODES_HREF,
    }
