"""Make the audit table append-only in the database itself (PostgreSQL).

The model and its queryset refuse updates and deletes too, but only the database can stop
raw SQL, other clients and future code from rewriting history. On SQLite (the zero-setup
demo database) nothing is installed: it is not a production target.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION campaigns_auditlog_reject_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'campaigns_auditlog is append-only: ' || TG_OP || ' is not allowed',
        ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER campaigns_auditlog_append_only
    BEFORE UPDATE OR DELETE ON campaigns_auditlog
    FOR EACH ROW EXECUTE FUNCTION campaigns_auditlog_reject_change();
"""

DROP = """
DROP TRIGGER IF EXISTS campaigns_auditlog_append_only ON campaigns_auditlog;
DROP FUNCTION IF EXISTS campaigns_auditlog_reject_change();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
