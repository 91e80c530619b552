"""``.ci/check_conventions.py``: views read through selectors, services send tasks only on commit, settings
are read through ``core.conf``."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "check_conventions.py"


def run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True)


def write(root: Path, relative: str, code: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code), encoding="utf-8")


def test_the_repository_passes():
    result = run(ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("relative", "line"),
    [
        ("tickets/ticket_views.py", "ticket = Ticket.objects.get(pk=ticket_id)"),
        ("tickets/help_views.py", "tickets = Ticket.objects.filter(requester=customer)"),  # the grep missed it
        ("tickets/team_views.py", "count = Queue.objects.count()"),
        ("playbooks/api/views.py", "runs = PlaybookRun._default_manager.all()"),
        ("knowledge/api/views.py", "article = get_object_or_404(Article, slug=slug)"),
        ("outreach/views.py", "Template.objects.create(name=name)"),
    ],
)
def test_a_view_that_reads_the_orm_fails(tmp_path, relative, line):
    write(tmp_path, relative, f"def view(request, ticket_id, customer, slug, name):\n    {line}\n")

    result = run(tmp_path)

    assert result.returncode == 1
    assert f"{relative}:2: a view reads the ORM" in result.stderr
    assert "check_conventions: 1 problem(s)" in result.stderr


def test_views_through_selectors_and_other_modules_pass(tmp_path):
    write(
        tmp_path,
        "tickets/queue_views.py",
        """
        from tickets import selectors

        def view(request, ticket_id):
            ticket = selectors.ticket_get_for(viewer=request.user, ticket_id=ticket_id)
            return ticket.messages.filter(internal=False)  # a related manager of an object a selector gave
        """,
    )
    # the rule is for views: selectors, serializers' related-field querysets and migrations use the ORM
    write(tmp_path, "tickets/selectors.py", "def ticket_get(pk):\n    return Ticket.objects.get(pk=pk)\n")
    write(tmp_path, "tickets/api/serializers.py", "queue = SlugRelatedField(queryset=Queue.objects.all())\n")
    write(tmp_path, "tickets/migrations/0009_x.py", "def forwards(apps, schema_editor):\n    Q.objects.all()\n")

    result = run(tmp_path)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("relative", "call"),
    [
        ("tickets/services/lifecycle.py", "send_notifications.delay(ticket.pk)"),
        ("customers/services/deliveries_planning.py", "send_deliveries.apply_async(args=[ids], queue='bulk')"),
        ("knowledge/services.py", "reindex.apply_async(args=[article.pk])"),
        ("outreach/services/fanout.py", "app.send_task('outreach.tasks.plan_fanout', args=[1])"),
    ],
)
def test_a_service_that_sends_a_task_before_the_commit_fails(tmp_path, relative, call):
    write(tmp_path, relative, f"def service(ticket, ids, article):\n    {call}\n")

    result = run(tmp_path)

    assert result.returncode == 1
    assert f"{relative}:2: a service sends a task" in result.stderr


def test_a_send_inside_a_plain_function_or_another_callback_still_fails(tmp_path):
    write(
        tmp_path,
        "tickets/services/sla.py",
        """
        from django.db import transaction

        def service(ticket):
            with transaction.atomic():
                ticket.save()
                scan.delay(ticket.pk)
            other_hook(lambda: scan.delay(ticket.pk))
        """,
    )

    result = run(tmp_path)

    assert result.returncode == 1
    assert "tickets/services/sla.py:7: a service sends a task (.delay)" in result.stderr
    assert "tickets/services/sla.py:8: a service sends a task (.delay)" in result.stderr
    assert "check_conventions: 2 problem(s)" in result.stderr


def test_sends_on_commit_pass(tmp_path):
    write(
        tmp_path,
        "outreach/services/campaigns.py",
        """
        import functools
        from django.db import transaction
        from django.db.transaction import on_commit

        def service(ids, queue):
            transaction.on_commit(lambda part=ids: send_deliveries.apply_async(args=[part], queue=queue))
            on_commit(functools.partial(send_deliveries.apply_async, args=[ids]))
            transaction.on_commit(
                lambda: send_deliveries.apply_async(args=[ids], queue=queue), using="default"
            )
            send_deliveries.delay_on_commit(ids)
        """,
    )
    # tasks, not services, may chain tasks directly
    write(tmp_path, "outreach/tasks.py", "def plan(ids):\n    send_deliveries.apply_async(args=[ids])\n")

    result = run(tmp_path)

    assert result.returncode == 0, result.stderr


def test_a_justified_exception_on_the_line_passes(tmp_path):
    write(
        tmp_path,
        "core/views.py",
        "def health(request):\n"
        "    User.objects.exists()  # conventions: allowed, the health check probes the database itself\n"
        "    User.objects.count()  # conventions: allowed,\n",
    )

    result = run(tmp_path)

    assert result.returncode == 1
    assert "core/views.py:3:" in result.stderr  # an exception names its reason
    assert "core/views.py:2:" not in result.stderr


@pytest.mark.parametrize(
    "relative", ["outreach/conf.py", "tickets/services/_common.py", "knowledge/search.py", "core/ratelimit.py"]
)
def test_a_module_reading_settings_helpdesk_itself_fails(tmp_path, relative):
    write(tmp_path, relative, "from django.conf import settings\n\nLIMIT = settings.HELPDESK.get('X', 3)\n")

    result = run(tmp_path)

    assert result.returncode == 1
    assert f"{relative}:3: reads settings.HELPDESK: use core.conf.helpdesk_setting(name)" in result.stderr


def test_the_settings_reader_and_the_settings_modules_pass(tmp_path):
    write(tmp_path, "core/conf.py", "def helpdesk_setting(name):\n    return settings.HELPDESK[name]\n")
    write(tmp_path, "config/settings/test.py", "HELPDESK = {**HELPDESK, 'X': 1}\nY = settings.HELPDESK\n")
    write(tmp_path, "outreach/rules.py", "from core.conf import helpdesk_setting\n\nCAP = helpdesk_setting('X')\n")

    result = run(tmp_path)

    assert result.returncode == 0, result.stderr
