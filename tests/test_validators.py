"""The shared validators: keys, and how rejected values may appear in messages."""

from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from avgkit import _validators
from avgkit.audit import GENESIS_HASH, AuditEntry
from avgkit.breach import BreachFacts, BreachKind, BreachUpdate, Headcount
from avgkit.consent import Evidence
from avgkit.errors import ValidationError
from avgkit.inventory import Field, IdentifierKind, LawfulBasis, Purpose, Texts
from avgkit.pseudonym import KeyKind, StoredKey


@pytest.mark.parametrize("bad", ["newsletter\n", "News", "1st", "", "a-b", "x" * 65, 3, None])
def test_keys_are_lower_snake_case_with_no_trailing_newline(bad):
    with pytest.raises(ValidationError):
        _validators.key(bad, "purpose")


@pytest.mark.parametrize(
    "secret", ["jan.jansen@example.nl", "Jan Jansen", "06 12345678\n", "admin@x.nl"]
)
def test_rejected_values_that_may_be_personal_data_are_never_echoed(secret):
    with pytest.raises(ValidationError) as info:
        _validators.key(secret, "actor")
    assert secret.strip() not in str(info.value)
    assert f"{len(secret)}-character string" in str(info.value)


def test_a_key_like_typo_is_quoted_so_it_is_easy_to_spot():
    with pytest.raises(ValidationError, match="'News'"):
        _validators.key("News", "purpose")


# --------------------------------------------------------------------------- one family


NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
TEXTS = Texts(nl="tekst", en="text")
WORDING = "a" * 64
EVIDENCE = {"channel": "webshop", "notice_version": "v1", "wording_sha256": WORDING}
ENTRY = {
    "seq": 1,
    "at": NOW,
    "action": "consent.given",
    "actor": "system",
    "subject_ref": None,
    "details": {},
    "prev_hash": GENESIS_HASH,
    "hash": GENESIS_HASH,
}


def _update(**changes):
    values = {"at": NOW, "version": 2, "note": "n", "changed": (), "actor": "staff"}
    return BreachUpdate(**{**values, **changes})


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: Purpose(key="Ticket Sale", description=TEXTS, basis=LawfulBasis.CONSENT),
            r"^Purpose\.key must be a lower snake-case key",
        ),
        (lambda: Headcount(minimum=-1, maximum=2), r"^Headcount\.minimum must be between 0 and"),
        (lambda: _update(actor="Jan Jansen"), r"^BreachUpdate\.actor must be a lower snake-case"),
        (lambda: _update(at=datetime(2026, 1, 7)), r"^BreachUpdate\.at is a naive datetime"),  # noqa: DTZ001
        (
            lambda: Evidence(**{**EVIDENCE, "channel": "fax"}),
            r"^Evidence\.channel 'fax' is not one",
        ),
        (
            lambda: Evidence(**{**EVIDENCE, "order_ref": " "}),
            r"^Evidence\.order_ref must be non-empty",
        ),
        (
            lambda: AuditEntry(**{**ENTRY, "hash": "ABC"}),
            r"^AuditEntry\.hash must be 64 lower-case",
        ),
        (
            lambda: StoredKey(key_id="k1", kind="nope", material=b"x", created_at=NOW),
            r"^StoredKey\.kind 'nope' is not one of \['pseudonym', 'token', 'subject', 'secret'\]",
        ),
    ],
)
def test_value_classes_of_every_package_name_owner_and_attribute(build, match):
    with pytest.raises(ValidationError, match=match) as info:
        build()
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_the_policy_loader_can_split_an_attribute_error_into_attribute_and_problem():
    with pytest.raises(_validators.InvalidAttributeError) as info:
        Headcount(minimum=1, maximum="many")
    assert info.value.attribute == "maximum"
    assert info.value.problem == "must be a whole number, got str"


