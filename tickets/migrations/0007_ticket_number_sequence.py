"""Ticket numbers from a database sequence instead of one locked counter row.

The counter row was locked by every ticket creation until its transaction committed, so all ticket
creation in the system took turns (and waited while a slow create wrote its attachments). A
PostgreSQL sequence hands out the next value without a lock that lasts past the call; SQLite gets
an AUTOINCREMENT table, whose insert takes only the writer lock that the ticket insert takes anyway.

The sequence starts after the highest number in use (the counter's or a ticket's, whichever is
higher), so references stay unique and continue where they were. Reversing fills the counter row
with the highest number again.
"""

from django.db import migrations
from django.db.models import Max

SEQUENCE = "tickets_ticket_number_seq"
FIRST_NUMBER = 1001  # references start at #1001, as the counter's default of 1000 did


def _last_number(apps) -> int:
    Ticket = apps.get_model("tickets", "Ticket")
    numbers = [Ticket.objects.aggregate(last=Max("number"))["last"] or 0, FIRST_NUMBER - 1]
    if "TicketCounter" in {model.__name__ for model in apps.get_app_config("tickets").get_models()}:
        numbers.append(
            apps.get_model("tickets", "TicketCounter").objects.aggregate(last=Max("last_number"))["last"] or 0
        )
    return max(numbers)


def sequence_create(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        # no ticket may be numbered between reading the highest number and creating the sequence
        schema_editor.execute("LOCK TABLE tickets_ticket IN SHARE ROW EXCLUSIVE MODE")
        start = _last_number(apps) + 1
        schema_editor.execute(f"CREATE SEQUENCE {SEQUENCE} START WITH {int(start)} MINVALUE 1")
    else:
        start = _last_number(apps) + 1
        schema_editor.execute(f'CREATE TABLE "{SEQUENCE}" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT)')
        schema_editor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [SEQUENCE, start - 1])


def sequence_drop(apps, schema_editor) -> None:
    TicketCounter = apps.get_model("tickets", "TicketCounter")
    connection = schema_editor.connection
    last = _last_number(apps)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # numbers handed out but not used (a rolled-back create) stay used
            cursor.execute(f"SELECT last_value, is_called FROM {SEQUENCE}")  # noqa: S608 - a constant name
            value, called = cursor.fetchone()
        last = max(last, value if called else value - 1)
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [SEQUENCE])
            row = cursor.fetchone()
        last = max(last, row[0] if row else 0)
        schema_editor.execute(f'DROP TABLE IF EXISTS "{SEQUENCE}"')
    TicketCounter.objects.update_or_create(pk=1, defaults={"last_number": last})


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0006_merge_20261202_2128"),
    ]

    operations = [
        migrations.RunPython(sequence_create, sequence_drop),
        migrations.DeleteModel(name="TicketCounter"),
    ]
