"""Hosts for the command line's tests: ``avgkit ... --host cli_host:host``.

``host`` is a factory taking the inventory of ``--policy``; ``plain_host`` one taking
nothing; ``shop`` opens the reference ticket shop at ``$AVGKIT_TEST_SHOP``; ``warn`` records
the warnings ``avgkit retention run --warn cli_host:warn`` asks for.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from avgkit.host import HostRecord, HostSubject, SubjectKind
from avgkit.host.memory import MemoryHostData
from avgkit.presets import ticketing

LONG_AGO = datetime(2020, 3, 1, 20, tzinfo=UTC)

warned: list[tuple[str, str]] = []
"""``(subject, rule)`` of every warning asked for."""


def host(inventory):
    """A guest whose event is long past (due for deletion) and an idle account (warned)."""
    data = MemoryHostData(inventory)
    data.add_subject(HostSubject(id="guest-1", kind=SubjectKind.GUEST))
    data.add_event("guest-1", LONG_AGO)
    data.add_record(
        "guest-1",
        HostRecord(source="guests", key="g1", values={"name": "Piet Puk"}, at=LONG_AGO),
    )
    data.add_subject(
        HostSubject(id="acct-1", kind=SubjectKind.ACCOUNT, last_activity={"purchase": LONG_AGO})
    )
    data.add_record(
        "acct-1",
        HostRecord(
            source="accounts",
            key="a1",
            values={"name": "Anna de Vries", "email": "anna@example.nl"},
            at=LONG_AGO,
        ),
    )
    return data


def plain_host():
    """The same host, built from the preset's inventory (a factory without arguments)."""
    return host(ticketing.inventory())


def warn(subject, action):
    warned.append((str(subject), action.rule))


not_a_host = 42


def shop(inventory):
    sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
    from ticketshop import TicketShopHost

    return TicketShopHost(os.environ["AVGKIT_TEST_SHOP"], inventory)
