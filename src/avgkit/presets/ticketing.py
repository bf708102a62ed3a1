"""The ticketing preset: a cultural venue's ticket shop, ready to use as an inventory.

The preset is shipped as a policy file, ``ticketing.toml`` beside this module, and
:func:`inventory` loads it, so the Python preset and the file are the same data. It follows
a Dutch municipal venue's privacy policy (fields, purposes and lawful bases) and a ticketing
vendor's processing agreement (processors and where they are). The controller is a fictional venue:
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
def retention_policy(
    *, inactive_after: relativedelta | None = None, warn_before: relativedelta | None = None
) -> RetentionPolicy:
    """A venue's retention rules, per kind of subject and per kind of record, as one policy.

    Subjects:

    * ``inactive_accounts``: an account with no purchase, login or newsletter read for
      ``inactive_after`` (2 calendar years by default: the processing agreement's maximum
      for inactive accounts, the vendor's "no transaction for 2 years"; a venue promising 5
      or 7 years passes ``relativedelta(years=7)``) is deleted, after a warning
      ``warn_before`` ahead (30 days by default);
    * ``quick_registrations``: a quick registration at the box office is deleted the day
      after the performance it was for;
    * ``contact_persons``: a business relation's contact data goes 7 years after the
      contract ends (with the relation's support mail).

    Records (whoever they belong to):

    * ``camera_outside`` / ``camera_inside``: camera footage, 7 days outside, 30 days
      inside;
    * ``support_mail_bank_details``: support mail holding bank details, 2 months;
    * ``support_mail``: other support mail, 7 years (the longest term it can have: mail of
      a relation goes with the relation, 7 years after the contract);
    * ``fiscal_records``: orders and payments, kept for 7 years after they were made (Dutch
      AWR art. 52), then stripped of every personal value; the amounts stay for the
      accounts. (An erasure before then anonymises them at once.)

    A host names its records by these sources (``HostRecord.source``); a host without
    footage simply reports none. Review the periods against your own privacy statement.

    .. versionadded:: 0.2.0
    .. versionchanged:: 0.2.0
       Record rules for footage, support mail and fiscal records; ``inactive_after=`` and
       ``warn_before=``.
    """
    idle = relativedelta(years=2) if inactive_after is None else inactive_after
    warning = relativedelta(days=30) if warn_before is None else warn_before

    def records(key: str, sources: set[str], period: relativedelta) -> RetentionRule:
        return RetentionRule(
            key=key,
            records=sources,
            trigger=Trigger.COLLECTION,
            period=period,
            action=Action.DELETE,
        )

    return RetentionPolicy(
        (
            RetentionRule(
                key="inactive_accounts",
                applies_to="account",
                trigger=Trigger.INACTIVITY,
                activity_types={"purchase", "login", "newsletter_read"},
                period=idle,
                action=Action.DELETE,
                warn_before=warning,
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
            records("camera_outside", {"camera_outside"}, relativedelta(days=7)),
            records("camera_inside", {"camera_inside"}, relativedelta(days=30)),
            records(
                "support_mail_bank_details", {"support_mail_bank_details"}, relativedelta(months=2)
            ),
            records("support_mail", {"support_mail"}, relativedelta(years=7)),
            RetentionRule(
                key="fiscal_records",
                records={"orders", "payments"},
                trigger=Trigger.COLLECTION,
                period=relativedelta(years=7),
                action=Action.ANONYMISE,
            ),
        )
    )
