"""Import product-usage events from a CSV or JSON-lines file (a team's history export).

    manage.py import_events events.csv                  # columns: event_id, customer, kind, occurred_at, properties
    manage.py import_events events.jsonl --customer-key email

``customer`` is the customer's ``external_id`` (default), ``email`` or ``id``; ``properties`` is a JSON
object (a JSON string in a CSV column). Rows go through the same service as ``POST /api/v1/events/``
(``customer_events_ingest``, idempotent by ``event_id``; customers and duplicates resolved for the whole
batch), a batch at a time, with a progress bar on stderr. The service's per-row results are counted:
bad rows and unknown customers are reported by line and skipped; nothing else is lost, and running the
same file again adds nothing.
"""

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from customers.services import customer_events_ingest

KEYS = {"external_id": "external_id", "email": "email", "id": "pk"}


class Progress:
    """A one-line bar by bytes read, redrawn at most every 1% (stderr, so stdout stays parseable)."""

    def __init__(self, total: int, stream: Any) -> None:
        self.total, self.stream, self.shown = max(total, 1), stream, -1  # a command's OutputWrapper

    def update(self, done: int, rows: int) -> None:
        percent = min(100, done * 100 // self.total)
        if percent != self.shown:
            self.shown = percent
            bar = "#" * (percent // 4)
            self.stream.write(f"\r[{bar:<25}] {percent:3d}%  {rows:,} rows", ending="")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("")


def _rows(handle: io.TextIOBase, fmt: str) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, row or None, error) per record."""
    if fmt == "csv":
        reader = csv.DictReader(handle)
        missing = {"event_id", "customer", "kind", "occurred_at"} - set(reader.fieldnames or [])
        if missing:
            raise CommandError(f"The CSV header lacks: {', '.join(sorted(missing))}.")
        for row in reader:
            yield reader.line_num, row, ""
        return
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not JSON ({exc.msg})"
            continue
        if not isinstance(value, dict):
            yield number, None, "not a JSON object"
            continue
        yield number, value, ""


def _clean(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    event_id = str(row.get("event_id") or "").strip()
    kind = str(row.get("kind") or "").strip()
    customer = str(row.get("customer") or "").strip()
    if not event_id or len(event_id) > 128:
        return None, "event_id is missing or longer than 128 characters"
    if not kind or len(kind) > 64:
        return None, "kind is missing or longer than 64 characters"
    if not customer:
        return None, "customer is missing"
    raw_time = row.get("occurred_at")
    occurred_at = parse_datetime(str(raw_time or "").strip())
    if occurred_at is None:
        return None, f"occurred_at {raw_time!r} is not an ISO date-time"
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=dt.UTC)
    properties = row.get("properties") or {}
    if isinstance(properties, str):
        try:
            properties = json.loads(properties) if properties.strip() else {}
        except json.JSONDecodeError:
            return None, "properties is not JSON"
    if not isinstance(properties, dict):
        return None, "properties is not a JSON object"
    return {
        "event_id": event_id,
        "kind": kind,
        "customer": customer,
        "occurred_at": occurred_at,
        "properties": properties,
    }, ""


class Command(BaseCommand):
    help = "Import product-usage events from a CSV or JSON-lines file, idempotently by event_id."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path")
        parser.add_argument("--format", choices=["csv", "jsonl"], help="Default: from the file's extension.")
        parser.add_argument("--customer-key", choices=sorted(KEYS), default="external_id")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        fmt = options["format"] or ("csv" if path.lower().endswith(".csv") else "jsonl")
        if not os.path.isfile(path):
            raise CommandError(f"No such file: {path}")
        size = options["batch_size"]
        if not 1 <= size <= 10_000:
            raise CommandError("--batch-size is 1 to 10000.")
        key = KEYS[options["customer_key"]]
        totals = {"created": 0, "duplicates": 0, "skipped": 0}
        errors: list[tuple[int, str]] = []
        progress = None if options["no_progress"] else Progress(os.path.getsize(path), self.stderr)
        rows_seen = 0

        lookup_key = {"external_id": "customer_external_id", "email": "customer_email", "pk": "customer_id"}[key]

        def flush(batch: list[tuple[int, dict[str, Any]]]) -> None:
            if not batch:
                return
            events: list[dict[str, Any]] = []
            typed: dict[int, str] = {}
            for number, row in batch:
                typed[number] = row.pop("customer")
                value: Any = typed[number]
                if key == "pk":
                    value = int(value) if value.isdigit() else -1  # not an id: no such customer
                events.append({**row, lookup_key: value, "index": number})
            result = customer_events_ingest(events=events)
            for item in result.results:
                if item.status == "accepted":
                    totals["created"] += 1
                elif item.status == "duplicate":
                    totals["duplicates"] += 1
                else:
                    totals["skipped"] += 1
                    wanted = typed[item.index]
                    if item.status == "unknown_customer":
                        errors.append((item.index, f"no customer with {options['customer_key']} {wanted!r}"))
                    else:
                        errors.append((item.index, "; ".join(f"{k}: {v}" for k, v in item.errors.items())))

        with open(path, encoding="utf-8", newline="") as handle:
            batch: list[tuple[int, dict[str, Any]]] = []
            for number, raw, error in _rows(handle, fmt):
                rows_seen += 1
                row, error = (None, error) if raw is None else _clean(raw)
                if row is None:
                    totals["skipped"] += 1
                    errors.append((number, error))
                else:
                    batch.append((number, row))
                if len(batch) >= size:
                    flush(batch)
                    batch = []
                    if progress:
                        progress.update(handle.buffer.tell() if hasattr(handle, "buffer") else 0, rows_seen)
            flush(batch)
        if progress:
            progress.update(os.path.getsize(path), rows_seen)
            progress.close()
        for number, error in sorted(errors)[:20]:
            self.stderr.write(f"line {number}: {error}")
        if len(errors) > 20:
            self.stderr.write(f"... and {len(errors) - 20} more")
        self.stdout.write(
            f"{rows_seen} rows: {totals['created']} events created, {totals['duplicates']} already there, "
            f"{totals['skipped']} skipped"
        )
