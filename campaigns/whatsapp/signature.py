"""The ``X-Hub-Signature-256`` header Meta puts on webhook POSTs: HMAC-SHA256 of the raw body."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="


def sign_body(body: bytes, *, app_secret: str) -> str:
    """The header value Meta would send for ``body``: ``sha256=<lowercase hex>``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_matches(body: bytes, header: str | None, *, app_secret: str) -> bool:
    """Whether ``header`` is the right signature of ``body``, compared in constant time.

    An empty app secret matches nothing: anyone can compute an HMAC with an empty key.
    """
    if not app_secret or not header:
        return False
    expected = sign_body(body, app_secret=app_secret).encode()
    # Meta sends lowercase hex; accept an uppercase copy, refuse anything that is not ASCII.
    try:
        supplied = header.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(supplied, expected)
