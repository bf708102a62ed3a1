"""The inventory's entries: controller, purposes, fields and recipients, and attrs tagging.

Each value validates itself on construction; :class:`~avgkit.inventory.Inventory` checks
that they agree with each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from avgkit import _dpv
from avgkit._countries import EEA, ISO_3166_ALPHA2
from avgkit._render import Lang, language
from avgkit._suggest import hint
from avgkit._validators import (
    fail,
    opt,
    shown,
    to_tuple,
    v_bool,
    v_instance,
    v_key,
    v_keys,
    v_member,
    v_text,
)
from avgkit.errors import ValidationError
from avgkit.inventory._vocab import (
    Art9Condition,
    DataOrigin,
    IdentifierKind,
    LawfulBasis,
    RecipientRole,
    SpecialCategory,
    TransferMechanism,
    Treatment,
)

METADATA_KEY: Final = "avgkit.inventory.field"
"""The key under which :func:`tag` stores a :class:`FieldTag` in attrs field metadata.

.. versionadded:: 0.1.0
"""

# --------------------------------------------------------------------------- validation
# The generic checks live in avgkit._validators; these are the inventory's own vocabularies.


def _v_country(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in ISO_3166_ALPHA2:
        fail(
            instance,
            attribute,
            "must be an ISO 3166-1 alpha-2 country code in upper case (e.g. 'NL'); "
            f"got {shown(value)}",
        )


_IRI: Final = re.compile(r"^https?://[^\s<>\"{}|\\^`]+\Z")


def _v_iri(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or len(value) > 500 or not _IRI.match(value):  # noqa: PLR2004
        fail(
            instance,
            attribute,
            "must be an absolute http(s) IRI, e.g. 'https://w3id.org/dpv#DirectMarketing'",
        )


_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")


def _v_email(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.match(value):  # noqa: PLR2004
        fail(instance, attribute, "must be an e-mail address such as 'privacy@example.org'")


def _v_category(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in _dpv.DATA_CATEGORIES:
        fail(
            instance,
            attribute,
            f"must be a DPV 2.3 personal-data term such as 'EmailAddress'; got {shown(value)}"
            f"{hint(value, _dpv.DATA_CATEGORIES)}; the terms are listed in "
            "avgkit.inventory.SUPPORTED_CATEGORIES",
        )


def _to_texts(value: Any) -> Any:
    """Accept a :class:`Texts` or a mapping with exactly the keys ``nl`` and ``en``."""
    if isinstance(value, Mapping) and set(value) == {"nl", "en"}:
        return Texts(nl=value["nl"], en=value["en"])
    return value


def to_optional_texts(value: Any) -> Any:
    return None if value is None else _to_texts(value)


# --------------------------------------------------------------------------- values


@attrs.frozen(kw_only=True)
class Texts:
    """A text in both report languages, Dutch and English (both required).

    .. versionadded:: 0.1.0
    """

    nl: str = attrs.field(validator=v_text(4000))
    en: str = attrs.field(validator=v_text(4000))

    def get(self, lang: Lang) -> str:
        """The text in ``lang`` (``"nl"`` or ``"en"``)."""
        return self.nl if language(lang) == "nl" else self.en

    def as_dict(self) -> dict[str, str]:
        """``{"nl": ..., "en": ...}``."""
        return {"nl": self.nl, "en": self.en}


_MAX_URL: Final = 300


def _v_url(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.startswith("https://") or len(value) > _MAX_URL:
        msg = f"{attribute.name} must be an https:// address of at most {_MAX_URL} characters"
        raise ValidationError(msg)


@attrs.frozen(kw_only=True)
class SupervisoryAuthority:
    """A data protection supervisory authority, as the access export and the notices name it.

    Args:
        country: ISO 3166-1 alpha-2 code of the country it supervises (``"NL"``).
        name: Its name in Dutch and English (Belgium's has a name per language).
        address: Its postal address.
        website: Its website.
        complaint_url: The page where a data subject lodges a complaint (Art. 77).

    .. versionadded:: 0.2.0
    """

    country: str = attrs.field(validator=_v_country)
    name: Texts = attrs.field(converter=_to_texts)
    address: str = attrs.field(validator=v_text(500))
    website: str = attrs.field(validator=_v_url)
    complaint_url: str = attrs.field(validator=_v_url)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (for the access export)."""
        return {
            "country": self.country,
            "name": self.name.as_dict(),
            "address": self.address,
            "website": self.website,
            "complaint_url": self.complaint_url,
        }


@attrs.frozen(kw_only=True)
class Controller:
    """The controller (the venue) for the Art. 30(1)(a) record.

    Args:
        name: The controller's name.
        address: Its postal address.
        email: The address data subjects write to about their data.
        country: ISO 3166-1 alpha-2 code of its establishment (e.g. ``"NL"``).
        dpo: How to reach the data protection officer, if one is appointed.
        representative: The Art. 27 representative, if the controller has one.
        authority: Its supervisory authority, when avgkit's table has none for ``country``
            or another contact point applies (see :data:`~avgkit.inventory.AUTHORITIES`).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``authority``.
    """

    name: str = attrs.field(validator=v_text(200))
    address: str = attrs.field(validator=v_text(500))
    email: str = attrs.field(validator=_v_email)
    country: str = attrs.field(validator=_v_country)
    dpo: str | None = attrs.field(default=None, validator=opt(v_text(500)))
    representative: str | None = attrs.field(default=None, validator=opt(v_text(500)))
    authority: SupervisoryAuthority | None = attrs.field(
        default=None, validator=opt(v_instance(SupervisoryAuthority, "a SupervisoryAuthority"))
    )


@attrs.frozen(kw_only=True)
class Purpose:
    """One purpose of processing with its lawful basis.

    Args:
        key: Snake-case key, e.g. ``"newsletter"``.
        description: What the purpose is, in Dutch and English.
        basis: The one Art. 6(1) lawful basis.
        direct_marketing: Whether this is direct marketing (objection is absolute, Art. 21(3)).
        profiling: Whether this involves profiling (to be announced, Art. 13(2)(f) and 21).
        recipients: Keys of the recipients the purpose discloses data to.
        subject_categories: Keys of the categories of data subjects, e.g. ``("visitors",)``.
        retention: How long the data is kept, for the register (Art. 30(1)(f)).
        dpv_purpose: A DPV purpose IRI, e.g. ``https://w3id.org/dpv#DirectMarketing``.
        automated_decisions: Whether it takes decisions based solely on automated processing
            with legal or similarly significant effects (Art. 22); the access export says so.
        legal_claims: Whether it serves the establishment, exercise or defence of legal
            claims: the only processing besides storage that goes on while a subject has
            restricted processing (Art. 18(2)).
        confirmation: Whether consent needs a double opt-in: ``give()`` then records a
            pending consent and hands out a confirmation token, and the consent is live only
            once the subject confirms it (the link in the e-mail). Only for consent purposes.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``automated_decisions`` and ``legal_claims``.
    .. versionchanged:: 0.2.0
       ``confirmation``.
    """

    key: str = attrs.field(validator=v_key)
    description: Texts = attrs.field(
        converter=_to_texts, validator=v_instance(Texts, "Texts (nl and en)")
    )
    basis: LawfulBasis = attrs.field(validator=v_member(LawfulBasis))
    direct_marketing: bool = attrs.field(default=False, validator=v_bool)
    profiling: bool = attrs.field(default=False, validator=v_bool)
    recipients: tuple[str, ...] = attrs.field(
        default=(), converter=to_tuple, validator=v_keys(non_empty=False)
    )
    subject_categories: tuple[str, ...] = attrs.field(
        default=("visitors",), converter=to_tuple, validator=v_keys(non_empty=True)
    )
    retention: Texts | None = attrs.field(
        default=None,
        converter=to_optional_texts,
        validator=opt(v_instance(Texts, "Texts (nl and en)")),
    )
    dpv_purpose: str | None = attrs.field(default=None, validator=opt(_v_iri))
    automated_decisions: bool = attrs.field(default=False, validator=v_bool)
    legal_claims: bool = attrs.field(default=False, validator=v_bool)
    confirmation: bool = attrs.field(default=False, validator=v_bool)

    @confirmation.validator
    def _check_confirmation(self, _attribute: object, value: bool) -> None:  # noqa: FBT001
        if value and self.basis is not LawfulBasis.CONSENT:
            msg = (
                f"Purpose.confirmation (double opt-in) is only for purposes whose basis is "
                f"consent; purpose {self.key!r} rests on {str(self.basis)!r}"
            )
            raise ValidationError(msg)

    @property
    def needs_consent(self) -> bool:
        """Whether processing for this purpose needs the subject's consent (basis consent)."""
        return self.basis is LawfulBasis.CONSENT

    @property
    def objection_allowed(self) -> bool:
        """Whether a subject may object (Art. 21(1): bases (e) and (f); Art. 21(2): marketing)."""
        return self.direct_marketing or self.basis in {
            LawfulBasis.PUBLIC_TASK,
            LawfulBasis.LEGITIMATE_INTERESTS,
        }

    @property
    def objection_absolute(self) -> bool:
        """Whether an objection must always be honoured (Art. 21(3): direct marketing)."""
        return self.direct_marketing


@attrs.frozen(kw_only=True)
class Field:
    """One item of personal data the controller holds, and what it may be used for.

    Args:
        key: Snake-case key, e.g. ``"email"``.
        category: A DPV personal-data term (see :data:`SUPPORTED_CATEGORIES`).
        identifier: Whether it identifies directly, in combination, or is sensitive.
        purposes: Keys of the purposes it serves (at least one: data without a purpose
            must not be collected).
        treatment: What the anonymiser does with it.
        generaliser: The generaliser's name, required with ``Treatment.GENERALISE`` and
            refused otherwise (e.g. ``"postcode_pc4"``, ``"birth_date_year"``).
        special_category: The Art. 9(1) category, if the data is special-category data.
        art9_condition: The Art. 9(2) condition that permits processing it.
        description: What the field holds, in Dutch and English.
        origin: Where the data comes from (:class:`DataOrigin`): provided by the subject
            (the default), observed, derived, or received from another party.
        source: With ``origin="received"``, the party it comes from (Art. 14(2)(f)), in
            Dutch and English.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``origin`` and ``source``.
    """

    key: str = attrs.field(validator=v_key)
    category: str = attrs.field(validator=_v_category)
    identifier: IdentifierKind = attrs.field(validator=v_member(IdentifierKind))
    purposes: tuple[str, ...] = attrs.field(converter=to_tuple, validator=v_keys(non_empty=True))
    treatment: Treatment = attrs.field(default=Treatment.DROP, validator=v_member(Treatment))
    generaliser: str | None = attrs.field(default=None)
    special_category: SpecialCategory | None = attrs.field(
        default=None, validator=opt(v_member(SpecialCategory))
    )
    art9_condition: Art9Condition | None = attrs.field(
        default=None, validator=opt(v_member(Art9Condition))
    )
    description: Texts | None = attrs.field(
        default=None,
        converter=to_optional_texts,
        validator=opt(v_instance(Texts, "Texts (nl and en)")),
    )
    origin: DataOrigin = attrs.field(default=DataOrigin.PROVIDED, validator=v_member(DataOrigin))
    source: Texts | None = attrs.field(
        default=None,
        converter=to_optional_texts,
        validator=opt(v_instance(Texts, "Texts (nl and en)")),
    )

    @source.validator
    def _check_source(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if self.origin is DataOrigin.RECEIVED and value is None:
            fail(
                self,
                attribute,
                "is required when origin is 'received': name the party the data comes from "
                "(Art. 14(2)(f)), e.g. {nl = 'Ticketmaster', en = 'Ticketmaster'}",
            )
        if self.origin is not DataOrigin.RECEIVED and value is not None:
            fail(
                self,
                attribute,
                f"names another party, so origin must be 'received', not {str(self.origin)!r}",
            )

    @generaliser.validator
    def _check_generaliser(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if self.treatment is Treatment.GENERALISE:
            if value is None:
                fail(
                    self,
                    attribute,
                    "is required when treatment is 'generalise': name one, e.g. "
                    "'postcode_pc4', 'birth_date_year', 'ip_prefix', 'email_domain'",
                )
            v_key(self, attribute, value)
        elif value is not None:
            fail(
                self,
                attribute,
                f"is only allowed with treatment 'generalise', not {str(self.treatment)!r}; "
                "remove it or change the treatment",
            )

    @property
    def category_iri(self) -> str:
        """The DPV IRI of :attr:`category`."""
        return _dpv.DATA_CATEGORIES[self.category].iri


@attrs.frozen(kw_only=True)
class Recipient:
    """Someone personal data is disclosed to: a processor, sub-processor or third party.

    Args:
        key: Snake-case key, e.g. ``"mail_platform"``.
        name: The recipient's name (an organisation, not a person).
        role: Its role.
        country: ISO 3166-1 alpha-2 code of where it processes the data.
        transfer_mechanism: The Chapter V ground, required outside the EEA.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=v_key)
    name: str = attrs.field(validator=v_text(200))
    role: RecipientRole = attrs.field(validator=v_member(RecipientRole))
    country: str = attrs.field(validator=_v_country)
    transfer_mechanism: TransferMechanism | None = attrs.field(
        default=None, validator=opt(v_member(TransferMechanism))
    )

    @property
    def third_country(self) -> bool:
        """Whether the recipient is outside the EEA (a transfer under Chapter V)."""
        return self.country not in EEA


@attrs.frozen(kw_only=True)
class PurposeUse:
    """One line of :meth:`Inventory.by_purpose`: a purpose, its basis and the fields it uses.

    .. versionadded:: 0.1.0
    """

    purpose: Purpose
    fields: tuple[Field, ...]

    @property
    def basis(self) -> LawfulBasis:
        """The purpose's lawful basis."""
        return self.purpose.basis

    @property
    def field_keys(self) -> tuple[str, ...]:
        """The keys of the fields, in declaration order."""
        return tuple(field.key for field in self.fields)


# --------------------------------------------------------------------------- tagging


@attrs.frozen(kw_only=True)
class FieldTag:
    """The inventory tag :func:`tag` puts in an attrs attribute's metadata.

    ``template`` is a validated :class:`Field` whose key is replaced, when the inventory is
    read off the class, by ``key`` or else the attribute's name.

    .. versionadded:: 0.1.0
    """

    key: str | None
    template: Field

    def to_field(self, attribute_name: str) -> Field:
        """The :class:`Field` for an attribute called ``attribute_name``."""
        return attrs.evolve(self.template, key=self.key or attribute_name)


_TEMPLATE_KEY: Final = "tagged_attribute"


def tag(
    *,
    category: str,
    purposes: Iterable[str],
    identifier: IdentifierKind,
    treatment: Treatment = Treatment.DROP,
    generaliser: str | None = None,
    special_category: SpecialCategory | None = None,
    art9_condition: Art9Condition | None = None,
    description: Texts | Mapping[str, str] | None = None,
    key: str | None = None,
) -> dict[str, FieldTag]:
    """Metadata marking an attrs attribute as personal data, for ``attrs.field(metadata=...)``.

    The arguments are those of :class:`Field`; ``key`` defaults to the attribute's name.
    The tag is validated here, so a mistake shows where it is written::

        @attrs.define
        class Visitor:
            email: str = attrs.field(
                metadata=tag(category="EmailAddress", identifier=IdentifierKind.DIRECT,
                             purposes=("ticket_sale", "newsletter"))
            )

    Read the fields off the classes with :meth:`Inventory.from_classes`.

    Raises:
        ValidationError: An argument is malformed.

    .. versionadded:: 0.1.0
    """
    if isinstance(purposes, str):
        msg = "tag(purposes=...) must be a list or tuple of purpose keys, not one string"
        raise ValidationError(msg)
    template = Field(
        key=key if key is not None else _TEMPLATE_KEY,
        category=category,
        identifier=identifier,
        purposes=tuple(purposes),
        treatment=treatment,
        generaliser=generaliser,
        special_category=special_category,
        art9_condition=art9_condition,
        description=description,
    )
    return {METADATA_KEY: FieldTag(key=key, template=template)}


def fields_from_class(cls: object) -> list[Field]:
    if not isinstance(cls, type) or not attrs.has(cls):
        what = cls.__name__ if isinstance(cls, type) else f"a {type(cls).__name__} instance"
        msg = (
            f"{what} is not an attrs class; from_classes reads tags from classes decorated "
            "with @attrs.define or @attrs.frozen"
        )
        raise ValidationError(msg)
    found: list[Field] = []
    for attribute in attrs.fields(cls):
        marker = attribute.metadata.get(METADATA_KEY)
        if marker is None:
            continue  # untagged attributes are not personal data
        if not isinstance(marker, FieldTag):
            msg = (
                f"{cls.__name__}.{attribute.name}: metadata[{METADATA_KEY!r}] must come from tag()"
            )
            raise ValidationError(msg)
        name = attribute.alias or attribute.name
        try:
            found.append(marker.to_field(name))
        except ValidationError as exc:
            msg = f"{cls.__name__}.{attribute.name}: {exc}; pass tag(key=...) to name the field"
            raise ValidationError(msg) from exc
    return found
