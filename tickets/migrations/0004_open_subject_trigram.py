"""Free-text search inside the unsolved views: a trigram GIN index over unsolved tickets only (PostgreSQL).

Every built-in view is over unsolved tickets (a tenth of them or less). With the full index, a phrase
whose trigrams are all common ("certificate sso") intersects posting lists of a million rows; this
one holds the unsolved rows only, so that search is a few milliseconds at 1M tickets.
"""

from django.db import migrations

CREATE = [
    "CREATE INDEX IF NOT EXISTS tickets_open_subject_trgm ON tickets_ticket USING gin (UPPER(subject) gin_trgm_ops) "
    "WHERE status IN ('new', 'open', 'pending', 'on_hold')",
]
DROP = ["DROP INDEX IF EXISTS tickets_open_subject_trgm"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_permissions")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
