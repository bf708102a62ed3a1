"""The :class:`Inventory`: the declared entries, checked against each other, and its answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from avgkit import _dpv
from avgkit._validators import opt, shown, to_tuple, v_instance, v_items
from avgkit.errors import PolicyError
from avgkit.inventory import _policyfile
from avgkit.inventory._authorities import authority_for
from avgkit.inventory._jurisdictions import Jurisdiction
from avgkit.inventory._register import ProcessingActivity, ProcessingRegister, RegisterRecipient
from avgkit.inventory._values import (
    Controller,
    Field,
    Purpose,
    PurposeUse,
    Recipient,
    SupervisoryAuthority,
    Texts,
    fields_from_class,
    to_optional_texts,
)
from avgkit.inventory._vocab import (
    Art9Condition,
    IdentifierKind,
    LawfulBasis,
    SpecialCategory,
    TransferMechanism,
    Treatment,
)

if TYPE_CHECKING:
    import os


# --------------------------------------------------------------------------- the inventory


def _declared(kind: str, key: object, known: Iterable[str]) -> PolicyError:
    return PolicyError(
        f"{kind} {shown(key)} is not declared in the inventory; declared: {sorted(known)}"
    )


@attrs.frozen(kw_only=True)
class Inventory:
    """The controller's declaration of purposes, fields and recipients, free of contradictions.

    Args:
        controller: The controller.
        purposes: The purposes, in the order the register lists them.
        fields: The fields of personal data.
        recipients: The recipients.
        security_measures: A general description of the security measures (Art. 30(1)(g)).

    Raises:
        ValidationError: A value is of the wrong type.
        PolicyError: The declaration contradicts itself or the GDPR; the message names the
            entry (as a dotted path, as in a policy file) and how to fix it.

    .. versionadded:: 0.1.0
    """

    controller: Controller = attrs.field(validator=v_instance(Controller))
    purposes: tuple[Purpose, ...] = attrs.field(converter=to_tuple, validator=v_items(Purpose))
    fields: tuple[Field, ...] = attrs.field(converter=to_tuple, validator=v_items(Field))
    recipients: tuple[Recipient, ...] = attrs.field(
        default=(), converter=to_tuple, validator=v_items(Recipient)
    )
    security_measures: Texts | None = attrs.field(
        default=None,
        converter=to_optional_texts,
        validator=opt(v_instance(Texts, "Texts (nl and en)")),
    )
    _purposes: dict[str, Purpose] = attrs.field(init=False, repr=False, eq=False)
    _fields: dict[str, Field] = attrs.field(init=False, repr=False, eq=False)
    _recipients: dict[str, Recipient] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        """Index the entries and refuse contradictions."""
        object.__setattr__(self, "_purposes", _index("purposes", self.purposes))
        object.__setattr__(self, "_fields", _index("fields", self.fields))
        object.__setattr__(self, "_recipients", _index("recipients", self.recipients))
        for purpose in self.purposes:
            self._check_purpose(purpose)
        for field in self.fields:
            self._check_field(field)
        for recipient in self.recipients:
            _check_recipient(recipient)

    def _check_purpose(self, purpose: Purpose) -> None:
        path = f"purposes.{purpose.key}"
        for name in purpose.recipients:
            if name not in self._recipients:
                msg = (
                    f"{path}.recipients: purpose {purpose.key!r} names recipient {name!r}, "
                    f"which is not declared; declared recipients: {sorted(self._recipients)}. "
                    "Declare it under recipients or remove it from the purpose"
                )
                raise PolicyError(msg)
        if purpose.direct_marketing and purpose.basis not in {
            LawfulBasis.CONSENT,
            LawfulBasis.LEGITIMATE_INTERESTS,
        }:
            # Art. 7(3) and 21(2)-(3): a subject can always stop direct marketing. On any other
            # basis the inventory would promise processing the subject cannot withdraw from.
            msg = (
                f"{path}.basis: purpose {purpose.key!r} is direct marketing on basis "
                f"{str(purpose.basis)!r}, which the subject could not withdraw from or object "
                "to (Art. 7(3), 21(2)); base direct marketing on 'consent' or "
                "'legitimate_interests'"
            )
            raise PolicyError(msg)

    def _check_field(self, field: Field) -> None:
        path = f"fields.{field.key}"
        for name in field.purposes:
            if name not in self._purposes:
                msg = (
                    f"{path}.purposes: field {field.key!r} serves purpose {name!r}, which is "
                    f"not declared; declared purposes: {sorted(self._purposes)}. Declare it "
                    "under purposes or remove it from the field"
                )
                raise PolicyError(msg)
        implied = _dpv.DATA_CATEGORIES[field.category].special
        if implied is not None and field.special_category is not SpecialCategory(implied):
            msg = (
                f"{path}.special_category: field {field.key!r} has category "
                f"{field.category!r}, which is special-category data (Art. 9(1)); set "
                f"special_category = {implied!r} and an art9_condition"
            )
            raise PolicyError(msg)
        if field.special_category is not None and field.art9_condition is None:
            msg = (
                f"{path}.art9_condition: field {field.key!r} holds special-category data "
                f"({str(field.special_category)!r}) without an Art. 9(2) condition; set "
                f"art9_condition (one of {[c.value for c in Art9Condition]}) or stop "
                "processing it"
            )
            raise PolicyError(msg)
        if field.art9_condition is not None and field.special_category is None:
            msg = (
                f"{path}.special_category: field {field.key!r} has an Art. 9(2) condition but "
                "no special category; set special_category or remove art9_condition"
            )
            raise PolicyError(msg)
        if field.identifier is IdentifierKind.DIRECT and field.treatment is Treatment.KEEP:
            msg = (
                f"{path}.treatment: field {field.key!r} is a direct identifier with treatment "
                "'keep', so anonymised records would still identify people; use 'drop', "
                "'pseudonymise' or 'generalise'"
            )
            raise PolicyError(msg)

    # ------------------------------------------------------------------ lookups

    def purpose(self, key: str) -> Purpose:
        """The purpose declared under ``key``.

        Raises:
            PolicyError: No such purpose is declared.
        """
        try:
            return self._purposes[key]
        except (KeyError, TypeError):
            raise _declared("purpose", key, self._purposes) from None

    def field(self, key: str) -> Field:
        """The field declared under ``key``.

        Raises:
            PolicyError: No such field is declared.
        """
        try:
            return self._fields[key]
        except (KeyError, TypeError):
            raise _declared("field", key, self._fields) from None

    def recipient(self, key: str) -> Recipient:
        """The recipient declared under ``key``.

        Raises:
            PolicyError: No such recipient is declared.
        """
        try:
            return self._recipients[key]
        except (KeyError, TypeError):
            raise _declared("recipient", key, self._recipients) from None

    def may_use(self, field: str, purpose: str) -> bool:
        """Whether the inventory declares ``field`` as serving ``purpose``.

        This is the inventory's half of a permission; whether a subject consented or
        objected is the consent ledger's.

        Raises:
            PolicyError: ``field`` or ``purpose`` is not declared.
        """
        declared_field = self.field(field)
        self.purpose(purpose)
        return purpose in declared_field.purposes

    def fields_for(self, purpose: str) -> tuple[Field, ...]:
        """The fields serving ``purpose``, in declaration order.

        Raises:
            PolicyError: ``purpose`` is not declared.
        """
        self.purpose(purpose)
        return tuple(field for field in self.fields if purpose in field.purposes)

    def purposes_for(self, field: str) -> tuple[Purpose, ...]:
        """The purposes ``field`` serves, in the inventory's purpose order.

        Raises:
            PolicyError: ``field`` is not declared.
        """
        serves = self.field(field).purposes
        return tuple(purpose for purpose in self.purposes if purpose.key in serves)

    def recipients_for(self, purpose: str) -> tuple[Recipient, ...]:
        """The recipients ``purpose`` discloses data to.

        Raises:
            PolicyError: ``purpose`` is not declared.
        """
        return tuple(self._recipients[key] for key in self.purpose(purpose).recipients)

    def by_purpose(self) -> dict[str, PurposeUse]:
        """Every purpose with its basis and the fields it uses, keyed by purpose key."""
        return {
            purpose.key: PurposeUse(purpose=purpose, fields=self.fields_for(purpose.key))
            for purpose in self.purposes
        }

    @property
    def categories(self) -> frozenset[str]:
        """The DPV personal-data terms the fields use (e.g. ``{"EmailAddress", "Name"}``)."""
        return frozenset(field.category for field in self.fields)

    @property
    def authority(self) -> SupervisoryAuthority:
        """The controller's supervisory authority: declared, or that of its country.

        Raises:
            PolicyError: none is declared and avgkit knows none for the controller's country.

        .. versionadded:: 0.2.0
        """
        declared = self.controller.authority
        return declared if declared is not None else authority_for(self.controller.country)

    def jurisdiction(self, country: str | None = None) -> Jurisdiction:
        """The rules of ``country`` (the controller's by default): Art. 8 age and authority.

        A venue operating in two countries asks for the other one by code: for the
        controller's own country the declared :attr:`Controller.authority` counts, for
        another avgkit's :data:`~avgkit.inventory.AUTHORITIES` (``authority`` is ``None``
        when it knows none; :meth:`Jurisdiction.require_authority` refuses then).

        Raises:
            ValidationError: ``country`` is not an ISO 3166-1 alpha-2 code.

        .. versionadded:: 0.2.0
        """
        own = self.controller.country
        wanted = own if country is None else country
        declared = self.controller.authority if wanted == own else None
        return Jurisdiction.of(wanted, declared)

    @property
    def third_country_recipients(self) -> tuple[Recipient, ...]:
        """The recipients outside the EEA."""
        return tuple(recipient for recipient in self.recipients if recipient.third_country)

    # ------------------------------------------------------------------ the register

    def register(self) -> ProcessingRegister:
        """The Art. 30(1) record of processing activities: one activity per purpose."""
        recipients = {r.key: _register_recipient(r) for r in self.recipients}
        activities = []
        for purpose in self.purposes:
            fields = self.fields_for(purpose.key)
            activities.append(
                ProcessingActivity(
                    purpose=purpose.key,
                    description=purpose.description,
                    basis=purpose.basis,
                    direct_marketing=purpose.direct_marketing,
                    profiling=purpose.profiling,
                    subject_categories=purpose.subject_categories,
                    field_keys=tuple(field.key for field in fields),
                    data_categories=tuple(dict.fromkeys(field.category for field in fields)),
                    special_categories=tuple(
                        dict.fromkeys(
                            (field.special_category, field.art9_condition)
                            for field in fields
                            if field.special_category is not None
                            and field.art9_condition is not None
                        )
                    ),
                    recipients=tuple(recipients[key] for key in purpose.recipients),
                    retention=purpose.retention,
                    dpv_purpose=purpose.dpv_purpose,
                )
            )
        return ProcessingRegister(
            controller=self.controller,
            activities=tuple(activities),
            recipients=tuple(recipients.values()),
            security_measures=self.security_measures,
        )

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_mapping(cls, data: object) -> Inventory:
        """Build an inventory from a policy-file mapping (parsed TOML or JSON).

        Purposes, fields and recipients are tables keyed by their key::

            [purposes.newsletter]
            basis = "consent"
            direct_marketing = true
            description = { nl = "Nieuwsbrief", en = "Newsletter" }

        Raises:
            ValidationError: The mapping does not match the shipped JSON Schema or holds a
                malformed value; the message names the dotted path (``purposes.newsletter.basis``)
                and what was expected.
            PolicyError: The declaration contradicts itself.

        The first problem is raised, saying how many more there are; ``avgkit policy
        check`` lists them all.

        .. versionchanged:: 0.2.0
           Unknown values and keys name the known one they most likely misspell; a
           generaliser is checked here, not at the first ``anonymise()``.
        """
        return _policyfile.load(data, cls)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Inventory:
        """Load an inventory from a ``.toml`` or ``.json`` policy file.

        Raises:
            ValidationError: The file cannot be read or parsed, or is invalid (see
                :meth:`from_mapping`).
            PolicyError: The declaration contradicts itself.

        Every message starts with the file's path as given, then the dotted location
        inside it (``policy/avg.toml: purposes.newsletter.basis: ...``).

        .. versionchanged:: 0.2.0
           Messages start with the file's path; contradictions name the file too.
        """
        return _policyfile.load_file(path, cls)

    def to_mapping(self) -> dict[str, Any]:
        """The inventory as a policy-file mapping, ready for ``json.dumps``.

        ``Inventory.from_mapping(inventory.to_mapping()) == inventory``.
        """
        return _policyfile.parts_to_mapping(self)

    @classmethod
    def from_classes(
        cls,
        *classes: type,
        controller: Controller,
        purposes: Iterable[Purpose],
        recipients: Iterable[Recipient] = (),
        fields: Iterable[Field] = (),
        security_measures: Texts | Mapping[str, str] | None = None,
    ) -> Inventory:
        """Build an inventory from attrs classes whose attributes are tagged with :func:`tag`.

        Untagged attributes are not personal data and are skipped. A field key found on more
        than one class must carry the same tag everywhere; it is listed once.

        Args:
            classes: The host's attrs model classes.
            controller: The controller.
            purposes: The purposes.
            recipients: The recipients.
            fields: Further fields not declared on a class.
            security_measures: The Art. 30(1)(g) description.

        Raises:
            ValidationError: A class is not an attrs class, or a tag is malformed.
            PolicyError: Two classes tag the same key differently, or the result
                contradicts itself.
        """
        collected: dict[str, Field] = {}
        extra = list(fields)
        for field in [f for c in classes for f in fields_from_class(c)] + extra:
            seen = collected.get(field.key)
            if seen is not None and seen != field:
                msg = (
                    f"fields.{field.key}: the key is tagged twice with different tags; make the "
                    "tags equal or give one of them another key with tag(key=...)"
                )
                raise PolicyError(msg)
            collected[field.key] = field
        return cls(
            controller=controller,
            purposes=tuple(purposes),
            fields=tuple(collected.values()),
            recipients=tuple(recipients),
            security_measures=security_measures,
        )


_Keyed = TypeVar("_Keyed", Purpose, Field, Recipient)


def _index(section: str, values: tuple[_Keyed, ...]) -> dict[str, _Keyed]:
    index: dict[str, _Keyed] = {}
    for value in values:
        if value.key in index:
            msg = f"{section}.{value.key}: the key {value.key!r} is declared twice; keys are unique"
            raise PolicyError(msg)
        index[value.key] = value
    return index


def _check_recipient(recipient: Recipient) -> None:
    path = f"recipients.{recipient.key}.transfer_mechanism"
    if recipient.third_country and recipient.transfer_mechanism is None:
        msg = (
            f"{path}: recipient {recipient.key!r} is in {recipient.country}, outside the EEA, "
            "with no transfer mechanism (Chapter V); set transfer_mechanism to one of "
            f"{[m.value for m in TransferMechanism]}"
        )
        raise PolicyError(msg)
    if not recipient.third_country and recipient.transfer_mechanism is not None:
        msg = (
            f"{path}: recipient {recipient.key!r} is in {recipient.country}, inside the EEA, "
            "where no transfer mechanism applies; remove it or correct the country"
        )
        raise PolicyError(msg)


def _register_recipient(recipient: Recipient) -> RegisterRecipient:
    return RegisterRecipient(
        key=recipient.key,
        name=recipient.name,
        role=recipient.role,
        country=recipient.country,
        third_country=recipient.third_country,
        transfer_mechanism=recipient.transfer_mechanism,
    )
