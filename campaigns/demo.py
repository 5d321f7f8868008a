"""Demo data: three staff users and one Indonesian campaign with a few hundred recipients."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns import audit, stats
from campaigns.models import Campaign, Recipient
from campaigns.phones import InvalidPhoneNumber, normalise_phone
from campaigns.roles import AUDITORS, OPERATORS, setup_roles

DEMO_CAMPAIGN_NAME = "Demo — Undangan Seminar Jakarta"
DEMO_TEMPLATE_NAME = "event_reminder"
DEMO_TEMPLATE_LANGUAGE = "id"
DEMO_TEMPLATE_PARAMETERS = [
    {"name": "participant_name", "value": "Peserta"},
    {"name": "location", "value": "Jakarta Convention Center"},
    {"name": "address", "value": "Jl. Gatot Subroto, Senayan, Jakarta Pusat"},
    {"name": "date", "value": "Sabtu, 20 Juni 2026"},
    {"name": "time", "value": "09.00 WIB"},
]
DEMO_RECIPIENT_COUNT = 300
# A fixed seed: every run generates the same people, so a re-run finds them all present.
DEMO_SEED = 20260620
PASSWORD_BYTES = 18  # token_urlsafe(18) gives 24 characters, about 144 bits of entropy.

# Mobile prefixes of Telkomsel, Indosat, XL, Axis, Tri and Smartfren (after the leading 0).
_MOBILE_PREFIXES = (
    "811", "812", "813", "821", "822", "823", "851", "852", "853",
    "814", "815", "816", "855", "856", "857", "858",
    "817", "818", "819", "859", "877", "878",
    "831", "832", "833", "838",
    "895", "896", "897", "898", "899",
    "881", "882", "883", "887", "888", "889",
)  # fmt: skip
_FIRST_NAMES = (
    "Budi", "Siti", "Agus", "Dewi", "Andi", "Rina", "Joko", "Sri", "Hendra", "Wati",
    "Bambang", "Ratna", "Eko", "Fitri", "Rudi", "Lestari", "Yusuf", "Putri", "Dedi", "Ayu",
    "Slamet", "Nur", "Arif", "Indah", "Teguh", "Maya", "Fajar", "Kartika", "Wahyu", "Intan",
)  # fmt: skip
_LAST_NAMES = (
    "Santoso", "Rahayu", "Wijaya", "Saputra", "Hidayat", "Kusuma", "Pratama", "Lestari",
    "Setiawan", "Nugroho", "Siregar", "Nasution", "Simanjuntak", "Halim", "Gunawan",
    "Wibowo", "Susanto", "Utami", "Hutapea", "Purnomo", "Sembiring", "Manurung",
)  # fmt: skip
_ROOMS = ("Ruang Cendrawasih", "Ruang Merak", "Hall A", "Hall B")


@dataclass(frozen=True)
class DemoUser:
    username: str
    is_superuser: bool
    group: str | None


DEMO_USERS = (
    DemoUser("admin", is_superuser=True, group=None),
    DemoUser("operator", is_superuser=False, group=OPERATORS),
    DemoUser("auditor", is_superuser=False, group=AUDITORS),
)


@dataclass
class SeedResult:
    passwords: dict[str, str] = field(default_factory=dict)
    """Usernames whose password was set by this run, with that password (print it once)."""
    users_created: list[str] = field(default_factory=list)
    campaign: Campaign | None = None
    campaign_created: bool = False
    recipients_added: int = 0


class DemoRefused(Exception):
    """seed_demo would create a superuser on what looks like a production server."""


def seed_demo(*, reset_passwords: bool = False, force: bool = False) -> SeedResult:
    """Create the demo users and campaign if missing; running it again adds nothing."""
    if not settings.DEBUG and not force:
        raise DemoRefused(
            _(
                "seed_demo creates a superuser with a printed password, so it only runs with "
                "DEBUG on. Use --force to run it anyway."
            )
        )
    setup_roles()
    result = SeedResult()
    with transaction.atomic():
        users = {
            demo_user.username: _ensure_user(demo_user, reset_password=reset_passwords, into=result)
            for demo_user in DEMO_USERS
        }
        _ensure_campaign(created_by=users["admin"], into=result)
        if result.passwords or result.campaign_created or result.recipients_added:
            audit.record(
                action="demo.seed",
                obj=result.campaign,
                details={
                    "users_created": result.users_created,
                    "passwords_set": sorted(result.passwords),
                    "recipients_added": result.recipients_added,
                },
            )
    return result


def demo_recipients(count: int = DEMO_RECIPIENT_COUNT) -> list[Recipient]:
    """``count`` deterministic recipients with valid, distinct Indonesian mobile numbers."""
    rng = random.Random(DEMO_SEED)
    recipients: list[Recipient] = []
    seen: set[str] = set()
    while len(recipients) < count:
        local = rng.choice(_MOBILE_PREFIXES) + "".join(rng.choices("0123456789", k=8))
        # Write numbers the ways people do; normalise_phone turns each into E.164.
        raw = rng.choice((f"0{local}", f"+62 {local}", f"62{local}", f"0{local[:3]}-{local[3:]}"))
        try:
            phone = normalise_phone(raw, region="ID")
        except InvalidPhoneNumber:
            continue
        if phone in seen:
            continue
        seen.add(phone)
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        variables: dict[str, str] = {}
        if len(recipients) % 10 == 0:
            variables["participant_name"] = f"Bapak/Ibu {first} {last}"
        if len(recipients) % 25 == 0:
            variables["location"] = f"Jakarta Convention Center, {rng.choice(_ROOMS)}"
        recipients.append(
            Recipient(phone_number=phone, name=f"{first} {last}", variables=variables)
        )
    return recipients


def _ensure_user(demo_user: DemoUser, *, reset_password: bool, into: SeedResult) -> AbstractUser:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=demo_user.username)
    user.is_staff = True
    user.is_active = True
    user.is_superuser = demo_user.is_superuser
    if created or reset_password:
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        user.set_password(password)
        into.passwords[demo_user.username] = password
    user.save()
    if created:
        into.users_created.append(demo_user.username)
    if demo_user.group is not None:
        user.groups.add(Group.objects.get(name=demo_user.group))
    return user


def _ensure_campaign(*, created_by: AbstractUser, into: SeedResult) -> None:
    campaign, created = Campaign.objects.get_or_create(
        name=DEMO_CAMPAIGN_NAME,
        defaults={
            "template_name": DEMO_TEMPLATE_NAME,
            "template_language": DEMO_TEMPLATE_LANGUAGE,
            "template_parameters": DEMO_TEMPLATE_PARAMETERS,
            "created_by": created_by,
        },
    )
    into.campaign, into.campaign_created = campaign, created
    if not created:
        # An existing demo campaign is the operators' now: recipients they removed stay
        # removed, and nothing already sent is queued again.
        return
    recipients = demo_recipients()
    for recipient in recipients:
        recipient.campaign = campaign
    added = Recipient.objects.bulk_create(recipients)
    stats.shift(campaign.pk, {Recipient.Status.PENDING: len(added)})
    campaign.refresh_from_db()
    into.recipients_added = len(added)
