"""The code blocks of the README and of the documentation site (``docs/``) by scenario: each fenced block
sits under ``<!-- readme-test: <scenario> -->`` and is run, verbatim, by that scenario's test
(``tests/readme/``, ``install`` in ``tests/packaging/``, ``consumer`` in ``tests/extraction/``). The site
includes the README's blocks and ``dags_examples/`` with directives, which hold no fence of their own."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
TAGGED = re.compile(r"^<!-- readme-test: (?P<tag>[a-z-]+) -->\n```(?P<language>\w+)\n(?P<code>.*?)^```$", re.M | re.S)
FENCE = re.compile(r"^```(?:\w+)$", re.M)  # an opening fence naming a language; not ```{directive}


def documents() -> list[Path]:
    """The README, then every Markdown page of the site's sources (not its build)."""
    return [README, *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.relative_to(DOCS).parts)]


def tagged_blocks() -> list[tuple[str, str, str, Path]]:
    """``(scenario, language, code, document)`` of every tagged block, in document order."""
    return [
        (m["tag"], m["language"], m["code"], document)
        for document in documents()
        for m in TAGGED.finditer(document.read_text(encoding="utf-8"))
    ]


def untagged_fences() -> list[Path]:
    """A document once per code block of it that no ``readme-test`` tag names."""
    missing: list[Path] = []
    for document in documents():
        text = document.read_text(encoding="utf-8")
        missing += [document] * (len(FENCE.findall(text)) - len(TAGGED.findall(text)))
    return missing


def blocks(scenario: str) -> list[str]:
    """The code of ``scenario``'s blocks, in document order (at least one)."""
    found = [code for tag, _, code, _ in tagged_blocks() if tag == scenario]
    assert found, f"no block of README.md or docs/ is tagged readme-test: {scenario}"
    return found
