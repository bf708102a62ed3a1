"""Podium Zuid's ticket system, in miniature: the host code its own tests exercise.

* :mod:`podium.shop`: the shop's tables and what its web pages call (checkout, the
  my-account page, the nightly clean-up);
* ``policy.toml``: the venue's privacy statement as a policy file: the inventory, the
  retention rule and the table map, loaded by the shop and by its tests alike.
"""

from __future__ import annotations

from podium.shop import (
    NEWSLETTER_BOX,
    POLICY,
    SURVEY_OPT_OUT,
    Shop,
    create_shop,
    host_data,
    load_inventory,
    load_retention_policy,
    open_shop,
)

__all__ = [
    "NEWSLETTER_BOX",
    "POLICY",
    "SURVEY_OPT_OUT",
    "Shop",
    "create_shop",
    "host_data",
    "load_inventory",
    "load_retention_policy",
    "open_shop",
]
