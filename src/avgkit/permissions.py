"""``may_process``: the inventory's lawful basis and the consent ledger, combined into a decision.

A ticket system asks before every use of personal data whether it may, for one purpose::

    decision = kit.may_process("cust-1042", "newsletter")
    if decision:
        send(...)
    else:
        log.info("skipped: %s", decision.code)   # a stable code; decision.reason explains

Contract, legal-obligation and vital-interest purposes are allowed without the ledger;
consent purposes need live, unexpired consent; legitimate-interest and public-task purposes
need the absence of an objection (Art. 21). The rule itself is the pure function
:func:`avgkit.consent.decide`; :class:`Permissions` feeds it the ledger's state.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from avgkit import _validators
from avgkit.consent._values import ConsentState, Decision, consults_ledger, decide
from avgkit.consent._vocab import DecisionCode
from avgkit.errors import StorageError
from avgkit.subjects import SubjectId, subject_id

if TYPE_CHECKING:
    from avgkit.clock import Clock
    from avgkit.inventory import Inventory, Purpose

__all__ = ["ConsentStates", "Decision", "DecisionCode", "Permissions", "Restrictions"]


class ConsentStates(Protocol):
    """Where :class:`Permissions` reads consent states: a :class:`~avgkit.consent.ConsentLedger`.

    .. versionadded:: 0.2.0
    """

    def state(
        self, subject: SubjectId | str, purpose: str, *, at: datetime | None = None
    ) -> ConsentState:
        """The state of ``subject`` and ``purpose`` at ``at``."""
        ...


class Restrictions(Protocol):
    """Where :class:`Permissions` learns of a restriction (Art. 18): the request store.

    .. versionadded:: 0.2.0
    """

    def restricted(self, subject: SubjectId, at: datetime) -> bool:
        """Whether processing of ``subject``'s data is restricted at ``at``."""
        ...


class Permissions:
    """Answers whether a subject's data may be processed for a purpose, and why.

    Args:
        inventory: the declared purposes and their lawful bases.
        ledger: the consent ledger, or ``None`` when the store set keeps none (then only
            purposes that need no consent or objection can be decided).
        clock: the source of "now".
        restrictions: where restrictions of processing are kept (the request store), or
            ``None`` when none are.

    A subject whose processing is restricted is refused for every purpose but those that
    serve legal claims (:attr:`~avgkit.inventory.Purpose.legal_claims`, Art. 18(2)): the
    data is then only stored.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        inventory: Inventory,
        ledger: ConsentStates | None,
        clock: Clock,
        restrictions: Restrictions | None = None,
    ) -> None:
        self._inventory = inventory
        self._ledger = ledger
        self._clock = clock
        self._restrictions = restrictions

    def __repr__(self) -> str:
        return f"Permissions(ledger={'set' if self._ledger is not None else 'none'})"

    def may_process(
        self, subject: SubjectId | str, purpose: str, *, at: datetime | None = None
    ) -> Decision:
        """Whether ``subject``'s data may be processed for ``purpose`` now (or at ``at``).

        Raises:
            PolicyError: ``purpose`` is not declared.
            ValidationError: ``subject`` or ``at`` is malformed (a naive ``at``, say).
            StorageError: the purpose needs the consent ledger and the store set has none.
        """
        sid = subject_id(subject)
        declared = self._inventory.purpose(purpose)
        when = self._clock.now() if at is None else _validators.aware(at, "at")
        if self._restrictions is not None and self._restrictions.restricted(sid, when):
            return _restricted(declared, sid, when)
        if not consults_ledger(declared):
            return decide(declared, None, subject=sid, at=when)
        if self._ledger is None:
            msg = (
                f"purpose {declared.key!r} rests on {declared.basis.value!r}, which needs the "
                "consent ledger; use a store set with a ConsentStore"
            )
            raise StorageError(msg)
        state = self._ledger.state(sid, declared.key, at=when)
        return decide(declared, state, subject=sid, at=when)


def _restricted(purpose: Purpose, subject: SubjectId, at: datetime) -> Decision:
    if purpose.legal_claims:
        return Decision(
            allowed=True,
            subject=subject,
            purpose=purpose.key,
            basis=purpose.basis,
            code=DecisionCode.RESTRICTED_LEGAL_CLAIMS,
            reason=(
                f"processing is restricted (Art. 18), but purpose {purpose.key!r} serves "
                "the establishment, exercise or defence of legal claims (Art. 18(2))"
            ),
            at=at,
        )
    return Decision(
        allowed=False,
        subject=subject,
        purpose=purpose.key,
        basis=purpose.basis,
        code=DecisionCode.RESTRICTED,
        reason=(
            f"processing is restricted (Art. 18): the data may only be stored, not used for "
            f"{purpose.key!r}, until the restriction is lifted"
        ),
        at=at,
    )
