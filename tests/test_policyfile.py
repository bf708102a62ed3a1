"""Policy files: TOML and JSON loading, schema validation with dotted paths, round trips."""

from __future__ import annotations

import contextlib
import copy
import json
from importlib import resources

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit import _dpv
from avgkit.errors import AvgkitError, PolicyError, ValidationError
from avgkit.inventory import (
    Art9Condition,
    IdentifierKind,
    Inventory,
    LawfulBasis,
    RecipientRole,
    SpecialCategory,
    TransferMechanism,
    Treatment,
    _policyfile,
)
from avgkit.presets import ticketing
from avgkit.testing.strategies import inventories

TOML = """
[controller]
name = "Voorbeeldpodium"
address = "Voorbeeldstraat 1, Groningen"
email = "privacy@venue.example"
country = "NL"

[security_measures]
nl = "HTTPS"
en = "HTTPS"

[purposes.ticket_sale]
basis = "contract"
description = { nl = "Kaartverkoop", en = "Ticket sale" }

[purposes.newsletter]
basis = "consent"
direct_marketing = true
recipients = ["mailer"]
description = { nl = "Nieuwsbrief", en = "Newsletter" }

[fields.email]
category = "EmailAddress"
identifier = "direct"
purposes = ["ticket_sale", "newsletter"]

[fields.postcode]
category = "PostalCode"
identifier = "quasi"
treatment = "generalise"
generaliser = "postcode_pc4"
purposes = ["ticket_sale"]

[recipients.mailer]
name = "Mail platform"
role = "processor"
country = "US"
transfer_mechanism = "standard_contractual_clauses"
"""


def valid():
    return {
        "controller": {
            "name": "Voorbeeldpodium",
            "address": "Voorbeeldstraat 1",
            "email": "privacy@venue.example",
            "country": "NL",
        },
        "purposes": {
            "newsletter": {
                "basis": "consent",
                "description": {"nl": "Nieuwsbrief", "en": "Newsletter"},
                "recipients": ["mailer"],
            }
        },
        "fields": {
            "email": {
                "category": "EmailAddress",
                "identifier": "direct",
                "purposes": ["newsletter"],
            }
        },
        "recipients": {"mailer": {"name": "Mailer", "role": "processor", "country": "NL"}},
    }


def with_change(path, value):
    data = valid()
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


DELETE = object()


def test_from_file_loads_toml(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(TOML, encoding="utf-8")
    inv = Inventory.from_file(path)
    assert inv.purpose("newsletter").basis is LawfulBasis.CONSENT
    assert inv.purpose("newsletter").direct_marketing
    assert inv.field("postcode").treatment is Treatment.GENERALISE
    assert (
        inv.recipient("mailer").transfer_mechanism is TransferMechanism.STANDARD_CONTRACTUAL_CLAUSES
    )
    assert inv.security_measures is not None


def test_from_file_loads_json_equal_to_the_same_toml(tmp_path):
    toml_path = tmp_path / "policy.toml"
    toml_path.write_text(TOML, encoding="utf-8")
    from_toml = Inventory.from_file(toml_path)
    json_path = tmp_path / "policy.json"
    json_path.write_text(json.dumps(from_toml.to_mapping()), encoding="utf-8")
    assert Inventory.from_file(str(json_path)) == from_toml


def test_from_mapping_accepts_a_schema_reference():
    data = valid() | {"$schema": "https://example.org/inventory.schema.json"}
    assert Inventory.from_mapping(data).field("email")


def test_optional_entries_get_their_defaults():
    inv = Inventory.from_mapping(valid())
    p = inv.purpose("newsletter")
    assert (p.direct_marketing, p.profiling, p.subject_categories) == (False, False, ("visitors",))
    assert inv.field("email").treatment is Treatment.DROP


def test_special_category_fields_load_with_their_condition():
    data = valid()
    data["fields"]["access"] = {
        "category": "Disability",
        "identifier": "sensitive",
        "purposes": ["newsletter"],
        "special_category": "health",
        "art9_condition": "explicit_consent",
    }
    f = Inventory.from_mapping(data).field("access")
    assert (f.special_category, f.art9_condition) == (
        SpecialCategory.HEALTH,
        Art9Condition.EXPLICIT_CONSENT,
    )


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (
            "purposes.newsletter.basis",
            "toestemming",
            r"^purposes\.newsletter\.basis: expected one of \[",
        ),
        (
            "purposes.newsletter.description",
            "Nieuwsbrief",
            r"^purposes\.newsletter\.description: expected a table with the text in Dutch",
        ),
        (
            "purposes.newsletter.description.en",
            DELETE,
            r"^purposes\.newsletter\.description: missing required key\(s\) \['en'\]",
        ),
        (
            "purposes.newsletter.direct_marketing",
            "yes",
            r"^purposes\.newsletter\.direct_marketing: expected true or false, got a string",
        ),
        (
            "purposes.newsletter.colour",
            "red",
            r"^purposes\.newsletter: unknown key 'colour'; allowed: \[",
        ),
        (
            "purposes.newsletter.recipients",
            ["mailer", "mailer"],
            r"^purposes\.newsletter\.recipients: .*listed twice",
        ),
        (
            "fields.email.category",
            "Email",
            r"^fields\.email\.category: expected a DPV 2\.3 personal-data term such as ",
        ),
        ("fields.email.purposes", [], r"^fields\.email\.purposes: expected a non-empty list"),
        ("fields.email.identifier", 3, r"^fields\.email\.identifier: expected one of"),
        (
            "recipients.mailer.country",
            "nl",
            r"^recipients\.mailer\.country: expected an ISO 3166-1 alpha-2",
        ),
        ("controller.email", "not an address", r"^controller\.email: expected an e-mail address"),
        ("controller.name", "   ", r"^controller\.name: expected non-blank text"),
        ("controller", DELETE, r"^\(top level\): missing required key\(s\) \['controller'\]"),
        (
            "purposes",
            [],
            r"^purposes: expected a table of purposes keyed by purpose key, got a list",
        ),
    ],
)
def test_invalid_files_name_the_dotted_path_and_what_was_expected(path, value, match):
    with pytest.raises(ValidationError, match=match):
        Inventory.from_mapping(with_change(path, value))


