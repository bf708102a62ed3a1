"""The opt-ins the shop offers, and the exact wording shown next to each box.

avgkit keeps the hash of the wording with every consent as evidence; the templates render
the same texts, so what was hashed is what the visitor read.
"""

from __future__ import annotations

from typing import Final

from django.conf import settings

from avgkit import Evidence

__all__ = ["OFFERED", "WORDING", "evidence"]

WORDING: Final = {
    "newsletter": "Yes, send me the theatre's newsletter (about once a month).",
    "loyalty_programme": "Yes, enrol me in the loyalty programme and keep my visits for it.",
}
"""Purpose (declared in the inventory, basis consent) -> the text of its checkbox."""

OFFERED: Final = tuple(WORDING)
"""The purposes offered, in the order the pages show them."""


def evidence(purpose: str, *, order_code: str | None = None) -> Evidence:
    """Evidence of an act in the web shop about ``purpose``, as shown under this notice."""
    return Evidence.from_wording(
        WORDING[purpose],
        channel="webshop",
        notice_version=settings.SHOP["NOTICE_VERSION"],
        order_ref=order_code,
    )
