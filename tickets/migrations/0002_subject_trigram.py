"""Free-text search over subjects at 1M tickets: a trigram GIN index (PostgreSQL only).

``subject__icontains`` compiles to ``UPPER(subject) LIKE UPPER(%s)`` on PostgreSQL,
so the index is on ``UPPER(subject)``. SQLite keeps its plain LIKE scan.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    'CREATE INDEX IF NOT EXISTS tickets_subject_trgm ON tickets_ticket USING gin (UPPER("subject") gin_trgm_ops)',
]
DROP = ["DROP INDEX IF EXISTS tickets_subject_trgm"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
