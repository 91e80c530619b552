"""``.ci/check_safe.py``: every |safe, mark_safe, ... is on the allow-list with a reason, and nothing new slips in."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "check_safe.py"
SCANNED = ("templates", "config", "core", "customers", "knowledge", "tickets", "outreach", "playbooks")


def run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True)


def copy_of_the_repository(tmp_path: Path) -> Path:
    for name in SCANNED:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "safe_allowlist.toml", tmp_path / ".ci" / "safe_allowlist.toml")
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_repository_passes():
    result = run(ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_new_safe_filter_in_a_template_fails(tmp_path):
    root = copy_of_the_repository(tmp_path)
    article = root / "templates" / "knowledge" / "help_article.html"
    article.write_text(article.read_text().replace("{{ article.body_html|sanitized }}", "{{ article.body_html|safe }}"))

    result = run(root)

    assert result.returncode == 1
    assert "templates/knowledge/help_article.html:12: {{ article.body_html|safe }}" in result.stderr
    assert "check_safe: 1 problem(s)" in result.stderr


def test_each_kind_of_unescaped_output_is_found(tmp_path):
    a_html = "{{ a|safe }}\n{{ b | safeseq }}\n{% autoescape off %}x{% endautoescape %}"
    write(tmp_path / "templates" / "a.html", a_html)
    write(tmp_path / "templates" / "b.html", "{% filter safe %}{{ c }}{% endfilter %}{{ fine|escape }}{{ safety }}")
    write(
        tmp_path / "core" / "views.py",
        "from django.utils.html import format_html\n"
        "from django.utils.safestring import mark_safe, SafeString\n"
        "from django.template import Engine\n"
        "x = mark_safe(value)\n"
        "y = SafeString(value)\n"
        "z = format_html(fmt, value)\n"
        "ok = format_html('<b>{}</b>', value)\n"
        "e = Engine(autoescape=False)\n"
        "class Box:\n"
        "    def __html__(self):\n"
        "        return self.raw\n",
    )
    write(tmp_path / "core" / "migrations" / "0001_x.py", "mark_safe(value)\n")

    result = run(tmp_path)

    assert result.returncode == 1
    found = [line for line in result.stderr.splitlines() if not line.startswith(" ")]
    assert found == [
        "templates/a.html:1: {{ a|safe }}",
        "templates/a.html:2: {{ b | safeseq }}",
        "templates/a.html:3: {% autoescape off %}",
        "templates/b.html:1: {% filter safe %}",
        "core/views.py:4: mark_safe(value)",
        "core/views.py:5: SafeString(value)",
        "core/views.py:6: format_html(fmt, value)",
        "core/views.py:8: Engine(autoescape=False)",
        "core/views.py:10: def __html__",
        "check_safe: 9 problem(s)",
    ]


def test_an_entry_with_a_reason_allows_it_and_one_without_or_one_that_matches_nothing_fails(tmp_path):
    write(tmp_path / "templates" / "a.html", "<p>{{ a|safe }}</p>")
    allowlist = tmp_path / ".ci" / "safe_allowlist.toml"

    write(allowlist, '[[allow]]\npath = "templates/a.html"\ncode = "{{ a|safe }}"\nreason = "a is a constant"\n')
    assert run(tmp_path).returncode == 0

    write(allowlist, '[[allow]]\npath = "templates/a.html"\ncode = "{{ a|safe }}"\nreason = " "\n')
    result = run(tmp_path)
    assert result.returncode == 1
    assert "has no reason" in result.stderr

    write(allowlist, '[[allow]]\npath = "templates/gone.html"\ncode = "{{ a|safe }}"\nreason = "old"\n')
    result = run(tmp_path)
    assert result.returncode == 1
    assert "templates/gone.html: {{ a|safe }} is no longer found; remove the entry" in result.stderr
    assert "templates/a.html:1: {{ a|safe }}" in result.stderr