def test_an_invalid_table_key_is_named():
    data = valid()
    data["purposes"]["News Letter"] = data["purposes"].pop("newsletter")
    with pytest.raises(
        ValidationError,
        match=r'^purposes: the key \["News Letter"\] is invalid; keys must be a lower snake-case',
    ):
        Inventory.from_mapping(data)


def test_an_unknown_country_code_is_named_with_its_path():
    with pytest.raises(
        ValidationError, match=r"^recipients\.mailer\.country: must be an ISO 3166-1"
    ):
        Inventory.from_mapping(with_change("recipients.mailer.country", "XX"))


def test_a_generalise_without_generaliser_is_named_with_its_path():
    data = with_change("fields.email.treatment", "generalise")
    with pytest.raises(ValidationError, match=r"^fields\.email\.generaliser: is required"):
        Inventory.from_mapping(data)


def test_contradictions_in_a_file_are_policy_errors_with_the_dotted_path():
    data = with_change("fields.email.purposes", ["newsletter", "loyalty"])
    with pytest.raises(PolicyError, match=r"^fields\.email\.purposes: .*'loyalty'"):
        Inventory.from_mapping(data)


def test_error_messages_never_repeat_values_from_the_file():
    data = with_change("controller.email", "jan.jansen@@example.org")
    data["controller"]["name"] = 12345
    for payload in (data, with_change("purposes.newsletter.basis", "jan.jansen@example.org")):
        with pytest.raises(ValidationError) as info:
            Inventory.from_mapping(payload)
        assert "jan.jansen" not in str(info.value)
        assert "12345" not in str(info.value)


def test_from_mapping_refuses_non_string_keys():
    data = valid()
    data["fields"][1] = {}
    with pytest.raises(ValidationError, match=r"^fields: keys must be strings"):
        Inventory.from_mapping(data)


def test_from_mapping_refuses_deep_nesting():
    deep: object = {}
    for _ in range(100):
        deep = {"a": deep}
    with pytest.raises(ValidationError, match="nested deeper"):
        Inventory.from_mapping({"controller": deep})


@pytest.mark.parametrize("value", [None, [], "text", 3])
def test_from_mapping_refuses_a_document_that_is_not_a_table(value):
    with pytest.raises(ValidationError, match=r"^\(top level\): expected"):
        Inventory.from_mapping(value)


