"""The ticketing preset: a cultural venue's ticket shop, ready to use as an inventory.

The preset is shipped as a policy file, ``ticketing.toml`` beside this module, and
:func:`inventory` loads it, so the Python preset and the file are the same data. It follows
SPOT Groningen's privacy policy (fields, purposes and lawful bases) and ActiveTickets' data
processing agreement (processors and where they are). The controller is a fictional venue:
replace it, and review every entry, before use::

    from avgkit.presets import ticketing

    inventory = ticketing.inventory()
    inventory.may_use("birth_date", "audience_analysis")   # True
    inventory.may_use("birth_date", "newsletter")          # False

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Final

from dateutil.relativedelta import relativedelta

from avgkit.inventory import Inventory, _policyfile
from avgkit.retention import Action, RetentionPolicy, RetentionRule, Trigger

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["POLICY_FILE", "inventory", "policy_file", "retention_policy"]

POLICY_FILE: Final = "ticketing.toml"
"""The name of the preset's policy file inside the :mod:`avgkit.presets` package.

.. versionadded:: 0.1.0
"""


def policy_file() -> Traversable:
    """The shipped policy file, to copy and adapt (``policy_file().read_text("utf-8")``).

    .. versionadded:: 0.1.0
    """
    return resources.files("avgkit.presets").joinpath(POLICY_FILE)


@cache
def inventory() -> Inventory:
    """The preset inventory (an immutable value, so every call returns the same one).

    .. versionadded:: 0.1.0
    """
    text = policy_file().read_text("utf-8")
    return Inventory.from_mapping(_policyfile.parse(text, "toml", POLICY_FILE))


@cache
def retention_policy() -> RetentionPolicy:
    """The seeds' retention rules per kind of subject, as one policy.

    * ``inactive_accounts``: an account with no purchase, login or newsletter read for 2
      calendar years is deleted (the processing agreement's maximum for inactive accounts;
      the vendor's "no transaction for 2 years");
    * ``quick_registrations``: a quick registration at the box office is deleted the day
      after the performance it was for;
    * ``contact_persons``: a business relation's contact data goes 7 years after the
      contract ends.

    Review the periods against your own privacy statement (a venue promising 7 years of
    inactivity uses ``relativedelta(years=7)``).

    .. versionadded:: 0.2.0
    """
    return RetentionPolicy(
        (
            RetentionRule(
                key="inactive_accounts",
                applies_to="account",
                trigger=Trigger.INACTIVITY,
                activity_types={"purchase", "login", "newsletter_read"},
                period=relativedelta(years=2),
                action=Action.DELETE,
                warn_before=relativedelta(days=30),
            ),
            RetentionRule(
                key="quick_registrations",
                applies_to="guest",
                trigger=Trigger.EVENT_DATE,
                period=relativedelta(days=1),
                action=Action.DELETE,
            ),
            RetentionRule(
                key="contact_persons",
                applies_to="relation",
                trigger=Trigger.CONTRACT_END,
                period=relativedelta(years=7),
                action=Action.DELETE,
            ),
        )
    )