def test_plain_checks_name_what_was_checked_and_chain_nothing():
    with pytest.raises(ValidationError, match=r"^now is a naive datetime") as info:
        _validators.aware(datetime(2026, 1, 1), "now")  # noqa: DTZ001
    assert info.value.__context__ is None
    with pytest.raises(ValidationError, match=r"^note is 5 characters long; at most 4"):
        _validators.text("x" * 5, "note", max_length=4)
    with pytest.raises(ValidationError, match=r"^kind 'nope' is not one of"):
        _validators.member(KeyKind, "nope", "kind")
    assert _validators.member(KeyKind, "token", "kind") is KeyKind.TOKEN
    assert _validators.aware(NOW.astimezone(timezone(timedelta(hours=2))), "at") == NOW


# -- where two styles disagreed, the stricter one now holds for all


def test_audit_entry_refuses_a_bool_seq_and_a_non_string_subject_ref_as_validation_errors():
    with pytest.raises(ValidationError, match=r"AuditEntry\.seq must be a whole number, got bool"):
        AuditEntry(**{**ENTRY, "seq": True})
    with pytest.raises(ValidationError, match=r"AuditEntry\.subject_ref must be a string"):
        AuditEntry(**{**ENTRY, "subject_ref": 5})


def test_ordered_breach_sequences_take_a_list_or_tuple_only():
    assert _update(changed=["summary"]).changed == ("summary",)
    with pytest.raises(ValidationError, match=r"BreachUpdate\.changed"):
        _update(changed={"summary", "system"})  # a set has no order to keep


def test_unordered_sequences_still_take_any_iterable_in_a_fixed_order():
    convert = _validators.member_set
    assert convert(KeyKind, {"subject", "pseudonym"}) == (KeyKind.PSEUDONYM, KeyKind.SUBJECT)
    assert convert(KeyKind, iter(["token", "token"])) == (KeyKind.TOKEN,)
    assert convert(KeyKind, "token") == "token"  # left for the validator to refuse


@pytest.mark.parametrize("secret", ["Jan Jansen", "jan@example.org"])
def test_unknown_data_categories_are_not_echoed(secret):
    with pytest.raises(ValidationError) as info:
        Field(key="x", category=secret, identifier=IdentifierKind.DIRECT, purposes=("p",))
    assert secret not in str(info.value)
    with pytest.raises(ValidationError) as info:
        attrs.evolve(breach_facts_example(), categories=("EmailAddress", secret))
    assert secret not in str(info.value)
    assert "not supported DPV" in str(info.value)


def breach_facts_example():
    return BreachFacts(
        summary="s",
        system="mail platform",
        categories=("EmailAddress",),
        subjects=Headcount.exactly(3),
        subject_group="visitors",
        contact_details_known=True,
        root_cause="r",
        occurred_from=NOW,
        kinds=(BreachKind.CONFIDENTIALITY,),
        likely_consequences="c",
        measures_taken="m",
        contact_point="p",
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda text: _validators.text(text, "a note"),
        lambda text: Evidence.from_wording("Ja.", channel="webshop", notice_version=text),
        lambda text: attrs.evolve(breach_facts_example(), summary=text),
    ],
)
def test_text_with_a_nul_character_is_refused_on_every_adapter_alike(build):
    """PostgreSQL cannot store NUL in text: the values refuse it before any store sees it."""
    with pytest.raises(ValidationError, match="NUL") as info:
        build("Jan\x00Jansen")
    assert "Jansen" not in str(info.value)
    build("Jan Jansen")  # the same text without it is fine


@pytest.mark.parametrize(
    ("field", "bad"),
    [("seq", object()), ("seq", 2**63), ("subject_ref", object()), ("prev_hash", object())],
)
def test_sealing_refuses_each_bad_field_before_hashing(field, bad):
    """Not an encoder's TypeError: the field that is wrong, as a ValidationError."""
    fields = {
        "seq": 1,
        "at": NOW,
        "action": "test.seal",
        "actor": "system",
        "subject_ref": None,
        "details": {},
        "prev_hash": GENESIS_HASH,
    }
    with pytest.raises(ValidationError, match=f"AuditEntry.{field}"):
        AuditEntry.seal(**{**fields, field: bad})
