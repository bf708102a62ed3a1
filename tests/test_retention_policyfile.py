"""Retention rules in the policy file: TOML and JSON, periods, dotted-path errors, the preset."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from avgkit.errors import AvgkitError, PolicyError, ValidationError
from avgkit.host import SubjectKind
from avgkit.inventory import Inventory
from avgkit.presets import ticketing
from avgkit.retention import (
    Action,
    RetentionPolicy,
    RetentionRule,
    Trigger,
    policy_from_file,
    policy_from_mapping,
)
from avgkit.retention._policyfile import PERIOD_UNITS, problems

INVENTORY_TOML = """
[controller]
name = "Voorbeeldpodium"
address = "Voorbeeldstraat 1, Groningen"
email = "privacy@venue.example"
country = "NL"

[purposes.ticket_sale]
basis = "contract"
description = { nl = "Kaartverkoop", en = "Ticket sale" }

[fields.email]
category = "EmailAddress"
identifier = "direct"
purposes = ["ticket_sale"]
"""

RETENTION_TOML = """
[[retention]]
key = "inactive_accounts"
applies_to = ["account"]
trigger = "inactivity"
activity_types = ["purchase", "login", "newsletter_read"]
period = { years = 2 }
warn_before = { days = 30 }
action = "delete"

[[retention]]
key = "camera_outside"
records = ["camera_outside"]
trigger = "collection"
period = { days = 7 }
action = "delete"
"""

EXPECTED = RetentionPolicy(
    (
        RetentionRule(
            key="inactive_accounts",
            applies_to="account",
            trigger=Trigger.INACTIVITY,
            activity_types={"purchase", "login", "newsletter_read"},
            period=relativedelta(years=2),
            warn_before=relativedelta(days=30),
            action=Action.DELETE,
        ),
        RetentionRule(
            key="camera_outside",
            records={"camera_outside"},
            trigger=Trigger.COLLECTION,
            period=relativedelta(days=7),
            action=Action.DELETE,
        ),
    )
)


def rules():
    """The two rules of RETENTION_TOML as a parsed mapping (a fresh copy each call)."""
    return [
        {
            "key": "inactive_accounts",
            "applies_to": ["account"],
            "trigger": "inactivity",
            "activity_types": ["purchase", "login", "newsletter_read"],
            "period": {"years": 2},
            "warn_before": {"days": 30},
            "action": "delete",
        },
        {
            "key": "camera_outside",
            "records": ["camera_outside"],
            "trigger": "collection",
            "period": {"days": 7},
            "action": "delete",
        },
    ]


def changed(index, name, value):
    """The section with one setting of one rule replaced (or removed, for DELETE)."""
    section = rules()
    if value is DELETE:
        del section[index][name]
    else:
        section[index][name] = value
    return {"retention": section}


DELETE = object()


def preset_path():
    return resources.files("avgkit.presets").joinpath(ticketing.POLICY_FILE)


# --------------------------------------------------------------------------- formats


def test_policy_from_file_loads_the_section_of_a_toml_policy_file(tmp_path):
    path = tmp_path / "avg.toml"
    path.write_text(INVENTORY_TOML + RETENTION_TOML, encoding="utf-8")
    policy = policy_from_file(path)
    assert policy == EXPECTED
    assert policy.fingerprint == EXPECTED.fingerprint


def test_policy_from_file_loads_a_json_policy_file_equal_to_the_toml_one(tmp_path):
    path = tmp_path / "avg.json"
    path.write_text(json.dumps({"retention": rules()}), encoding="utf-8")
    assert policy_from_file(str(path)) == EXPECTED


def test_a_yaml_file_is_refused_as_the_inventory_refuses_it(tmp_path):
    # The policy-file reader knows TOML and JSON only; YAML is refused the same way.
    path = tmp_path / "avg.yaml"
    path.write_text("retention: []\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"must end in \.toml or \.json"):
        policy_from_file(path)


def test_policy_from_mapping_looks_only_at_the_retention_section():
    assert policy_from_mapping({"retention": rules(), "controller": "not checked here"}) == EXPECTED


def test_an_empty_section_is_an_empty_policy():
    assert policy_from_mapping({"retention": []}).rules == ()


def test_tuples_and_read_only_mappings_are_accepted():
    import types

    section = tuple(types.MappingProxyType(rule) for rule in rules())
    assert policy_from_mapping(types.MappingProxyType({"retention": section})) == EXPECTED


# --------------------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ({"years": 2}, relativedelta(years=2)),
        ({"months": 24}, relativedelta(years=2)),
        ({"weeks": 1}, relativedelta(days=7)),
        (
            {"years": 1, "months": 6, "weeks": 1, "days": 3},
            relativedelta(years=1, months=6, days=10),
        ),
        ({"years": 2, "days": 0}, relativedelta(years=2)),
        ({"days": 7.0}, relativedelta(days=7)),
        ("P2Y", relativedelta(years=2)),
        ("P1M", relativedelta(months=1)),
        ("P7D", relativedelta(days=7)),
        ("P1W", relativedelta(days=7)),
        ("P24M", relativedelta(years=2)),
        ("P1Y6M3D", relativedelta(years=1, months=6, days=3)),
    ],
)
def test_periods_are_tables_of_calendar_units_or_iso_8601_durations(period, expected):
    rule = policy_from_mapping(changed(1, "period", period)).rule("camera_outside")
    assert rule.period == expected
    direct = RetentionRule(
        key="camera_outside",
        records={"camera_outside"},
        trigger="collection",
        period=expected,
        action="delete",
    )
    assert rule.describe() == direct.describe()


def test_a_period_in_whole_floats_has_the_fingerprint_of_the_same_integers():
    floats = policy_from_mapping(changed(0, "period", {"years": 2.0}))
    assert floats.fingerprint == EXPECTED.fingerprint


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("index", "name", "value", "match"),
    [
        (
            0,
            "trigger",
            "whenever",
            (
                r"^retention\[0\]\.trigger: expected one of "
                r"\['inactivity', 'event_date', 'collection', 'contract_end'\]$"
            ),
        ),
        (
            1,
            "action",
            "burn",
            r"^retention\[1\]\.action: expected one of \['delete', 'anonymise', 'review'\]$",
        ),
        (
            0,
            "applies_to",
            ["visitor"],
            (
                r"^retention\[0\]\.applies_to\[0\]: expected one of "
                r"\['account', 'guest', 'relation', 'attendee'\]$"
            ),
        ),
        (0, "applies_to", [], r"^retention\[0\]\.applies_to: expected a non-empty list"),
        (0, "applies_to", "account", r"^retention\[0\]\.applies_to: expected a non-empty list"),
        (
            0,
            "applies_to",
            ["account", "account"],
            r"^retention\[0\]\.applies_to: .*listed twice",
        ),
        (1, "records", ["Camera"], r"^retention\[1\]\.records\[0\]: expected a lower snake-case"),
        (
            1,
            "period",
            {"days": -7},
            r"^retention\[1\]\.period\.days: expected a whole number of days from 0 to 365000$",
        ),
        (
            1,
            "period",
            {"days": 0},
            r"^retention\[1\]\.period: expected a period longer than zero",
        ),
        (1, "period", "P0D", r"^retention\[1\]\.period: expected a period longer than zero"),
        (1, "period", {}, r"^retention\[1\]\.period: expected a period: a table of years"),
        (
            1,
            "period",
            {"hours": 3},
            (
                r"^retention\[1\]\.period: unknown key 'hours'; "
                r"allowed: \['days', 'months', 'weeks', 'years'\]$"
            ),
        ),
        (
            1,
            "period",
            {"fortnights": 1},
            r"^retention\[1\]\.period: unknown key 'fortnights'",
        ),
        (1, "period", "PT12H", r"^retention\[1\]\.period: expected a period: "),
        (1, "period", "7 days", r"^retention\[1\]\.period: expected a period: "),
        (1, "period", "P2Y\n", r"^retention\[1\]\.period: expected an ISO 8601 period"),
        (1, "period", 7, r"^retention\[1\]\.period: expected a period: .*, got an integer$"),
        (1, "period", {"days": 1.5}, r"^retention\[1\]\.period\.days: expected a whole number"),
        (1, "period", {"days": True}, r"^retention\[1\]\.period\.days: expected a whole number"),
        (1, "period", {"years": 1001}, r"^retention\[1\]\.period\.years: .* from 0 to 1000$"),
        (1, "period", "P1001Y", r"^retention\[1\]\.period\.years: expected at most 1000 years$"),
        (
            0,
            "warn_before",
            {"days": 0},
            r"^retention\[0\]\.warn_before: expected a period longer than zero",
        ),
        (
            0,
            "warn_before",
            {"years": 2},
            r"^retention\[0\]: retention rule 'inactive_accounts' warns no earlier than it acts",
        ),
        (
            1,
            "activity_types",
            ["login"],
            (
                r"^retention\[1\]\.activity_types: only a rule triggered by inactivity counts "
                r"activity types \(this rule's trigger is 'collection'\)"
            ),
        ),
        (
            0,
            "activity_types",
            DELETE,
            r"^retention\[0\]: missing required key\(s\) \['activity_types'\]",
        ),
        (1, "period", DELETE, r"^retention\[1\]: missing required key\(s\) \['period'\]$"),
        (
            1,
            "colour",
            "red",
            r"^retention\[1\]: unknown key 'colour'; allowed: \[",
        ),
        (1, "key", "Camera Outside", r"^retention\[1\]\.key: expected a lower snake-case key"),
        (
            1,
            "applies_to",
            ["account"],
            (
                r"^retention\[1\]: retention rule 'camera_outside' must apply either to subject "
                "kinds"
            ),
        ),
        (
            1,
            "action",
            "review",
            (
                r"^retention\[1\]: retention rule 'camera_outside': records are deleted or "
                "anonymised, not reviewed"
            ),
        ),
    ],
)
def test_bad_values_are_validation_errors_naming_the_dotted_path(index, name, value, match):
    with pytest.raises(ValidationError, match=match):
        policy_from_mapping(changed(index, name, value))


def test_an_attendee_rule_on_contract_end_is_refused_with_its_path():
    data = changed(0, "applies_to", ["attendee"])
    data["retention"][0]["trigger"] = "contract_end"
    del data["retention"][0]["activity_types"]
    with pytest.raises(ValidationError, match=r"^retention\[0\]: .*an attendee"):
        policy_from_mapping(data)


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ("rules", r"^retention: expected a list of retention rules"),
        ({"key": "x"}, r"^retention: expected a list of retention rules .*, got a table$"),
        (["x"], r"^retention\[0\]: expected a table \(an object\), got a string$"),
    ],
)
def test_a_section_that_is_not_a_list_of_tables_says_so(section, match):
    with pytest.raises(ValidationError, match=match):
        policy_from_mapping({"retention": section})


def test_two_contradicting_rules_are_a_policy_error_naming_the_later_one():
    section = rules()
    section.append(section[1] | {"key": "camera_outside_longer", "period": {"days": 30}})
    with pytest.raises(
        PolicyError,
        match=r"^retention\[2\]: retention rules 'camera_outside' and 'camera_outside_longer' "
        "contradict each other",
    ):
        policy_from_mapping({"retention": section})


def test_two_rules_with_one_key_are_a_policy_error_naming_the_second():
    section = rules()
    section.append(section[1] | {"records": ["camera_inside"]})
    with pytest.raises(
        PolicyError, match=r"^retention\[2\]: two retention rules are named 'camera_outside'"
    ):
        policy_from_mapping({"retention": section})


def test_a_mapping_without_a_retention_section_is_a_policy_error():
    with pytest.raises(PolicyError, match=r"^the policy file has no retention section"):
        policy_from_mapping({"controller": {}})


def test_a_file_without_a_retention_section_is_a_policy_error_naming_the_file(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "avg.toml").write_text(INVENTORY_TOML, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"^avg\.toml: the policy file has no retention section"):
        policy_from_file("avg.toml")


def test_errors_name_the_file_by_the_path_as_given(tmp_path):
    path = tmp_path / "venue" / "avg.toml"
    path.parent.mkdir()
    path.write_text(INVENTORY_TOML, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        policy_from_file(path)
    assert str(info.value).startswith(f"{path}: the policy file has no retention section")


@pytest.mark.parametrize("value", [None, [], "text", 3])
def test_a_document_that_is_not_a_table_is_refused(value):
    with pytest.raises(ValidationError, match=r"^\(top level\): expected a table"):
        policy_from_mapping(value)


def test_errors_from_a_file_name_the_file_and_the_dotted_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = Path("avg.toml")
    path.write_text(RETENTION_TOML.replace("{ days = 7 }", "{ days = -7 }"), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"^avg\.toml: retention\[1\]\.period\.days: "):
        policy_from_file(path)
    path.write_text(RETENTION_TOML + RETENTION_TOML, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"^avg\.toml: retention\[2\]: two retention rules"):
        policy_from_file(path)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("avg.toml", b"[[retention]\nkey = ", r"^avg\.toml is not valid TOML"),
        ("avg.json", b'{"retention": ', r"^avg\.json is not valid JSON"),
        ("avg.toml", b"\xff\xfe\x00garbage", "not UTF-8 text"),
    ],
)
def test_unreadable_files_are_validation_errors_naming_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=match):
        policy_from_file(path)


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(ValidationError, match=r"cannot read policy file 'absent\.toml'"):
        policy_from_file(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("name", "value"),
    [("trigger", "jan.jansen@example.org"), ("key", "Jan Jansen"), ("period", "Jan Jansen")],
)
def test_error_messages_never_repeat_values_from_the_file(name, value):
    with pytest.raises(ValidationError) as info:
        policy_from_mapping(changed(1, name, value))
    assert "jan" not in str(info.value).lower()


# --------------------------------------------------------------------------- the inventory


def test_the_inventory_loads_a_file_with_the_section_and_ignores_it(tmp_path):
    bare = tmp_path / "bare.toml"
    bare.write_text(INVENTORY_TOML, encoding="utf-8")
    full = tmp_path / "full.toml"
    full.write_text(INVENTORY_TOML + RETENTION_TOML, encoding="utf-8")
    assert Inventory.from_file(full) == Inventory.from_file(bare)
    assert "retention" not in Inventory.from_file(full).to_mapping()


def test_the_inventory_refuses_a_bad_section_naming_its_dotted_path(tmp_path):
    path = tmp_path / "avg.toml"
    path.write_text(
        INVENTORY_TOML + RETENTION_TOML.replace('"collection"', '"whenever"'), encoding="utf-8"
    )
    with pytest.raises(ValidationError, match=r"retention\[1\]\.trigger: expected one of \["):
        Inventory.from_file(path)


# --------------------------------------------------------------------------- the preset


def test_the_shipped_policy_file_holds_the_presets_retention_rules(tmp_path):
    path = tmp_path / ticketing.POLICY_FILE
    path.write_text(preset_path().read_text("utf-8"), encoding="utf-8")
    loaded = policy_from_file(path)
    assert loaded.fingerprint == ticketing.retention_policy().fingerprint
    assert loaded == ticketing.retention_policy()


def test_the_shipped_policy_file_still_loads_as_the_preset_inventory(tmp_path):
    path = tmp_path / ticketing.POLICY_FILE
    path.write_text(preset_path().read_text("utf-8"), encoding="utf-8")
    assert Inventory.from_file(path) == ticketing.inventory()


def test_the_preset_rules_round_trip_through_json(tmp_path):
    section = [_as_mapping(rule) for rule in ticketing.retention_policy().rules]
    path = tmp_path / "avg.json"
    path.write_text(json.dumps({"retention": section}), encoding="utf-8")
    assert policy_from_file(path).fingerprint == ticketing.retention_policy().fingerprint


def _period_mapping(period):
    units = {"years": period.years, "months": period.months, "days": period.days}
    return {unit: amount for unit, amount in units.items() if amount}


def _as_mapping(rule):
    entry = {
        "key": rule.key,
        "trigger": rule.trigger.value,
        "period": _period_mapping(rule.period),
        "action": rule.action.value,
    }
    if rule.applies_to:
        entry["applies_to"] = sorted(kind.value for kind in rule.applies_to)
    if rule.records:
        entry["records"] = sorted(rule.records)
    if rule.activity_types:
        entry["activity_types"] = sorted(rule.activity_types)
    if rule.warn_before is not None:
        entry["warn_before"] = _period_mapping(rule.warn_before)
    return entry


# --------------------------------------------------------------------------- the schema


def _schema():
    text = resources.files("avgkit").joinpath("schemas/inventory.schema.json").read_text("utf-8")
    return json.loads(text)


def test_the_extended_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(_schema())


@pytest.mark.parametrize(
    ("prop", "values"),
    [
        ("trigger", [m.value for m in Trigger]),
        ("action", [m.value for m in Action]),
    ],
)
def test_the_schema_enums_equal_the_python_vocabularies(prop, values):
    assert _schema()["$defs"]["retention_rule"]["properties"][prop]["enum"] == values


def test_the_schema_subject_kinds_equal_the_python_vocabulary():
    applies_to = _schema()["$defs"]["retention_rule"]["properties"]["applies_to"]
    assert applies_to["items"]["enum"] == [m.value for m in SubjectKind]


def test_the_schema_period_units_and_bounds_equal_the_loaders():
    units = _schema()["$defs"]["period"]["properties"]
    assert {unit: spec["maximum"] for unit, spec in units.items()} == PERIOD_UNITS


def test_the_longest_period_and_warning_stay_within_datetime():
    longest = relativedelta(**PERIOD_UNITS)
    assert datetime(2000, 1, 1, tzinfo=UTC) + longest < datetime.max.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- properties

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
AMOUNTS = st.dictionaries(
    st.sampled_from(list(PERIOD_UNITS)), st.integers(0, 500), min_size=1, max_size=4
).filter(lambda units: any(units.values()))
_LETTERS = {"years": "Y", "months": "M", "weeks": "W", "days": "D"}


def _iso(units):
    return "P" + "".join(f"{units[u]}{letter}" for u, letter in _LETTERS.items() if u in units)


@st.composite
def rule_cases(draw):
    """A valid rule as a policy-file mapping, with the RetentionRule it stands for."""
    trigger = draw(st.sampled_from(list(Trigger)))
    entry = {"key": draw(KEYS), "trigger": trigger.value}
    expected = {"key": entry["key"], "trigger": trigger}
    if trigger is Trigger.COLLECTION:
        entry["records"] = draw(st.lists(KEYS, min_size=1, max_size=3, unique=True))
        expected["records"] = frozenset(entry["records"])
        actions = [Action.DELETE, Action.ANONYMISE]
    else:
        kinds = [
            k for k in SubjectKind if (k, trigger) != (SubjectKind.ATTENDEE, Trigger.CONTRACT_END)
        ]
        chosen = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=4, unique=True))
        entry["applies_to"] = [kind.value for kind in chosen]
        expected["applies_to"] = frozenset(chosen)
        actions = list(Action)
    action = draw(st.sampled_from(actions))
    entry["action"] = action.value
    expected["action"] = action
    if trigger is Trigger.INACTIVITY:
        entry["activity_types"] = draw(st.lists(KEYS, min_size=1, max_size=3, unique=True))
        expected["activity_types"] = frozenset(entry["activity_types"])
    units = draw(AMOUNTS)
    entry["period"] = _iso(units) if draw(st.booleans()) else units
    expected["period"] = relativedelta(**units)
    if trigger is not Trigger.COLLECTION and draw(st.booleans()):
        warning = draw(AMOUNTS)
        anchor = datetime(2000, 1, 1, tzinfo=UTC)
        assume(anchor + relativedelta(**warning) < anchor + relativedelta(**units))
        entry["warn_before"] = _iso(warning) if draw(st.booleans()) else warning
        expected["warn_before"] = relativedelta(**warning)
    return entry, RetentionRule(**expected)


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(rule_cases())
def test_any_valid_rule_mapping_loads_as_the_directly_built_rule(case):
    entry, expected = case
    loaded = policy_from_mapping({"retention": [entry]})
    assert loaded.rules == (expected,)
    assert loaded.fingerprint == RetentionPolicy([expected]).fingerprint


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(rule_cases())
def test_any_valid_rule_round_trips_through_json_text(case):
    entry, expected = case
    text = json.dumps({"retention": [entry]})
    assert policy_from_mapping(json.loads(text)).rules == (expected,)


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(rule_cases(), st.data())
def test_a_rule_loads_exactly_when_its_direct_construction_succeeds(case, data):
    entry, _ = case
    # Swap one setting for another rule's: the loader and the value agree on what is valid.
    other, _ = data.draw(rule_cases())
    name = data.draw(st.sampled_from(sorted(other)))
    mixed = copy.deepcopy(entry) | {name: other[name]}
    try:
        direct = RetentionRule(
            key=mixed["key"],
            applies_to=frozenset(mixed.get("applies_to", ())),
            records=frozenset(mixed.get("records", ())),
            trigger=mixed["trigger"],
            period=_direct_period(mixed["period"]),
            action=mixed["action"],
            activity_types=frozenset(mixed.get("activity_types", ())),
            warn_before=None
            if "warn_before" not in mixed
            else _direct_period(mixed["warn_before"]),
        )
    except ValidationError:
        with pytest.raises(ValidationError):
            policy_from_mapping({"retention": [mixed]})
    else:
        assert policy_from_mapping({"retention": [mixed]}).rules == (direct,)


def _direct_period(value):
    if isinstance(value, dict):
        return relativedelta(**value)
    units = {}
    rest = value[1:]
    for unit, letter in _LETTERS.items():
        if letter in rest:
            amount, rest = rest.split(letter, 1)
            units[unit] = int(amount)
    return relativedelta(**units)


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)


@given(JSON_LIKE)
def test_arbitrary_sections_raise_only_avgkit_errors(value):
    with contextlib.suppress(AvgkitError):
        policy_from_mapping({"retention": value})


@given(rule_cases(), st.sampled_from(["key", "trigger", "period", "action"]), JSON_LIKE)
def test_one_replaced_setting_raises_only_avgkit_errors(case, name, junk):
    entry, _ = case
    with contextlib.suppress(AvgkitError):
        policy_from_mapping({"retention": [entry | {name: junk}]})


# --------------------------------------------------------------------------- every problem


def _section_with_several_problems():
    section = rules()
    section[0]["trigger"] = "inactive"  # 1: a misspelt value
    section[1]["peroid"] = section[1].pop("period")  # 2: a misspelt required key
    section.append(rules()[0])
    section.append(rules()[0])  # 3: the same rule twice (a contradiction)
    section.append(rules()[1] | {"key": "camera_2", "warn_before": {"days": 90}})  # 4
    return {"retention": section}


def test_problems_lists_every_rule_that_is_wrong():
    found = problems(_section_with_several_problems())
    assert [p.location for p in found] == [
        "retention[0].trigger",
        "retention[1]",
        "retention[4]",
        "retention[3]",
    ]
    assert "did you mean 'inactivity'?" in found[0].message
    assert found[1].message == "retention[1]: unknown key 'peroid' (did you mean 'period'?)"
    assert found[3].policy
    assert found[3].message.startswith("retention[3]: two retention rules are named")


def test_a_valid_section_and_a_missing_one_have_no_problems():
    assert problems({"retention": rules()}) == []
    assert problems({"controller": {}}) == []


def test_policy_from_mapping_raises_the_first_problem_counting_the_rest():
    with pytest.raises(ValidationError) as info:
        policy_from_mapping(_section_with_several_problems())
    message = str(info.value)
    assert message.startswith("retention[0].trigger: expected one of [")
    assert message.endswith("(and 3 more problems: avgkit policy check lists them all)")


def test_a_file_names_itself_in_the_command_that_lists_its_problems(tmp_path):
    path = tmp_path / "avg.json"
    path.write_text(json.dumps(_section_with_several_problems()), encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        policy_from_file(path)
    assert str(info.value).startswith(f"{path}: retention[0].trigger: ")
    assert str(info.value).endswith(f"avgkit policy check {path} lists them all)")
