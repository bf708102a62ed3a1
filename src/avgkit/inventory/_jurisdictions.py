"""Jurisdictions: the Art. 8 age of each EU/EEA state with its source, and its authority.

Art. 8(1) GDPR sets 16 as the age from which a child's own consent to an information society
service offered directly to it is valid, and lets each member state lower it to no less than
13. The table below gives, per state, the age and the provision that sets it (the national
act implementing the GDPR, or Art. 8(1) itself where the state made no use of the opening
clause). National law changes: check the provision when a venue relies on it, and pass
``ConsentOptions(minor_age=...)`` to follow a change before avgkit's table does.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

import attrs

from avgkit._countries import ISO_3166_ALPHA2
from avgkit._validators import opt, v_instance, v_text
from avgkit.errors import PolicyError, ValidationError
from avgkit.inventory._authorities import AUTHORITIES
from avgkit.inventory._values import SupervisoryAuthority

__all__ = ["ART8_AGES", "GDPR_DEFAULT_AGE", "Art8Age", "Jurisdiction", "art8_age"]

GDPR_DEFAULT_AGE: Final = 16
"""The Art. 8(1) age where no national law lowers it.

.. versionadded:: 0.2.0
"""

_GDPR_DEFAULT_SOURCE: Final = "Art. 8(1) GDPR"
_MIN_AGE: Final = 13


def _v_country(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in ISO_3166_ALPHA2:
        msg = (
            f"{attribute.name} must be an ISO 3166-1 alpha-2 country code in upper case (e.g. 'NL')"
        )
        raise ValidationError(msg)


def _v_age(_instance: object, _attribute: object, value: int) -> None:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not _MIN_AGE <= value <= GDPR_DEFAULT_AGE
    ):
        msg = "an Art. 8 age is a whole number from 13 to 16 (Art. 8(1) GDPR)"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class Art8Age:
    """The age from which a child's own consent counts in one country, and where that is law.

    Args:
        country: ISO 3166-1 alpha-2 code.
        age: 13 to 16; below it a parent or guardian gives or authorises consent.
        source: The provision that sets it, e.g. ``"Uitvoeringswet AVG, art. 5"``.

    .. versionadded:: 0.2.0
    """

    country: str = attrs.field(validator=_v_country)
    age: int = attrs.field(validator=_v_age)
    source: str = attrs.field(validator=v_text(300))


def _age(country: str, age: int, source: str) -> tuple[str, Art8Age]:
    return country, Art8Age(country=country, age=age, source=source)


def _default(country: str, act: str) -> tuple[str, Art8Age]:
    return _age(country, GDPR_DEFAULT_AGE, f"{_GDPR_DEFAULT_SOURCE}; {act} sets no other age")


ART8_AGES: Final = MappingProxyType(
    dict(
        (
            _age("AT", 14, "Datenschutzgesetz (DSG), § 4 Abs. 4"),
            _age(
                "BE",
                13,
                "Wet van 30 juli 2018 betreffende de bescherming van natuurlijke personen met "
                "betrekking tot de verwerking van persoonsgegevens, art. 7",
            ),
            _age(
                "BG",
                14,
                "Personal Data Protection Act (Zakon za zashtita na lichnite danni), Art. 25c",
            ),
            _age("CY", 14, "Law 125(I)/2018 on the protection of natural persons, section 8"),
            _age("CZ", 15, "Zákon č. 110/2019 Sb., o zpracování osobních údajů, § 7"),
            _default("DE", "the Bundesdatenschutzgesetz (BDSG)"),
            _age(
                "DK",
                15,
                "Databeskyttelsesloven, § 6 (13 until 31 December 2023; 15 from 1 January 2024)",
            ),
            _age("EE", 13, "Isikuandmete kaitse seadus, § 8"),
            _age("ES", 14, "Ley Orgánica 3/2018 (LOPDGDD), artículo 7"),
            _age("FI", 13, "Tietosuojalaki (1050/2018), 5 §"),
            _age(
                "FR",
                15,
                "Loi n° 78-17 du 6 janvier 1978 relative à l'informatique, aux fichiers et aux "
                "libertés, article 45",
            ),
            _age("GR", 15, "Law 4624/2019, article 21"),
            _age("HR", 16, "Zakon o provedbi Opće uredbe o zaštiti podataka (NN 42/2018), čl. 19"),
            _default("HU", "the Infotv. (Act CXII of 2011)"),
            _age("IE", 16, "Data Protection Act 2018, section 31"),
            _age("IS", 13, "Lög nr. 90/2018 um persónuvernd og vinnslu persónuupplýsinga, 10. gr."),
            _age(
                "IT",
                14,
                "Codice in materia di protezione dei dati personali (d.lgs. 196/2003), "
                "art. 2-quinquies",
            ),
            _age("LT", 14, "Asmens duomenų teisinės apsaugos įstatymas, 6 straipsnis"),
            _default("LU", "the loi du 1er août 2018"),
            _age("LV", 13, "Fizisko personu datu apstrādes likums, 33. pants"),
            _age("MT", 13, "Data Protection Act (Chapter 586 of the Laws of Malta)"),
            _age(
                "NL",
                16,
                "Uitvoeringswet Algemene verordening gegevensbescherming (UAVG), art. 5",
            ),
            _age("NO", 13, "Personopplysningsloven (LOV-2018-06-15-38), § 5"),
            _default("PL", "the ustawa z dnia 10 maja 2018 r. o ochronie danych osobowych"),
            _age("PT", 13, "Lei n.º 58/2019, artigo 16.º"),
            _default("RO", "Legea nr. 190/2018"),
            _age(
                "SE",
                13,
                "Lag (2018:218) med kompletterande bestämmelser till EU:s "
                "dataskyddsförordning, 2 kap. 4 §",
            ),
            _age("SI", 15, "Zakon o varstvu osebnih podatkov (ZVOP-2), 8. člen"),
            _age("SK", 16, "Zákon č. 18/2018 Z. z. o ochrane osobných údajov, § 15"),
        )
    )
)
"""The Art. 8 age of the EU/EEA states avgkit has a source for, by country code.

