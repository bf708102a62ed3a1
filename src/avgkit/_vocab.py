"""One base for avgkit's bilingual vocabularies (private).

A vocabulary is a :class:`~enum.StrEnum` whose members carry labels in Dutch and English
and, where the vocabulary stands for GDPR provisions, the article. The texts live in one
table per module, handed to :func:`define`, which checks that every member has them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, NamedTuple

from avgkit._render import Lang, language


class Terms(NamedTuple):
    """A member's texts: its Dutch and English labels and, if it has one, its article."""

    nl: str
    en: str
    article: str | None = None


class Bilingual(enum.StrEnum):
    """A vocabulary member with a label in Dutch and in English."""

    def label(self, lang: Lang = "en") -> str:
        """A human-readable label in ``lang`` (``"nl"`` or ``"en"``)."""
        terms = _TERMS[type(self), self.value]
        return terms.nl if language(lang) == "nl" else terms.en


class WithArticle(Bilingual):
    """A bilingual vocabulary member that stands for a GDPR article."""

    @property
    def article(self) -> str:
        """The GDPR article this member stands for, e.g. ``"Art. 6(1)(a)"``."""
        article = _TERMS[type(self), self.value].article
        if article is None:  # pragma: no cover - define() refuses a table without it
            raise LookupError(self.value)
        return article


# Keyed by (enum, value): members of different enums share values ("vital_interests") and,
# being str, would collide as plain keys.
_TERMS: Final[dict[tuple[type[Bilingual], str], Terms]] = {}


def key(member: Bilingual) -> tuple[type[Bilingual], str]:
    """The table key of ``member``: its enum and its value."""
    return type(member), member.value


def define(table: Mapping[tuple[type[Bilingual], str], Terms]) -> None:
    """Record the texts of one or more vocabularies, each of which must be complete.

    Raises:
        TypeError: a member of a vocabulary in ``table`` has no entry, an entry is not a
            member, or a :class:`WithArticle` member has no article (a programming error).
    """
    for kind in {kind for kind, _ in table}:
        missing = [m.value for m in kind if (kind, m.value) not in table]
        values = {m.value for m in kind}
        unknown = [value for k, value in table if k is kind and value not in values]
        bare = [m.value for m in kind if issubclass(kind, WithArticle) and not _has(table, m)]
        if missing or unknown or bare:
            msg = (
                f"{kind.__name__}: texts missing for {missing}, unknown values {unknown}, "
                f"article missing for {bare}"
            )
            raise TypeError(msg)
    _TERMS.update(table)


def _has(table: Mapping[tuple[type[Bilingual], str], Terms], member: Bilingual) -> bool:
    terms = table.get(key(member))
    return terms is not None and terms.article is not None
