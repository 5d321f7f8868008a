"""Fast insertion of new pending recipients."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Field, JSONField
from django.db.models.expressions import DatabaseDefault
from psycopg import sql

from campaigns.models import Recipient

INSERT_BATCH_SIZE = 2000


@dataclass(frozen=True)
class ParsedRecipient:
    """One row of the file, normalised and unique within the file."""

    row_number: int
    value: str
    phone_number: str
    name: str
    variables: dict[str, str]


def insert_recipients(
    *,
    campaign_id: int,
    recipients: Sequence[ParsedRecipient],
    use_copy: bool | None = None,
) -> None:
    """Insert new pending rows: COPY on PostgreSQL (``use_copy=None``), else bulk_create.

    bulk_create spends ~150 µs per row preparing every field in Python (about 15 s for 100,000
    rows on the reference machine, the whole time budget of an import); COPY takes ~15 µs.
    Callers keep the counters right, as for any other insert.
    """
    if not recipients:
        return
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    if use_copy:
        _copy_recipients(campaign_id, recipients)
        return
    Recipient.objects.bulk_create(
        (
            Recipient(
                campaign_id=campaign_id,
                phone_number=r.phone_number,
                name=r.name,
                variables=r.variables,
            )
            for r in recipients
        ),
        batch_size=INSERT_BATCH_SIZE,
    )


def _copy_recipients(campaign_id: int, recipients: Sequence[ParsedRecipient]) -> None:
    # Every column gets the value Django itself would write for a new Recipient, so the
    # model's defaults stay the single source of truth; only the imported columns vary.
    prototype = Recipient(campaign_id=campaign_id)
    fields: list[Field[Any, Any]] = []
    row: list[Any] = []
    for field in Recipient._meta.concrete_fields:
        if field.primary_key:
            continue
        value = field.get_db_prep_save(field.pre_save(prototype, add=True), connection)
        if isinstance(value, DatabaseDefault):
            continue  # the column has a db_default: let PostgreSQL fill it
        fields.append(field)
        row.append(value)
    position = {field.name: i for i, field in enumerate(fields)}
    phone_at, name_at, variables_at = (
        position["phone_number"],
        position["name"],
        position["variables"],
    )
    variables_field = Recipient._meta.get_field("variables")
    assert isinstance(variables_field, JSONField)
    # JSON text is what a jsonb column takes in COPY; dumping it here with the field's own
    # encoder is half the cost of going through Django's adapter for every row.
    encoder = variables_field.encoder
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(Recipient._meta.db_table),
        columns=sql.SQL(", ").join(sql.Identifier(field.column) for field in fields),
    )
    # wrap_database_errors turns psycopg's UniqueViolation into Django's IntegrityError.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(statement) as copy,
    ):
        for recipient in recipients:
            row[phone_at] = recipient.phone_number
            row[name_at] = recipient.name
            row[variables_at] = json.dumps(recipient.variables, cls=encoder)
            copy.write_row(row)
