"""Tag your own attrs models in place and read the inventory off them.

A ticket system that already describes its visitors with attrs classes declares each
personal-data attribute's category, purposes and anonymisation next to the attribute.
"""

from __future__ import annotations

import attrs

from avgkit import (
    Controller,
    IdentifierKind,
    Inventory,
    LawfulBasis,
    Purpose,
    Treatment,
    tag,
)


@attrs.define
class Visitor:
    """A ticket buyer as the host's own code models it."""

    customer_id: str  # not personal data by itself here: untagged, so not in the inventory
    email: str = attrs.field(
        metadata=tag(
            category="EmailAddress",
            identifier=IdentifierKind.DIRECT,
            purposes=("ticket_sale", "newsletter"),
            treatment=Treatment.PSEUDONYMISE,
        )
    )
    postcode: str = attrs.field(
        metadata=tag(
            category="PostalCode",
            identifier=IdentifierKind.QUASI,
            purposes=("ticket_sale", "audience_analysis"),
            treatment=Treatment.GENERALISE,
            generaliser="postcode_pc4",
        )
    )


PURPOSES = (
    Purpose(
        key="ticket_sale",
        description={"nl": "Kaartverkoop", "en": "Selling tickets"},
        basis=LawfulBasis.CONTRACT,
    ),
    Purpose(
        key="newsletter",
        description={"nl": "Nieuwsbrief", "en": "Newsletter"},
        basis=LawfulBasis.CONSENT,
        direct_marketing=True,
    ),
    Purpose(
        key="audience_analysis",
        description={"nl": "Publieksonderzoek", "en": "Audience analysis"},
        basis=LawfulBasis.LEGITIMATE_INTERESTS,
    ),
)


def build() -> Inventory:
    """Read the inventory off the tagged class."""
    return Inventory.from_classes(
        Visitor,
        controller=Controller(
            name="Example Venue",
            address="Voorbeeldstraat 1, 9711 AA Groningen",
            email="privacy@example.org",
            country="NL",
        ),
        purposes=PURPOSES,
    )


def main() -> None:
    """Print which fields each purpose may use."""
    inventory = build()
    for key, use in inventory.by_purpose().items():
        print(f"{key} ({use.basis.article}): {', '.join(use.field_keys)}")


if __name__ == "__main__":
    main()
