"""Did-you-mean hints: the known name closest to a misspelt one (private).

Used by the policy-file reader and the value checks: ``legitimate_interest`` ->
``legitimate_interests``, ``DateOfBirth`` -> ``BirthDate``, ``basys`` -> ``basis``. Only
known names are ever returned, so a hint never repeats what was typed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Final

CUTOFF: Final = 0.75
"""How alike (difflib's ratio, 0 to 1) a name must be to be suggested."""

_WORD: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_FILLERS: Final = frozenset({"of", "the", "and", "a", "an"})


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _words(name: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(name)) - _FILLERS


def suggest(name: object, known: Iterable[str]) -> str | None:
    """The known name ``name`` most likely misspells, or ``None``.

    Tried in turn: the same letters ignoring case and separators (``email_address`` ->
    ``EmailAddress``); the same words in another order (``DateOfBirth`` -> ``BirthDate``);
    the one known name with more words (``Email`` -> ``EmailAddress``); then the closest
    spelling (difflib, at least :data:`CUTOFF` alike).
    """
    if not isinstance(name, str) or not name or len(name) > 200:  # noqa: PLR2004
        return None
    choices = sorted(set(known))
    plain = _plain(name)
    for choice in choices:
        if _plain(choice) == plain and choice != name:
            return choice
    words = _words(name)
    if words:
        for choice in choices:
            if _words(choice) == words and choice != name:
                return choice
        wider = [choice for choice in choices if words < _words(choice)]
        if wider:  # several: too many to choose from, so no guess at all
            return wider[0] if len(wider) == 1 else None
    by_plain: dict[str, str] = {}
    for choice in choices:
        by_plain.setdefault(_plain(choice), choice)
    close = difflib.get_close_matches(plain, list(by_plain), n=1, cutoff=CUTOFF)
    if not close or by_plain[close[0]] == name:
        return None
    return by_plain[close[0]]


def hint(name: object, known: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"``, or ``""`` when nothing known is close."""
    found = suggest(name, known)
    return "" if found is None else f" (did you mean {found!r}?)"