def test_from_mapping_accepts_tuples_and_read_only_mappings():
    import types

    data = valid()
    data["fields"]["email"]["purposes"] = ("newsletter",)
    assert Inventory.from_mapping(types.MappingProxyType(data)).field("email")


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("policy.yaml", b"a: 1", r"must end in \.toml or \.json"),
        ("policy.toml", b"[controller\nname = ", "not valid TOML"),
        ("policy.json", b'{"controller": ', r"not valid JSON: .* \(line 1, column"),
        ("policy.toml", b"\xff\xfe\x00garbage", "not UTF-8 text"),
        ("policy.json", b"[" * 100_000, "cannot be parsed|nested deeper|not valid JSON"),
        ("policy.json", b"1" * 5000, "cannot be parsed"),
        ("policy.json", b"[1, 2]", r"\(top level\): expected"),
    ],
)
def test_from_file_turns_unreadable_files_into_validation_errors(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=match):
        Inventory.from_file(path)


def test_from_file_reports_a_missing_file(tmp_path):
    with pytest.raises(ValidationError, match=r"cannot read policy file 'absent\.toml'"):
        Inventory.from_file(tmp_path / "absent.toml")


def test_from_file_refuses_a_huge_file(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (4 * 1024 * 1024 + 1))
    with pytest.raises(ValidationError, match="larger than"):
        Inventory.from_file(path)


# --------------------------------------------------------------------------- the schema


def _schema():
    text = resources.files("avgkit").joinpath("schemas/inventory.schema.json").read_text("utf-8")
    return json.loads(text)


def test_the_shipped_schema_is_a_valid_draft_2020_12_schema():
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("definition", "prop", "values"),
    [
        ("purpose", "basis", [m.value for m in LawfulBasis]),
        ("field", "identifier", [m.value for m in IdentifierKind]),
        ("field", "treatment", [m.value for m in Treatment]),
        ("field", "special_category", [m.value for m in SpecialCategory]),
        ("field", "art9_condition", [m.value for m in Art9Condition]),
        ("field", "category", sorted(_dpv.DATA_CATEGORIES)),
        ("recipient", "role", [m.value for m in RecipientRole]),
        ("recipient", "transfer_mechanism", [m.value for m in TransferMechanism]),
    ],
)
def test_the_schema_enums_equal_the_python_vocabularies(definition, prop, values):
    assert _schema()["$defs"][definition]["properties"][prop]["enum"] == values


def test_to_mapping_is_valid_against_the_schema():
    inv = Inventory.from_mapping(valid())
    jsonschema.Draft202012Validator(_schema()).validate(inv.to_mapping())


# --------------------------------------------------------------------------- properties


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(inventories())
def test_to_mapping_round_trips_through_from_mapping(inv):
    assert Inventory.from_mapping(inv.to_mapping()) == inv


@given(inventories())
def test_to_mapping_round_trips_through_json(inv):
    assert Inventory.from_mapping(json.loads(json.dumps(inv.to_mapping()))) == inv


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)
ANY_KEYS = st.recursive(
    st.none() | st.binary(max_size=4) | st.text(max_size=5) | st.integers(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children)
        | st.dictionaries(st.none() | st.integers() | st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=20,
)


@given(JSON_LIKE | ANY_KEYS)
def test_from_mapping_raises_only_avgkit_errors_on_arbitrary_values(value):
    with contextlib.suppress(AvgkitError):
        Inventory.from_mapping(value)


def _leaf_paths(node, prefix=()):
    if isinstance(node, dict):
        yield prefix
        for key, child in node.items():
            yield from _leaf_paths(child, (*prefix, key))
    elif isinstance(node, list):
        yield prefix
        for index, child in enumerate(node):
            yield from _leaf_paths(child, (*prefix, index))
    else:
        yield prefix


@given(inventories(), st.data(), JSON_LIKE)
def test_from_mapping_raises_only_avgkit_errors_when_one_value_is_replaced(inv, data, junk):
    document = copy.deepcopy(inv.to_mapping())
    path = data.draw(st.sampled_from(list(_leaf_paths(document))))
    if not path:
        document = junk
    else:
        node = document
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = junk
    with contextlib.suppress(AvgkitError):
        Inventory.from_mapping(document)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    st.sampled_from([".toml", ".json"]),
)
def test_from_file_raises_only_avgkit_errors_on_garbage(tmp_path, content, suffix):
    path = tmp_path / f"policy{suffix}"
    path.write_bytes(content)
    with contextlib.suppress(AvgkitError):
        Inventory.from_file(path)


