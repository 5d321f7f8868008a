"""`manage.py whatsapp_sandbox`: run the local WhatsApp Cloud API sandbox in the foreground."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator

from campaigns.whatsapp.sandbox import (
    DEFAULT_MAX_RECORDS,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT_SECONDS,
    SandboxConfig,
    SandboxServer,
    SandboxState,
    load_script,
)
from campaigns.whatsapp.sandbox_script import DEFAULT_RANDOM_FAULTS, Script, ScriptError
from campaigns.whatsapp.sandbox_webhooks import DEFAULT_WEBHOOK_DELAY_MS


def _non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ArgumentTypeError(f"{value} is negative")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ArgumentTypeError(f"{value} is negative")
    return number


def _probability(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise ArgumentTypeError(f"{value} is not between 0 and 1")
    return number


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ArgumentTypeError(f"{value} is not a TCP port")
    return number


class Command(BaseCommand):
    help = (
        "Run a local stand-in for the WhatsApp Cloud API (POST /{version}/{phone_number_id}/"
        "messages) with latency, fault injection and a throughput cap; see "
        "campaigns/whatsapp/sandbox.py for the script format and the /_sandbox/ endpoints."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="0: any free port.")
        parser.add_argument(
            "--latency-ms", type=_non_negative, default=0.0, help="Fixed delay per answer."
        )
        parser.add_argument(
            "--jitter-ms", type=_non_negative, default=0.0, help="Extra random delay, 0 to N ms."
        )
        parser.add_argument(
            "--fail-rate",
            type=_probability,
            default=None,
            help="Share of messages (0–1) that get a random fault from --fail-kinds.",
        )
        parser.add_argument(
            "--fail-kinds",
            default=",".join(DEFAULT_RANDOM_FAULTS),
            help="Comma-separated random faults: error codes, HTTP 5xx, timeout, drop.",
        )
        parser.add_argument("--script", help="JSON file of scripted faults.")
        parser.add_argument(
            "--throughput",
            type=_non_negative_int,
            default=None,
            help="Messages per second per phone-number ID before 130429 (0: no cap; "
            "default WHATSAPP_THROUGHPUT_PER_SECOND).",
        )
        parser.add_argument(
            "--phone-number-id",
            action="append",
            help="Accepted phone-number ID (repeatable; default WHATSAPP_PHONE_NUMBER_ID).",
        )
        parser.add_argument(
            "--token",
            help="Accepted access token (default WHATSAPP_ACCESS_TOKEN). Visible in the "
            "process list: use it for sandbox-only tokens.",
        )
        parser.add_argument(
            "--timeout-seconds",
            type=_non_negative,
            default=DEFAULT_TIMEOUT_SECONDS,
            help="How long a 'timeout' fault holds the connection without answering.",
        )
        parser.add_argument(
            "--max-records",
            type=_non_negative_int,
            default=DEFAULT_MAX_RECORDS,
            help="Accepted messages kept for /_sandbox/accepted (counts are always kept).",
        )
        parser.add_argument("--seed", type=int, help="Seed for jitter and random faults.")
        parser.add_argument(
            "--webhook-url",
            default="",
            help="POST signed status webhooks (sent, delivered, read; failed for scripted "
            "numbers) here, e.g. http://127.0.0.1:8000/webhooks/whatsapp/. Signed with "
            "WHATSAPP_APP_SECRET.",
        )
        parser.add_argument(
            "--webhook-delay-ms",
            type=_non_negative,
            default=DEFAULT_WEBHOOK_DELAY_MS,
            help="Delay before 'sent'; 'delivered' and 'read' follow at 2× and 3× of it.",
        )
        parser.add_argument(
            "--webhook-read-rate",
            type=_probability,
            default=1.0,
            help="Share of delivered messages (0–1) that are also read.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = self._config(options)
        try:
            server = SandboxServer(
                host=options["host"], port=options["port"], state=SandboxState(config)
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc.strerror}"
            ) from exc
        cap = config.throughput_per_second or "no cap"
        self.stdout.write(
            f"WhatsApp Cloud API sandbox on {server.url} — phone-number ID "
            f"{', '.join(config.phone_number_ids)}, {cap} msg/s, latency {config.latency_ms:g} ms "
            f"+ up to {config.jitter_ms:g} ms. Ctrl-C to stop."
        )
        if config.webhook_url:
            self.stdout.write(
                f"Status webhooks go to {config.webhook_url} after {config.webhook_delay_ms:g} ms."
            )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopping the sandbox.")
        finally:
            server.stop()

    def _config(self, options: dict[str, Any]) -> SandboxConfig:
        token = options["token"] or settings.WHATSAPP_ACCESS_TOKEN
        phone_number_ids = tuple(options["phone_number_id"] or [settings.WHATSAPP_PHONE_NUMBER_ID])
        if not token:
            raise CommandError("Set WHATSAPP_ACCESS_TOKEN (or pass --token) for the sandbox.")
        if not all(phone_number_ids) or not all(pid.isdigit() for pid in phone_number_ids):
            raise CommandError(
                "Set WHATSAPP_PHONE_NUMBER_ID (or pass --phone-number-id) to a numeric ID."
            )
        try:
            script = load_script(options["script"]) if options["script"] else Script()
            if options["fail_rate"] is not None:
                kinds = [kind for kind in options["fail_kinds"].split(",") if kind.strip()]
                script = script.with_random(rate=options["fail_rate"], faults=kinds)
        except ScriptError as exc:
            raise CommandError(str(exc)) from exc
        webhook_url = options["webhook_url"]
        if webhook_url:
            try:
                URLValidator(schemes=["http", "https"])(webhook_url)
            except ValidationError as exc:
                raise CommandError(f"--webhook-url must be an http(s) URL: {webhook_url}") from exc
            if not settings.WHATSAPP_APP_SECRET:
                raise CommandError("Set WHATSAPP_APP_SECRET to sign the sandbox's webhooks.")
        throughput = options["throughput"]
        return SandboxConfig(
            access_token=token,
            phone_number_ids=phone_number_ids,
            throughput_per_second=(
                settings.WHATSAPP_THROUGHPUT_PER_SECOND if throughput is None else throughput
            ),
            latency_ms=options["latency_ms"],
            jitter_ms=options["jitter_ms"],
            timeout_seconds=options["timeout_seconds"] or DEFAULT_TIMEOUT_SECONDS,
            max_records=options["max_records"],
            seed=options["seed"],
            script=script,
            webhook_url=webhook_url,
            webhook_delay_ms=options["webhook_delay_ms"],
            webhook_read_rate=options["webhook_read_rate"],
            app_secret=settings.WHATSAPP_APP_SECRET,
        )
