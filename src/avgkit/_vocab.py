"""One base for avgkit's bilingual vocabularies (private).

A vocabulary is a :class:`~enum.StrEnum` whose members carry their texts where they are
declared: a label in Dutch and in English and, where the vocabulary stands for GDPR
provisions, the article::

    class LawfulBasis(WithArticle):
        CONSENT = Term("consent", nl="Toestemming", en="Consent", article="Art. 6(1)(a)")

The member's value is the term's value (``LawfulBasis("consent")``, ``str(member)`` and
storage are unchanged); a member declared without its texts is refused when the class is
made, so a missing label cannot surface later in a report.
"""

from __future__ import annotations

import enum
from typing import Self

import attrs

from avgkit._render import Lang, language


@attrs.frozen
class Term:
    """A member's value and texts: Dutch and English labels and, if it has one, its article.

    Not a tuple on purpose: :mod:`enum` would spread a tuple over ``__new__``'s arguments.
    """

    value: str
    nl: str = attrs.field(kw_only=True)
    en: str = attrs.field(kw_only=True)
    article: str | None = attrs.field(default=None, kw_only=True)


class Bilingual(enum.StrEnum):
    """A vocabulary member with a label in Dutch and in English."""

    _value_: str
    _term: Term

    # ``str`` is in the signature for lookups by value (``Kind("value")``), which enum routes
    # elsewhere; a member itself must be declared with a Term.
    def __new__(cls, term: str | Term) -> Self:
        if not isinstance(term, Term):
            msg = f"{cls.__name__} members are declared as Term(value, nl=..., en=...)"
            raise TypeError(msg)
        if (term.article is None) == issubclass(cls, WithArticle):
            msg = (
                f"{cls.__name__}.{term.value}: members of a WithArticle vocabulary need an "
                "article, and only those have one"
            )
            raise TypeError(msg)
        member = str.__new__(cls, term.value)
        member._value_ = term.value
        member._term = term  # noqa: SLF001 - the member this __new__ is making
        return member

    def label(self, lang: Lang = "en") -> str:
        """A human-readable label in ``lang`` (``"nl"`` or ``"en"``)."""
        return self._term.nl if language(lang) == "nl" else self._term.en


class WithArticle(Bilingual):
    """A bilingual vocabulary member that stands for a GDPR article."""

    @property
    def article(self) -> str:
        """The GDPR article this member stands for, e.g. ``"Art. 6(1)(a)"``."""
        article = self._term.article
        if article is None:  # pragma: no cover - refused when the member is declared
            raise AttributeError(self.value)
        return article
