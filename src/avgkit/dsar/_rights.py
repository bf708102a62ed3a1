"""The data subject's rights as the access export lists them (Art. 13(2)(b)-(d), 15(1)(e)-(f))."""

from __future__ import annotations

from typing import Final

import attrs

from avgkit import _dpv

__all__ = ["RIGHTS", "Right"]


@attrs.frozen(kw_only=True)
class Right:
    """One right of the data subject, with its article, DPV term and a sentence per language.

    .. versionadded:: 0.2.0
    """

    key: str
    article: str
    iri: str
    nl: str
    en: str

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (for the access export)."""
        return {
            "right": self.key,
            "article": self.article,
            "iri": self.iri,
            "text": {"nl": self.nl, "en": self.en},
        }


RIGHTS: Final[tuple[Right, ...]] = (
    Right(
        key="access",
        article="Art. 15",
        iri=_dpv.GDPR + "A15",
        nl="U mag uw gegevens inzien en een kopie krijgen.",
        en="You may see your data and get a copy of it.",
    ),
    Right(
        key="rectification",
        article="Art. 16",
        iri=_dpv.GDPR + "A16",
        nl="U mag onjuiste gegevens laten verbeteren en onvolledige laten aanvullen.",
        en="You may have inaccurate data corrected and incomplete data completed.",
    ),
    Right(
        key="erasure",
        article="Art. 17",
        iri=_dpv.GDPR + "A17",
        nl="U mag uw gegevens laten wissen, tenzij wij ze moeten bewaren (bijv. de fiscale "
        "bewaarplicht).",
        en="You may have your data erased unless we must keep it (e.g. the fiscal retention duty).",
    ),
    Right(
        key="restriction",
        article="Art. 18",
        iri=_dpv.GDPR + "A18",
        nl="U mag de verwerking laten beperken: wij bewaren de gegevens dan alleen nog.",
        en="You may have processing restricted: we then only store the data.",
    ),
    Right(
        key="portability",
        article="Art. 20",
        iri=_dpv.GDPR + "A20",
        nl="U mag de gegevens die u ons gaf in een gangbaar, machineleesbaar formaat krijgen "
        "of laten doorsturen.",
        en="You may receive the data you gave us in a common, machine-readable format, or have "
        "it sent on.",
    ),
    Right(
        key="objection",
        article="Art. 21",
        iri=_dpv.GDPR + "A21",
        nl="U mag bezwaar maken tegen verwerking op grond van gerechtvaardigd belang, en altijd "
        "tegen direct marketing.",
        en="You may object to processing based on legitimate interests, and always to direct "
        "marketing.",
    ),
    Right(
        key="automated_decisions",
        article="Art. 22",
        iri=_dpv.GDPR + "A22",
        nl="U hoeft geen besluit te accepteren dat alleen op geautomatiseerde verwerking berust.",
        en="You need not accept a decision based solely on automated processing.",
    ),
    Right(
        key="withdraw_consent",
        article="Art. 7(3)",
        iri=_dpv.GDPR + "A7-3",
        nl="U mag uw toestemming altijd intrekken; dat is even eenvoudig als haar geven.",
        en="You may withdraw your consent at any time, as easily as you gave it.",
    ),
    Right(
        key="complaint",
        article="Art. 77",
        iri=_dpv.GDPR + "A77",
        nl="U mag een klacht indienen bij de toezichthouder.",
        en="You may lodge a complaint with the supervisory authority.",
    ),
)
"""The rights the access export names, in article order (withdrawal and complaint last).

:meta hide-value:
"""