def test_a_file_that_is_not_a_table_says_so_plainly():
    with pytest.raises(
        ValidationError, match=r"^\(top level\): expected a table \(an object\), got a list$"
    ):
        Inventory.from_mapping([])


def test_a_json_file_that_repeats_a_key_is_refused(tmp_path):
    data = valid()
    text = json.dumps(data)
    first = '"purposes": {'
    newsletter = json.dumps(data["purposes"]["newsletter"])
    doubled = text.replace(first, first + f'"newsletter": {newsletter}, ', 1)
    path = tmp_path / "policy.json"
    path.write_text(doubled, encoding="utf-8")
    with pytest.raises(ValidationError, match="repeats the key 'newsletter'"):
        Inventory.from_file(path)


def test_a_key_with_a_trailing_newline_is_refused():
    data = valid()
    data["purposes"]["newsletter\n"] = data["purposes"]["newsletter"]
    with pytest.raises(AvgkitError):
        Inventory.from_mapping(data)


# --------------------------------------------------------------------------- friendly files


def test_a_misspelt_value_gets_did_you_mean():
    with pytest.raises(ValidationError) as info:
        Inventory.from_mapping(with_change("purposes.newsletter.basis", "legitimate_interest"))
    assert str(info.value).startswith("purposes.newsletter.basis: expected one of [")
    assert str(info.value).endswith("did you mean 'legitimate_interests'?")


def test_a_category_in_other_words_gets_did_you_mean():
    with pytest.raises(ValidationError) as info:
        Inventory.from_mapping(with_change("fields.email.category", "DateOfBirth"))
    message = str(info.value)
    assert message.startswith("fields.email.category: expected a DPV 2.3 personal-data term")
    assert "did you mean 'BirthDate'?" in message
    assert len(message) < 300  # not all 231 terms


def test_every_dpv_term_is_accepted_in_a_file():
    data = with_change("fields.email.category", "Nationality")
    data["fields"]["email"]["identifier"] = "quasi"
    assert Inventory.from_mapping(data).field("email").category == "Nationality"


def test_a_misspelt_required_key_is_named_as_the_typo():
    data = valid()
    data["purposes"]["newsletter"]["basys"] = data["purposes"]["newsletter"].pop("basis")
    with pytest.raises(ValidationError) as info:
        Inventory.from_mapping(data)
    assert str(info.value) == "purposes.newsletter: unknown key 'basys' (did you mean 'basis'?)"


def test_an_unknown_key_near_an_optional_one_gets_did_you_mean():
    data = with_change("purposes.newsletter.profilng", True)
    with pytest.raises(ValidationError, match=r"unknown key 'profilng' \(did you mean 'profiling'"):
        Inventory.from_mapping(data)


def test_an_unknown_generaliser_is_refused_when_the_file_loads():
    data = with_change("fields.email.treatment", "generalise")
    data["fields"]["email"]["generaliser"] = "birth_year"
    with pytest.raises(ValidationError) as info:
        Inventory.from_mapping(data)
    message = str(info.value)
    assert message.startswith("fields.email.generaliser: not a built-in generaliser")
    assert "did you mean 'birth_date_year'?" in message
    assert "generalisers = [...]" in message


def test_a_generaliser_of_your_own_is_declared_in_the_file_and_round_trips():
    data = with_change("fields.email.treatment", "generalise")
    data["fields"]["email"]["generaliser"] = "loyalty_tier"
    data["generalisers"] = ["loyalty_tier"]
    inv = Inventory.from_mapping(data)
    assert inv.field("email").generaliser == "loyalty_tier"
    assert inv.to_mapping()["generalisers"] == ["loyalty_tier"]
    assert Inventory.from_mapping(inv.to_mapping()) == inv
    assert "generalisers" not in Inventory.from_mapping(valid()).to_mapping()


def test_the_built_in_generaliser_names_are_the_anonymisers():
    from avgkit.inventory._vocab import GENERALISER_NAMES
    from avgkit.pseudonym import GENERALISERS

    assert set(GENERALISERS) == GENERALISER_NAMES


