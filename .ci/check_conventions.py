#!/usr/bin/env python3
"""Conventions of DESIGN.md, checked on the syntax tree (a grep misses ``help_views.py`` and ``apply_async``).

1. Views read through selectors and write through services. In a views module (any ``*views*.py`` of an
   app, the API's ``api/views.py`` included) nothing touches a model's manager: no ``Model.objects...``,
   ``Model._default_manager``/``_base_manager`` and no ``get_object_or_404``/``get_list_or_404``.
2. Services enqueue on commit. In a services module (``<app>/services.py``, ``<app>/services/*.py``) a task is
   sent (``.delay(...)``, ``.apply_async(...)``, ``.send_task(...)``) only inside the callable handed to
   ``transaction.on_commit(...)``; ``task.delay_on_commit(...)`` is the other way. A task sent before the
   transaction commits can run before its rows exist, or for rows a rollback removed.
3. The helpdesk's settings are read with ``core.conf.helpdesk_setting(name)``: outside ``core/conf.py`` and
   ``config/`` nothing reads ``settings.HELPDESK``, so no module keeps its own reader or its own defaults.

A line that must break a rule says why on the line: ``# conventions: allowed, <reason>``.

    python3 .ci/check_conventions.py            # from the repository root; exit 1 on a problem
    python3 .ci/check_conventions.py --root DIR
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

APPS = ("config", "core", "customers", "knowledge", "tickets", "outreach", "playbooks")
MANAGERS = {"objects", "_default_manager", "_base_manager"}
SHORTCUTS = {"get_object_or_404", "get_list_or_404"}
SENDS = {"delay", "apply_async", "send_task"}
ALLOWED = re.compile(r"#\s*conventions:\s*allowed,\s*\S")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _modules(root: Path) -> Iterator[tuple[Path, str]]:
    for app in APPS:
        folder = root / app
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if "/migrations/" in relative or "__pycache__" in relative:
                continue
            yield path, relative


def is_views_module(relative: str) -> bool:
    return "views" in relative.rsplit("/", 1)[-1]


def is_services_module(relative: str) -> bool:
    parts = relative.split("/")
    return parts[1] == "services.py" or (len(parts) > 2 and parts[1] == "services")


def _name(node: ast.expr) -> str:
    """``transaction.on_commit`` -> ``on_commit``; ``get_object_or_404`` -> itself."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def view_problems(tree: ast.AST, relative: str) -> Iterator[Problem]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in MANAGERS:
            yield Problem(relative, node.lineno, f"a view reads the ORM ({node.attr}): go through a selector")
        elif isinstance(node, ast.Call) and _name(node.func) in SHORTCUTS:
            yield Problem(relative, node.lineno, f"a view reads the ORM ({_name(node.func)}): go through a selector")


def service_problems(tree: ast.AST, relative: str) -> Iterator[Problem]:
    def visit(node: ast.AST, on_commit: bool) -> Iterator[Problem]:
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in SENDS and not on_commit:
                yield Problem(
                    relative,
                    node.lineno,
                    f"a service sends a task (.{node.func.attr}) before the commit: "
                    "wrap it in transaction.on_commit or use delay_on_commit",
                )
            if _name(node.func) == "on_commit":
                yield from visit(node.func, on_commit)
                for argument in [*node.args, *(k.value for k in node.keywords)]:
                    yield from visit(argument, True)
                return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, on_commit)

    yield from visit(tree, False)


def is_settings_reader(relative: str) -> bool:
    return relative == "core/conf.py" or relative.startswith("config/")


def settings_problems(tree: ast.AST, relative: str) -> Iterator[Problem]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "HELPDESK":
            yield Problem(relative, node.lineno, "reads settings.HELPDESK: use core.conf.helpdesk_setting(name)")


def check(root: Path) -> list[Problem]:
    problems: list[Problem] = []
    for path, relative in _modules(root):
        rules = [rule for test, rule in ((is_views_module, view_problems), (is_services_module, service_problems))
                 if test(relative)]  # fmt: skip
        if not is_settings_reader(relative):
            rules.append(settings_problems)
        if not rules:
            continue
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=relative)
        lines = source.splitlines()
        for rule in rules:
            problems += [p for p in rule(tree, relative) if not ALLOWED.search(lines[p.line - 1])]
    return sorted(set(problems), key=lambda p: (p.path, p.line, p.message))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    problems = check(args.root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"check_conventions: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
