"""Writing many rows at once, where the ORM's own way costs a statement (or a CASE) per row."""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def rows_update(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Save ``fields`` of ``rows`` (one model) as they are on the objects, in one statement.

    On PostgreSQL ``UPDATE ... FROM unnest(...)``, each column one array: ``bulk_update``'s CASE per column
    and row took 1.4 s for 100 rows on a loaded 2-core box. Elsewhere ``bulk_update``."""
    if not rows:
        return
    model = type(rows[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, list(fields))
        return
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    columns = [str(f.column) for f in concrete]  # type: ignore[union-attr]
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in concrete)  # type: ignore[union-attr]
    sets = ", ".join(f'"{c}" = v."{c}"' for c in columns)
    table, pk = meta.db_table, meta.pk.column  # type: ignore[union-attr]
    names = ", ".join(f'"{c}"' for c in columns)
    sql = (
        f'UPDATE "{table}" SET {sets} FROM unnest(%s::bigint[], {arrays}) AS v(id, {names}) '  # noqa: S608
        f'WHERE "{table}"."{pk}" = v.id'
    )  # (names from the model)
    values = [[r.pk for r in rows]] + [
        [f.get_db_prep_value(getattr(r, f.attname), connection) for r in rows]  # type: ignore[union-attr]
        for f in concrete
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
