"""The README's code blocks by scenario: each fenced block sits under ``<!-- readme-test: <scenario> -->``
and is run, verbatim, by that scenario's test (``tests/readme/``, and ``install`` in ``tests/packaging/``)."""

from __future__ import annotations

import re

from tests.support import REPO

README = REPO / "README.md"
TAGGED = re.compile(r"^<!-- readme-test: (?P<tag>[a-z-]+) -->\n```(?P<language>\w+)\n(?P<code>.*?)^```$", re.M | re.S)
FENCE = re.compile(r"^```(?:\w+)$", re.M)  # an opening fence: a language named


def tagged_blocks() -> list[tuple[str, str, str]]:
    """``(scenario, language, code)`` of every tagged block, in README order."""
    return [(m["tag"], m["language"], m["code"]) for m in TAGGED.finditer(README.read_text(encoding="utf-8"))]


def opening_fences() -> int:
    """How many code blocks the README has (each opens with a fence naming its language)."""
    return len(FENCE.findall(README.read_text(encoding="utf-8")))


def blocks(scenario: str) -> list[str]:
    """The code of ``scenario``'s blocks, in README order (at least one)."""
    found = [code for tag, _, code in tagged_blocks() if tag == scenario]
    assert found, f"README.md has no block tagged readme-test: {scenario}"
    return found
