"""The only writer of AuditLog rows."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import HttpRequest

from campaigns.models import AuditLog


def client_ip(request: HttpRequest | None) -> str | None:
    """The address the request came from.

    Only REMOTE_ADDR is trusted: X-Forwarded-For is set by the client unless a proxy we
    control rewrites it, and an audit trail must not record what the client claims.
    """
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    *,
    action: str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    obj: models.Model | None = None,
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditLog:
    """Append one audit row; call it inside the transaction of the change it describes."""
    user = actor if actor is not None and actor.is_authenticated else None
    # Round-trip through Django's encoder so dates, decimals and UUIDs are stored readably.
    safe_details = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder))
    return AuditLog.objects.create(
        actor_id=user.pk if user is not None else None,
        actor_username=user.get_username() if user is not None else "",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        details=safe_details,
        ip_address=client_ip(request),
    )
