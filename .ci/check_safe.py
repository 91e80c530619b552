#!/usr/bin/env python3
"""Every place where text reaches HTML unescaped, checked against an allow-list where each entry has a reason.

Found in the templates (``templates/`` and ``<app>/templates/``): the ``safe`` and ``safeseq`` filters,
``{% autoescape off %}`` and ``{% filter safe %}``. Found in the apps' Python (not migrations):
``mark_safe(...)``, ``SafeString(...)``/``SafeText(...)``, ``format_html(...)``/``format_html_join(...)``
whose format is not a string literal, ``autoescape=False`` (a template engine or context that does not
escape) and classes that define ``__html__``.

A template shows HTML that a person wrote with ``|sanitized`` (``core.templatetags.sanitize``), never
``|safe``. Anything else on the list above must be in ``.ci/safe_allowlist.toml`` with the file, the code
(whitespace collapsed) and why it cannot carry markup from a person. The check fails on a finding that
is not on the list, on an entry without a reason, and on an entry that matches nothing any more.

    python3 .ci/check_safe.py            # from the repository root; exit 1 on a problem
    python3 .ci/check_safe.py --list     # every finding, allowed or not
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

APPS = ("config", "core", "customers", "knowledge", "tickets", "outreach", "playbooks")
ALLOWLIST = Path(".ci/safe_allowlist.toml")
MARKING_CALLS = {"mark_safe", "SafeString", "SafeText"}
FORMAT_CALLS = {"format_html": 0, "format_html_join": 1}  # the position of the format argument

TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
SAFE_FILTER = re.compile(r"\|\s*safe(seq)?\b")
AUTOESCAPE_OFF = re.compile(r"\{%-?\s*autoescape\s+off\b")
FILTER_SAFE = re.compile(r"\{%-?\s*filter\b[^%]*\bsafe(seq)?\b")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    code: str

    @property
    def key(self) -> tuple[str, str]:
        return self.path, self.code


def _collapse(text: str) -> str:
    return " ".join(text.split())


def template_files(root: Path) -> list[Path]:
    folders = [root / "templates", *(root / app / "templates" for app in APPS)]
    return sorted(p for folder in folders if folder.is_dir() for p in folder.rglob("*") if p.is_file())


def python_files(root: Path) -> list[Path]:
    files = []
    for app in APPS:
        folder = root / app
        if folder.is_dir():
            files += [p for p in folder.rglob("*.py") if "migrations" not in p.relative_to(root).parts]
    return sorted(files)


def scan_template(path: Path, root: Path) -> list[Finding]:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = []
    for match in TAG.finditer(text):
        tag = match.group(0)
        if SAFE_FILTER.search(tag) or AUTOESCAPE_OFF.match(tag) or FILTER_SAFE.match(tag):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Finding(str(path.relative_to(root)), line, _collapse(tag)))
    return found


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_literal(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def scan_python(path: Path, root: Path) -> list[Finding]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    found = []
    relative = str(path.relative_to(root))

    def add(node: ast.AST, code: str | None = None) -> None:
        segment = code if code is not None else ast.get_source_segment(source, node) or ""
        found.append(Finding(relative, node.lineno, _collapse(segment)))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in MARKING_CALLS:
                add(node)
            elif name in FORMAT_CALLS:
                position = FORMAT_CALLS[name]
                if not _is_literal(node.args[position] if len(node.args) > position else None):
                    add(node)
            if any(
                k.arg == "autoescape" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords
            ):
                add(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "__html__":
            add(node, code="def __html__")
    return found


def findings(root: Path) -> list[Finding]:
    result = []
    for path in template_files(root):
        result += scan_template(path, root)
    for path in python_files(root):
        result += scan_python(path, root)
    return result


def load_allowlist(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open("rb") as handle:
        return tomllib.load(handle).get("allow", [])


def problems(root: Path, allowlist_path: Path) -> list[str]:
    entries = load_allowlist(allowlist_path)
    allowed = {(e.get("path", ""), _collapse(e.get("code", ""))): e for e in entries}
    out = []
    for entry in entries:
        if not str(entry.get("reason", "")).strip():
            out.append(f"{allowlist_path}: the entry for {entry.get('path')}: {entry.get('code')} has no reason")
    seen = set()
    for finding in findings(root):
        seen.add(finding.key)
        if finding.key not in allowed:
            out.append(
                f"{finding.path}:{finding.line}: {finding.code}\n"
                "    marks text safe without an allow-list entry: show a person's HTML with |sanitized, or add it "
                f"to {allowlist_path} with the reason it cannot carry markup from a person"
            )
    for key in allowed:
        if key not in seen:
            out.append(f"{allowlist_path}: {key[0]}: {key[1]} is no longer found; remove the entry")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root (default: here)")
    parser.add_argument("--allowlist", type=Path, help=f"default: <root>/{ALLOWLIST}")
    parser.add_argument("--list", action="store_true", help="print every finding")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    allowlist_path = args.allowlist or root / ALLOWLIST
    if args.list:
        for finding in findings(root):
            print(f"{finding.path}:{finding.line}: {finding.code}")
    found = problems(root, allowlist_path)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print(f"check_safe: {len(found)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
