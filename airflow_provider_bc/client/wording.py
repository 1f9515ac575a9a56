"""A count said with its noun in the right number ("1 file", "2 files", "1 entry", "3 entries"), for log
lines and messages; in the client's shared vocabulary so every layer can use it. Imports nothing."""

from __future__ import annotations

_SIBILANT = ("s", "x", "z", "ch", "sh")


def plural(noun: str) -> str:
    """``noun``'s regular English plural: ``entry`` -> ``entries``, ``day`` -> ``days``, ``batch`` -> ``batches``."""
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(_SIBILANT):
        return noun + "es"
    return noun + "s"


def word_for(count: int, noun: str, nouns: str | None = None) -> str:
    """``noun`` for a ``count`` of exactly 1, else ``nouns`` (default: :func:`plural` of ``noun``)."""
    return noun if count == 1 else nouns or plural(noun)


def counted(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` (thousands grouped: ``20,001``) and its noun as :func:`word_for` gives it:
    ``counted(1, "file")`` is ``"1 file"``, ``counted(0, "file")`` ``"0 files"``."""
    return f"{count:,} {word_for(count, noun, nouns)}"
