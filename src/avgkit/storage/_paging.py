"""Keyset pagination shared by the SQL adapters (private)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R", bound=Sequence[Any])


def keyset_pages(
    fetch: Callable[[Any], Sequence[R]],
    after: Any,
    page: int,
    decode: Callable[[R], T],
) -> Iterator[T]:
    """Stream rows page by page, each page fetched as ``fetch(after)`` in its own short read.

    ``fetch`` returns at most ``page`` rows ordered by their first column, all greater than
    ``after``; the next page starts after the last row's first column. No connection or
    lock is held while the caller consumes rows, so memory stays flat for any length and the
    caller may write to the same store meanwhile.
    """
    while True:
        rows = fetch(after)
        for row in rows:
            yield decode(row)
        if len(rows) < page:
            return
        after = rows[-1][0]
