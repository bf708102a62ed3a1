"""Supervisory authorities: where a data subject can complain (Art. 13(2)(d), 15(1)(f), 77).

A controller's authority is the one of the country of its (main) establishment. The table
holds the authorities avgkit knows with their sources; a controller elsewhere, or one that
wants a different contact point, declares its own :class:`SupervisoryAuthority`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from avgkit.errors import PolicyError
from avgkit.inventory._values import SupervisoryAuthority, Texts

__all__ = ["AUTHORITIES", "authority_for"]


AUTHORITIES: Final = MappingProxyType(
    {
        # Source: autoriteitpersoonsgegevens.nl, "Voordat u een klacht indient" and contact.
        "NL": SupervisoryAuthority(
            country="NL",
            name=Texts(nl="Autoriteit Persoonsgegevens", en="Dutch Data Protection Authority"),
            address="Postbus 93374, 2509 AJ Den Haag, Nederland",
            website="https://autoriteitpersoonsgegevens.nl",
            complaint_url="https://autoriteitpersoonsgegevens.nl/nl/voordat-u-een-klacht-indient",
        ),
        # Source: gegevensbeschermingsautoriteit.be, "Klacht indienen".
        "BE": SupervisoryAuthority(
            country="BE",
            name=Texts(
                nl="Gegevensbeschermingsautoriteit",
                en="Belgian Data Protection Authority (Gegevensbeschermingsautoriteit)",
            ),
            address="Drukpersstraat 35, 1000 Brussel, België",
            website="https://www.gegevensbeschermingsautoriteit.be",
            complaint_url="https://www.gegevensbeschermingsautoriteit.be/burger/acties/klacht-indienen",
        ),
        # Source: cnil.fr, "Adresser une plainte".
        "FR": SupervisoryAuthority(
            country="FR",
            name=Texts(
                nl="Commission nationale de l'informatique et des libertés (CNIL)",
                en="Commission nationale de l'informatique et des libertés (CNIL)",
            ),
            address="3 Place de Fontenoy, TSA 80715, 75334 Paris Cedex 07, France",
            website="https://www.cnil.fr",
            complaint_url="https://www.cnil.fr/fr/plaintes",
        ),
    }
)
"""The supervisory authorities avgkit knows, by country code.

:meta hide-value:
"""


def authority_for(country: str) -> SupervisoryAuthority:
    """The supervisory authority of ``country`` (an ISO 3166-1 alpha-2 code).

    Raises:
        PolicyError: avgkit knows no authority for ``country``; declare one with
            :class:`SupervisoryAuthority` (``Controller(authority=...)``).

    .. versionadded:: 0.2.0
    """
    found = AUTHORITIES.get(country)
    if found is None:
        msg = (
            f"no supervisory authority is known for country {country!r} (known: "
            f"{sorted(AUTHORITIES)}); declare the controller's authority with "
            "Controller(authority=SupervisoryAuthority(...)) or [controller.authority] in the "
            "policy file"
        )
        raise PolicyError(msg)
    return found
