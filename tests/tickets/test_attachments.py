"""Attachments: the bytes are checked (puremagic), and a rolled-back message leaves no file behind (#9, Also)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from core.exceptions import ApplicationError
from tests.factories import AgentFactory
from tests.tickets.factories import make_ticket
from tickets.models import Attachment, Message
from tickets.services import attachments_validate, ticket_reply

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"1 0 obj\n" * 4
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 40
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _file(name: str, data: bytes, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("screen.png", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        ("invoice.pdf", PDF, "application/pdf"),
        ("report.docx", ZIP, DOCX),
        ("logs.zip", ZIP, "application/zip"),
        ("notes.txt", "Grüße: the export fails at 42 %".encode(), "text/plain"),
        ("rows.csv", b"id,name\n1,Ada\n", "text/csv"),
        ("data.json", b'{"error": 42}', "application/json"),
        ("empty.txt", b"", "text/plain"),
    ],
)
def test_files_whose_bytes_match_their_type_are_accepted(name, data, content_type):
    attachments_validate(files=[_file(name, data, content_type)])


@pytest.mark.parametrize(
    ("name", "data", "content_type", "why"),
    [
        ("screen.png", HTML, "image/png", "not really image/png"),  # HTML behind an image name
        ("invoice.pdf", EXE, "application/pdf", "not really application/pdf"),  # a program called a PDF
        ("photo.png", JPEG, "image/png", "not really image/png"),  # the wrong image
        ("report.docx", PDF, DOCX, "not really"),  # not a zip at all
        ("notes.txt", HTML, "text/plain", "not really text/plain"),  # markup as text
        ("notes.txt", SVG, "text/plain", "not really text/plain"),
        ("notes.txt", b"text\x00with\x00nul", "text/plain", "not really text/plain"),
        ("notes.txt", b"\xff\xfe\xfa binary" * 20, "text/plain", "not really text/plain"),
        ("photo.png", PNG, "image/jpeg", "does not match"),  # the name says one type, the header another
        ("page.txt", PNG, "image/png", "does not match"),
    ],
)
def test_files_whose_bytes_or_name_disagree_with_their_type_are_refused(name, data, content_type, why):
    with pytest.raises(ApplicationError, match=why) as raised:
        attachments_validate(files=[_file(name, data, content_type)])
    assert raised.value.extra["attachment"] == name


@pytest.mark.django_db
def test_a_reply_with_a_disguised_file_is_refused_and_nothing_is_written():
    agent = AgentFactory()
    ticket = make_ticket()
    with pytest.raises(ApplicationError, match="look like text/html"):
        ticket_reply(ticket=ticket, author=agent, body="See", attachments=[_file("a.png", HTML, "image/png")])
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert Attachment.objects.count() == 0


# --- writing on commit, with real transactions -------------------------------------------------------------


def _media_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT) / "tickets"
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_reply_leaves_no_file_and_no_row():
    agent = AgentFactory()
    ticket = make_ticket()
    before = _media_files()
    names = []

    def reply_then_fail():
        with transaction.atomic():
            message = ticket_reply(
                ticket=ticket, author=agent, body="See", attachments=[_file("a.png", PNG, "image/png")]
            )
            names.append(message.attachments.get().file.name)
            raise RuntimeError("something later in the same transaction failed")

    with pytest.raises(RuntimeError):
        reply_then_fail()
    name = names[0]
    assert Attachment.objects.count() == 0
    assert not default_storage.exists(name)
    assert _media_files() == before


@pytest.mark.django_db(transaction=True)
def test_a_committed_reply_writes_the_bytes_under_the_rows_name():
    agent = AgentFactory()
    ticket = make_ticket()
    message = ticket_reply(ticket=ticket, author=agent, body="See", attachments=[_file("a.png", PNG, "image/png")])
    attachment = message.attachments.get()
    with attachment.file.open("rb") as handle:
        assert handle.read() == PNG
    default_storage.delete(attachment.file.name)


@pytest.mark.django_db(transaction=True)
def test_a_file_that_cannot_be_written_takes_its_row_with_it(monkeypatch):
    agent = AgentFactory()
    ticket = make_ticket()

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(FileSystemStorage, "save", disk_full)
    message = ticket_reply(ticket=ticket, author=agent, body="See", attachments=[_file("a.png", PNG, "image/png")])
    assert Message.objects.filter(pk=message.pk).exists()
    assert Attachment.objects.count() == 0