Liechtenstein is not listed (avgkit has no source for it); :func:`art8_age` answers the
Art. 8(1) default of 16 for a country without an entry, the strictest age allowed.

.. versionadded:: 0.2.0

:meta hide-value:
"""


def art8_age(country: str) -> Art8Age:
    """The Art. 8 age of ``country`` from :data:`ART8_AGES`, or Art. 8(1)'s 16 if unlisted.

    Raises:
        ValidationError: ``country`` is not an ISO 3166-1 alpha-2 code.

    .. versionadded:: 0.2.0
    """
    found = ART8_AGES.get(country) if isinstance(country, str) else None
    if found is not None:
        return found
    return Art8Age(
        country=country,
        age=GDPR_DEFAULT_AGE,
        source=f"{_GDPR_DEFAULT_SOURCE} (avgkit knows no national age for this country)",
    )


@attrs.frozen(kw_only=True)
class Jurisdiction:
    """The rules of one country as avgkit applies them: the Art. 8 age and the authority.

    Build it with :meth:`avgkit.inventory.Inventory.jurisdiction`.

    .. versionadded:: 0.2.0
    """

    country: str = attrs.field(validator=_v_country)
    art8: Art8Age = attrs.field(validator=v_instance(Art8Age))
    authority: SupervisoryAuthority | None = attrs.field(
        default=None, validator=opt(v_instance(SupervisoryAuthority))
    )
    """The supervisory authority, if avgkit knows it or the controller declared it."""

    @property
    def minor_age(self) -> int:
        """Below this age a parent or guardian gives or authorises consent (Art. 8(1))."""
        return self.art8.age

    def require_authority(self) -> SupervisoryAuthority:
        """The supervisory authority; a :class:`~avgkit.errors.PolicyError` if none is known."""
        if self.authority is None:
            msg = (
                f"no supervisory authority is known for country {self.country!r} (known: "
                f"{sorted(AUTHORITIES)}); declare it with "
                "Controller(authority=SupervisoryAuthority(...)) for the controller's own "
                "country, or pass authority= for another"
            )
            raise PolicyError(msg)
        return self.authority

    @classmethod
    def of(cls, country: str, authority: SupervisoryAuthority | None = None) -> Jurisdiction:
        """The jurisdiction of ``country``, with ``authority`` or avgkit's known one."""
        age = art8_age(country)
        return cls(
            country=country,
            art8=age,
            authority=authority if authority is not None else AUTHORITIES.get(country),
        )