def _several_problems():
    data = valid()
    data["purposes"]["newsletter"]["basis"] = "legitimate_interest"  # 1: a misspelt value
    data["recipients"]["mailer"]["country"] = "XX"  # 2: no such country
    data["fields"]["email"]["colour"] = "red"  # 3: an unknown key
    data["fields"]["phone"] = {  # 4: an undeclared purpose (a contradiction)
        "category": "TelephoneNumber",
        "identifier": "direct",
        "purposes": ["newsletter", "loyalty"],
    }
    data["recipients"]["cloud"] = {  # 5: outside the EEA without a transfer mechanism
        "name": "Cloud",
        "role": "processor",
        "country": "US",
    }
    return data


def test_problems_lists_every_problem_malformed_first_then_in_file_order():
    found = _policyfile.problems(_several_problems(), Inventory)
    assert [p.location for p in found] == [
        "purposes.newsletter.basis",
        "fields.email",
        "recipients.mailer.country",
        "fields.phone",
        "recipients.cloud",
    ]
    assert [p.policy for p in found] == [False, False, False, True, True]
    assert "did you mean 'legitimate_interests'" in found[0].message
    assert found[3].message.startswith("fields.phone.purposes: ")
    assert found[4].message.startswith("recipients.cloud.transfer_mechanism: ")
    assert found[0].as_dict()["kind"] == "invalid"
    assert found[3].as_dict()["kind"] == "contradiction"


def test_a_valid_file_has_no_problems():
    assert _policyfile.problems(valid(), Inventory) == []
    assert _policyfile.problems(ticketing.inventory().to_mapping(), Inventory) == []


def test_from_mapping_raises_the_first_problem_and_counts_the_rest():
    with pytest.raises(ValidationError) as info:
        Inventory.from_mapping(_several_problems())
    message = str(info.value)
    assert message.startswith("purposes.newsletter.basis: expected one of")
    assert message.endswith("(and 4 more problems: avgkit policy check lists them all)")


def test_a_purpose_naming_a_broken_recipient_is_not_reported_twice():
    data = with_change("recipients.mailer.country", "US")  # no transfer mechanism
    found = _policyfile.problems(data, Inventory)
    assert [p.location for p in found] == ["recipients.mailer"]


def test_from_file_names_the_file_by_its_path_then_the_dotted_location(tmp_path):
    path = tmp_path / "venue" / "avg.json"
    path.parent.mkdir()
    path.write_text(json.dumps(with_change("purposes.newsletter.basis", "vibes")))
    with pytest.raises(ValidationError) as info:
        Inventory.from_file(path)
    assert str(info.value).startswith(f"{path}: purposes.newsletter.basis: expected one of")


def test_from_file_names_the_file_in_a_contradiction_too(tmp_path):
    path = tmp_path / "avg.json"
    path.write_text(json.dumps(with_change("fields.email.purposes", ["newsletter", "loyalty"])))
    with pytest.raises(PolicyError) as info:
        Inventory.from_file(path)
    assert str(info.value).startswith(f"{path}: fields.email.purposes: ")


def test_a_file_with_several_problems_names_the_command_that_lists_them(tmp_path):
    path = tmp_path / "avg.json"
    path.write_text(json.dumps(_several_problems()))
    with pytest.raises(ValidationError) as info:
        Inventory.from_file(path)
    assert str(info.value).endswith(f"avgkit policy check {path} lists them all)")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(inventories(), st.data(), JSON_LIKE)
def test_problems_is_empty_exactly_when_the_file_loads(inv, data, junk):
    """The first problem is what from_mapping raises; no problems, and it loads."""
    document = copy.deepcopy(inv.to_mapping())
    path = data.draw(st.sampled_from(list(_leaf_paths(document))))
    if path:
        node = document
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = junk
    found = _policyfile.problems(document, Inventory)
    if not found:
        Inventory.from_mapping(document)
        return
    with pytest.raises(PolicyError if found[0].policy else ValidationError) as info:
        Inventory.from_mapping(document)
    assert str(info.value).startswith(found[0].message)


@given(st.text(max_size=30), st.lists(st.text(min_size=1, max_size=20), max_size=12))
def test_a_suggestion_is_always_a_known_name_and_never_the_typed_one(name, known):
    from avgkit._suggest import hint, suggest

    found = suggest(name, known)
    assert found is None or (found in known and found != name)
    assert hint(name, known) == ("" if found is None else f" (did you mean {found!r}?)")
