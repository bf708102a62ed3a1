"""The inventory values, their validation, the contradictions refused, lookups and tagging."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avgkit.errors import AvgkitError, PolicyError, ValidationError
from avgkit.inventory import (
    EEA_COUNTRIES,
    METADATA_KEY,
    SUPPORTED_CATEGORIES,
    Art9Condition,
    Controller,
    Field,
    FieldTag,
    IdentifierKind,
    Inventory,
    LawfulBasis,
    Purpose,
    PurposeUse,
    Recipient,
    RecipientRole,
    SpecialCategory,
    Texts,
    TransferMechanism,
    Treatment,
    category_label,
    tag,
)
from avgkit.testing.strategies import inventories

T = Texts(nl="tekst", en="text")
CONTROLLER = Controller(
    name="Voorbeeldpodium",
    address="Voorbeeldstraat 1, Groningen",
    email="p@x.example",
    country="NL",
)


def purpose(key="ticket_sale", basis=LawfulBasis.CONTRACT, **kw):
    return Purpose(key=key, description=T, basis=basis, **kw)


def field(key="email", purposes=("ticket_sale",), **kw):
    kw.setdefault("category", "EmailAddress")
    kw.setdefault("identifier", IdentifierKind.DIRECT)
    return Field(key=key, purposes=purposes, **kw)


def recipient(key="mailer", country="NL", **kw):
    kw.setdefault("role", RecipientRole.PROCESSOR)
    return Recipient(key=key, name="Mailer B.V.", country=country, **kw)


def inventory(purposes=None, fields=None, recipients=(), **kw):
    return Inventory(
        controller=CONTROLLER,
        purposes=[purpose()] if purposes is None else purposes,
        fields=[field()] if fields is None else fields,
        recipients=recipients,
        **kw,
    )


def small():
    return inventory(
        purposes=[
            purpose(),
            purpose(
                "newsletter", LawfulBasis.CONSENT, direct_marketing=True, recipients=("mailer",)
            ),
        ],
        fields=[
            field("email", ("ticket_sale", "newsletter")),
            field(
                "birth_date",
                ("ticket_sale",),
                category="BirthDate",
                identifier=IdentifierKind.QUASI,
                treatment=Treatment.GENERALISE,
                generaliser="birth_date_year",
            ),
        ],
        recipients=[recipient()],
    )


# --------------------------------------------------------------------------- vocabularies


def test_lawful_basis_values_are_snake_case_strings():
    assert [b.value for b in LawfulBasis] == [
        "consent",
        "contract",
        "legal_obligation",
        "vital_interests",
        "public_task",
        "legitimate_interests",
    ]


def test_lawful_basis_has_article_and_labels_in_both_languages():
    assert LawfulBasis.LEGITIMATE_INTERESTS.article == "Art. 6(1)(f)"
    assert LawfulBasis.CONSENT.label("nl") == "Toestemming"
    assert LawfulBasis.CONSENT.label("en") == "Consent"


@pytest.mark.parametrize(
    "kind", [LawfulBasis, SpecialCategory, Art9Condition, RecipientRole, TransferMechanism]
)
def test_every_vocabulary_member_has_an_article_and_distinct_labels_in_both_languages(kind):
    for member in kind:
        assert member.article.startswith("Art. ")
    for lang in ("nl", "en"):
        labels = [member.label(lang) for member in kind]
        assert all(labels)
        assert len(set(labels)) == len(labels)


def test_members_sharing_a_value_across_vocabularies_keep_their_own_metadata():
    assert LawfulBasis.VITAL_INTERESTS.article == "Art. 6(1)(d)"
    assert Art9Condition.VITAL_INTERESTS.article == "Art. 9(2)(c)"


def test_label_refuses_an_unsupported_language():
    with pytest.raises(ValidationError, match="language"):
        LawfulBasis.CONSENT.label("de")  # type: ignore[arg-type]


def test_special_categories_cover_article_9_1():
    assert len(SpecialCategory) == 8
    assert {c.article for c in SpecialCategory} == {"Art. 9(1)"}


def test_art49_derogation_has_no_iri_as_dpv_has_no_umbrella_term():
    assert TransferMechanism.ART49_DEROGATION.iri is None
    assert TransferMechanism.STANDARD_CONTRACTUAL_CLAUSES.iri is not None


def test_eea_is_the_eu_27_plus_iceland_liechtenstein_norway():
    assert len(EEA_COUNTRIES) == 30
    assert {"IS", "LI", "NO", "NL", "GR"} <= EEA_COUNTRIES
    assert not {"GB", "CH", "US", "EL"} & EEA_COUNTRIES


def test_category_label_gives_dutch_and_dpv_english_labels():
    assert category_label("EmailAddress", "nl") == "E-mailadres"
    assert category_label("EmailAddress", "en") == "Email Address"


def test_supported_categories_cover_the_seed_fields():
    assert {
        "Name",
        "PhysicalAddress",
        "PostalCode",
        "City",
        "Country",
        "EmailAddress",
        "TelephoneNumber",
        "BirthDate",
        "BankAccount",
        "IPAddress",
        "Gender",
        "PurchasesAndSpendingHabit",
    } <= SUPPORTED_CATEGORIES


# --------------------------------------------------------------------------- value validation


def test_texts_require_both_languages():
    with pytest.raises(ValidationError, match=r"Texts\.en"):
        Texts(nl="x", en=" ")


def test_texts_get_returns_the_language():
    assert Texts(nl="ja", en="yes").get("nl") == "ja"


def test_purpose_accepts_a_mapping_for_texts():
    p = Purpose(key="x", description={"nl": "a", "en": "b"}, basis=LawfulBasis.CONSENT)
    assert p.description == Texts(nl="a", en="b")


def test_purpose_is_immutable():
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        purpose().basis = LawfulBasis.CONSENT  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"key": "Ticket Sale"}, r"Purpose\.key must be a lower snake-case key"),
        ({"basis": "consent"}, r"Purpose\.basis must be a LawfulBasis"),
        ({"direct_marketing": "yes"}, r"Purpose\.direct_marketing must be True or False"),
        ({"recipients": "mailer"}, r"Purpose\.recipients must be a tuple"),
        ({"recipients": ("a", "a")}, r"Purpose\.recipients names \['a'\] more than once"),
        ({"subject_categories": ()}, r"Purpose\.subject_categories must name at least one"),
        ({"dpv_purpose": "DirectMarketing"}, r"Purpose\.dpv_purpose must be an absolute"),
        ({"description": "just text"}, r"Purpose\.description must be Texts"),
    ],
)
def test_purpose_refuses_bad_values_naming_the_attribute(kwargs, match):
    values = {"key": "x", "description": T, "basis": LawfulBasis.CONTRACT, **kwargs}
    with pytest.raises(ValidationError, match=match):
        Purpose(**values)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"category": "Email"}, r"Field\.category must be a DPV 2\.3 personal-data term"),
        ({"identifier": "direct"}, r"Field\.identifier must be a IdentifierKind"),
        ({"purposes": ()}, r"Field\.purposes must name at least one key"),
        ({"treatment": Treatment.GENERALISE}, r"Field\.generaliser is required"),
        ({"generaliser": "postcode_pc4"}, r"Field\.generaliser is only allowed with"),
        ({"special_category": "health"}, r"Field\.special_category must be a SpecialCategory"),
    ],
)
def test_field_refuses_bad_values_naming_the_attribute(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        field(**kwargs)


def test_generalised_field_names_its_generaliser():
    f = field(treatment=Treatment.GENERALISE, generaliser="email_domain")
    assert f.generaliser == "email_domain"


@pytest.mark.parametrize("country", ["nl", "XX", "NLD", 31])
def test_recipient_refuses_a_country_that_is_not_iso_alpha2_upper_case(country):
    with pytest.raises(ValidationError, match=r"Recipient\.country must be an ISO 3166-1"):
        recipient(country=country)


def test_controller_refuses_a_malformed_email_without_repeating_it():
    with pytest.raises(ValidationError, match=r"Controller\.email") as info:
        Controller(name="V", address="A", email="jan.jansen at home", country="NL")
    assert "jan.jansen" not in str(info.value)


def test_text_errors_never_repeat_the_text():
    secret = "Jan Jansen, jan@example.org " * 200
    with pytest.raises(ValidationError) as info:
        Controller(name=secret, address="A", email="p@x.example", country="NL")
    assert "Jan" not in str(info.value)


def test_recipient_knows_whether_it_is_in_a_third_country():
    assert not recipient(country="NO").third_country
    assert recipient(
        country="US", transfer_mechanism=TransferMechanism.ADEQUACY_DECISION
    ).third_country


def test_purpose_on_consent_needs_consent():
    assert purpose(basis=LawfulBasis.CONSENT).needs_consent
    assert not purpose(basis=LawfulBasis.CONTRACT).needs_consent


def test_objection_is_allowed_on_legitimate_interests_public_task_and_marketing():
    assert purpose(basis=LawfulBasis.LEGITIMATE_INTERESTS).objection_allowed
    assert purpose(basis=LawfulBasis.PUBLIC_TASK).objection_allowed
    assert purpose(basis=LawfulBasis.CONSENT, direct_marketing=True).objection_allowed
    assert not purpose(basis=LawfulBasis.CONTRACT).objection_allowed


def test_objection_is_absolute_only_for_direct_marketing():
    assert purpose(basis=LawfulBasis.LEGITIMATE_INTERESTS, direct_marketing=True).objection_absolute
    assert not purpose(basis=LawfulBasis.LEGITIMATE_INTERESTS).objection_absolute


def test_field_category_iri_is_the_pd_term():
    assert field().category_iri == "https://w3id.org/dpv/pd#EmailAddress"


# --------------------------------------------------------------------------- contradictions


def test_inventory_refuses_a_field_serving_an_undeclared_purpose():
    with pytest.raises(PolicyError, match=r"fields\.email\.purposes: .*'newsletter'.*declared"):
        inventory(fields=[field(purposes=("ticket_sale", "newsletter"))])


def test_inventory_refuses_a_purpose_naming_an_undeclared_recipient():
    with pytest.raises(PolicyError, match=r"purposes\.newsletter\.recipients: .*'mailer'"):
        inventory(
            purposes=[purpose(), purpose("newsletter", LawfulBasis.CONSENT, recipients=("mailer",))]
        )


def test_inventory_refuses_special_category_data_without_an_art9_condition():
    with pytest.raises(PolicyError, match=r"fields\.diet\.art9_condition"):
        inventory(
            fields=[
                field(
                    "diet",
                    category="Preference",
                    identifier=IdentifierKind.SENSITIVE,
                    special_category=SpecialCategory.HEALTH,
                )
            ]
        )


def test_inventory_refuses_an_art9_condition_without_a_special_category():
    with pytest.raises(PolicyError, match=r"fields\.email\.special_category"):
        inventory(fields=[field(art9_condition=Art9Condition.EXPLICIT_CONSENT)])


def test_inventory_refuses_a_special_category_term_not_marked_special():
    with pytest.raises(PolicyError, match=r"fields\.access\.special_category: .*'Disability'"):
        inventory(
            fields=[field("access", category="Disability", identifier=IdentifierKind.SENSITIVE)]
        )


def test_inventory_accepts_special_category_data_with_its_condition():
    inv = inventory(
        fields=[
            field(
                "access",
                category="Disability",
                identifier=IdentifierKind.SENSITIVE,
                special_category=SpecialCategory.HEALTH,
                art9_condition=Art9Condition.EXPLICIT_CONSENT,
            )
        ]
    )
    assert inv.field("access").special_category is SpecialCategory.HEALTH


@pytest.mark.parametrize(
    "basis",
    [
        LawfulBasis.CONTRACT,
        LawfulBasis.LEGAL_OBLIGATION,
        LawfulBasis.VITAL_INTERESTS,
        LawfulBasis.PUBLIC_TASK,
    ],
)
def test_inventory_refuses_direct_marketing_that_cannot_be_withdrawn_or_objected_to(basis):
    with pytest.raises(PolicyError, match=r"purposes\.ticket_sale\.basis: .*direct marketing"):
        inventory(purposes=[purpose(basis=basis, direct_marketing=True)])


@pytest.mark.parametrize("basis", [LawfulBasis.CONSENT, LawfulBasis.LEGITIMATE_INTERESTS])
def test_inventory_accepts_direct_marketing_on_consent_or_legitimate_interests(basis):
    assert inventory(purposes=[purpose(basis=basis, direct_marketing=True)])


def test_inventory_refuses_a_third_country_recipient_without_a_transfer_mechanism():
    with pytest.raises(PolicyError, match=r"recipients\.mailer\.transfer_mechanism: .*US"):
        inventory(recipients=[recipient(country="US")])


def test_inventory_refuses_a_transfer_mechanism_for_a_recipient_inside_the_eea():
    with pytest.raises(PolicyError, match=r"recipients\.mailer\.transfer_mechanism: .*inside"):
        inventory(
            recipients=[
                recipient(transfer_mechanism=TransferMechanism.STANDARD_CONTRACTUAL_CLAUSES)
            ]
        )


def test_inventory_accepts_a_third_country_recipient_with_a_mechanism():
    r = recipient(country="JP", transfer_mechanism=TransferMechanism.STANDARD_CONTRACTUAL_CLAUSES)
    assert inventory(recipients=[r]).third_country_recipients == (r,)


@pytest.mark.parametrize(
    ("section", "make"),
    [
        ("purposes", lambda: {"purposes": [purpose(), purpose()]}),
        ("fields", lambda: {"fields": [field(), field()]}),
        ("recipients", lambda: {"recipients": [recipient(), recipient()]}),
    ],
)
def test_inventory_refuses_duplicate_keys(section, make):
    with pytest.raises(PolicyError, match=rf"{section}\.\w+: the key .* is declared twice"):
        inventory(**make())


def test_inventory_refuses_a_direct_identifier_kept_on_anonymisation():
    with pytest.raises(PolicyError, match=r"fields\.email\.treatment"):
        inventory(fields=[field(treatment=Treatment.KEEP)])


def test_inventory_refuses_entries_of_the_wrong_type():
    with pytest.raises(ValidationError, match=r"Inventory\.fields must hold only Field"):
        inventory(fields=[purpose()])


# --------------------------------------------------------------------------- answers


def test_may_use_answers_whether_a_field_serves_a_purpose():
    inv = small()
    assert inv.may_use("email", "newsletter")
    assert not inv.may_use("birth_date", "newsletter")


@pytest.mark.parametrize(("f", "p"), [("phone", "newsletter"), ("email", "nieuwsbrief")])
def test_may_use_refuses_unknown_keys_naming_them_and_the_declared_ones(f, p):
    with pytest.raises(PolicyError, match=r"is not declared in the inventory; declared: \["):
        small().may_use(f, p)


def test_unknown_key_errors_do_not_echo_free_text():
    with pytest.raises(PolicyError) as info:
        small().field("jan@example.org")
    assert "jan@example.org" not in str(info.value)


def test_lookups_return_declared_entries():
    inv = small()
    assert inv.purpose("newsletter").basis is LawfulBasis.CONSENT
    assert inv.field("birth_date").category == "BirthDate"
    assert inv.recipient("mailer").name == "Mailer B.V."


@pytest.mark.parametrize("lookup", ["purpose", "field", "recipient"])
def test_lookups_of_undeclared_keys_raise_policy_error(lookup):
    with pytest.raises(PolicyError, match=lookup):
        getattr(small(), lookup)("nope")


def test_fields_for_and_purposes_for_list_in_declaration_order():
    inv = small()
    assert [f.key for f in inv.fields_for("ticket_sale")] == ["email", "birth_date"]
    assert [p.key for p in inv.purposes_for("email")] == ["ticket_sale", "newsletter"]


def test_recipients_for_lists_a_purposes_recipients():
    assert [r.key for r in small().recipients_for("newsletter")] == ["mailer"]


def test_by_purpose_lists_each_purpose_with_basis_and_fields():
    listing = small().by_purpose()
    assert list(listing) == ["ticket_sale", "newsletter"]
    assert isinstance(listing["newsletter"], PurposeUse)
    assert listing["newsletter"].basis is LawfulBasis.CONSENT
    assert listing["newsletter"].field_keys == ("email",)


def test_categories_are_the_data_categories_in_use():
    assert small().categories == frozenset({"EmailAddress", "BirthDate"})


@given(inventories(), st.data())
def test_may_use_agrees_with_fields_for(inv, data):
    f = data.draw(st.sampled_from(inv.fields)) if inv.fields else None
    p = data.draw(st.sampled_from(inv.purposes))
    if f is not None:
        assert inv.may_use(f.key, p.key) == (f in inv.fields_for(p.key))


# --------------------------------------------------------------------------- tagging


@attrs.define
class Visitor:
    customer_number: str
    email: str = attrs.field(
        metadata=tag(
            category="EmailAddress",
            identifier=IdentifierKind.DIRECT,
            purposes=("ticket_sale", "newsletter"),
        )
    )
    _postcode: str = attrs.field(
        metadata=tag(
            category="PostalCode",
            identifier=IdentifierKind.QUASI,
            purposes=["ticket_sale"],
            treatment=Treatment.GENERALISE,
            generaliser="postcode_pc4",
        )
    )
    seat_preference: str = "aisle"


@attrs.frozen
class Order:
    total: int
    buyer_email: str = attrs.field(
        metadata=tag(
            key="email",
            category="EmailAddress",
            identifier=IdentifierKind.DIRECT,
            purposes=("ticket_sale", "newsletter"),
        )
    )


PURPOSES = (purpose(), purpose("newsletter", LawfulBasis.CONSENT, direct_marketing=True))


def test_tag_puts_a_field_tag_under_the_namespaced_metadata_key():
    meta = attrs.fields(Visitor).email.metadata
    assert isinstance(meta[METADATA_KEY], FieldTag)


def test_tag_validates_where_it_is_written():
    with pytest.raises(ValidationError, match="generaliser"):
        tag(
            category="PostalCode",
            identifier=IdentifierKind.QUASI,
            purposes=["a"],
            treatment=Treatment.GENERALISE,
        )


def test_tag_refuses_purposes_given_as_one_string():
    with pytest.raises(ValidationError, match="not one string"):
        tag(category="Name", identifier=IdentifierKind.DIRECT, purposes="ticket_sale")


def test_from_classes_reads_tagged_attributes_and_skips_untagged_ones():
    inv = Inventory.from_classes(Visitor, controller=CONTROLLER, purposes=PURPOSES)
    assert [f.key for f in inv.fields] == ["email", "postcode"]
    assert inv.field("postcode").generaliser == "postcode_pc4"


def test_from_classes_uses_an_explicit_key_and_merges_equal_tags():
    inv = Inventory.from_classes(Visitor, Order, controller=CONTROLLER, purposes=PURPOSES)
    assert [f.key for f in inv.fields] == ["email", "postcode"]


def test_from_classes_refuses_one_key_tagged_differently():
    @attrs.define
    class Other:
        email: str = attrs.field(
            metadata=tag(
                category="EmailAddress", identifier=IdentifierKind.DIRECT, purposes=("ticket_sale",)
            )
        )

    with pytest.raises(PolicyError, match=r"fields\.email: the key is tagged twice"):
        Inventory.from_classes(Visitor, Other, controller=CONTROLLER, purposes=PURPOSES)


def test_from_classes_adds_extra_fields():
    extra = field("phone", category="TelephoneNumber")
    inv = Inventory.from_classes(Visitor, controller=CONTROLLER, purposes=PURPOSES, fields=[extra])
    assert inv.field("phone") == extra


def test_from_classes_refuses_a_class_that_is_not_an_attrs_class():
    class Plain:
        email: str

    with pytest.raises(ValidationError, match="Plain is not an attrs class"):
        Inventory.from_classes(Plain, controller=CONTROLLER, purposes=PURPOSES)


def test_from_classes_refuses_an_instance():
    with pytest.raises(ValidationError, match="instance is not an attrs class"):
        Inventory.from_classes(
            Order(total=1, buyer_email="x"),
            controller=CONTROLLER,  # type: ignore[arg-type]
            purposes=PURPOSES,
        )


def test_from_classes_refuses_an_attribute_name_that_is_not_a_key():
    @attrs.define
    class Camel:
        eMail: str = attrs.field(  # noqa: N815 - the point of the test
            metadata=tag(
                category="EmailAddress", identifier=IdentifierKind.DIRECT, purposes=("ticket_sale",)
            )
        )

    with pytest.raises(ValidationError, match=r"Camel\.eMail: .*tag\(key=\.\.\.\)"):
        Inventory.from_classes(Camel, controller=CONTROLLER, purposes=PURPOSES)


def test_from_classes_refuses_foreign_metadata_under_the_key():
    @attrs.define
    class Forged:
        email: str = attrs.field(metadata={METADATA_KEY: {"category": "EmailAddress"}})

    with pytest.raises(ValidationError, match="must come from tag"):
        Inventory.from_classes(Forged, controller=CONTROLLER, purposes=PURPOSES)


def test_from_classes_checks_the_result_for_contradictions():
    with pytest.raises(PolicyError, match="newsletter"):
        Inventory.from_classes(Visitor, controller=CONTROLLER, purposes=[purpose()])


def test_all_inventory_errors_are_avgkit_errors():
    assert issubclass(PolicyError, AvgkitError)
    assert issubclass(ValidationError, ValueError)
