"""Policy files: TOML/JSON mappings to and from an :class:`~avgkit.inventory.Inventory` (private).

The mapping is checked against the shipped JSON Schema first, so that every error names the
dotted path inside the file (``purposes.newsletter.basis``) and what was expected. Messages
never repeat a value from the file: a file may hold personal data by mistake.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar

import jsonschema
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from avgkit import _validators
from avgkit._validators import KEY_PATTERN, InvalidAttributeError
from avgkit.errors import ValidationError
from avgkit.inventory._values import (
    Controller,
    Field,
    Purpose,
    Recipient,
    SupervisoryAuthority,
    Texts,
)
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

if TYPE_CHECKING:
    import os

MAX_DEPTH: Final = 32
"""Deeper nesting than this is refused (a policy file needs 4 levels)."""

MAX_FILE_BYTES: Final = 4 * 1024 * 1024
"""Larger policy files are refused before parsing."""

Format = Literal["toml", "json"]


@cache
def schema() -> dict[str, Any]:
    """The shipped JSON Schema of policy files."""
    text = resources.files("avgkit").joinpath("schemas/inventory.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


@cache
def _section_validator(name: str) -> jsonschema.Draft202012Validator:
    # The section's schema refers to the root's definitions (#/$defs/key, ...), so it is
    # checked through a reference into the registered root rather than as a schema of its own.
    root = schema()
    registry: Registry[Any] = Registry().with_resource(root["$id"], Resource.from_contents(root))
    reference = {"$ref": f"{root['$id']}#/properties/{name}"}
    return jsonschema.Draft202012Validator(reference, registry=registry)


# --------------------------------------------------------------------------- reading


def parts_from_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read, parse and validate a ``.toml`` or ``.json`` policy file; the inventory's parts."""
    return parts_from_mapping(document_from_file(path))


def document_from_file(path: str | os.PathLike[str]) -> object:
    """Read and parse a ``.toml`` or ``.json`` policy file, not yet validated.

    Every error is a :class:`ValidationError` naming the file (never its content).
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in {".toml", ".json"}:
        msg = f"policy file {file.name!r} must end in .toml or .json"
        raise ValidationError(msg)
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        msg = f"cannot read policy file {file.name!r}: {exc.strerror or type(exc).__name__}"
        raise ValidationError(msg) from exc
    if len(raw) > MAX_FILE_BYTES:
        msg = f"policy file {file.name!r} is larger than {MAX_FILE_BYTES} bytes"
        raise ValidationError(msg)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"policy file {file.name!r} is not UTF-8 text (byte {exc.start} is invalid)"
        raise ValidationError(msg) from None
    return parse(text, "toml" if suffix == ".toml" else "json", file.name)


class _DuplicateKeyError(ValueError):
    """A JSON object repeats a key (json.loads would silently keep the last one)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise _DuplicateKeyError(name)
        out[name] = value
    return out


def parse(text: str, fmt: Format, name: str = "policy file") -> object:
    """Parse policy-file text; syntax errors become :class:`ValidationError`.

    A JSON object that repeats a key is refused, as TOML refuses a repeated table: a second
    ``"newsletter"`` would otherwise silently replace the first, basis and all.
    """
    try:
        if fmt == "toml":
            return tomllib.loads(text)
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message gives line and column, never the offending text.
        msg = f"{name} is not valid TOML: {exc}"
        raise ValidationError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise ValidationError(msg) from None
    except _DuplicateKeyError as exc:
        msg = (
            f"{name} repeats the key {_validators.shown(exc.key)} within one object; each "
            "purpose, field and recipient is declared once"
        )
        raise ValidationError(msg) from None
    except (ValueError, RecursionError) as exc:
        msg = f"{name} cannot be parsed: {type(exc).__name__}"
        raise ValidationError(msg) from None


def parts_from_mapping(data: object) -> dict[str, Any]:
    """Validate a parsed policy file against the schema; the keyword arguments of an inventory."""
    document = _normalise(data, (), 0)
    error = best_match(_validator().iter_errors(document))
    if error is not None:
        raise ValidationError(_describe(error))
    if not isinstance(document, dict):  # pragma: no cover - the schema requires an object
        msg = "(top level): expected a table"
        raise ValidationError(msg)
    return _build_parts(document)


def section_from_mapping(data: object, name: str) -> object | None:
    """The top-level section ``name`` of a parsed policy file, validated against the schema.

    ``None`` if the file has no such section. Only that section is checked (the rest is the
    inventory's, see :func:`parts_from_mapping`); errors name the dotted path from the top of
    the file (``retention[1].period``), as :func:`parts_from_mapping` does.
    """
    if not isinstance(data, Mapping):
        msg = f"(top level): expected {_TYPE_WORDS['object']}, got {_kind(data)}"
        raise ValidationError(msg)
    if name not in data:
        return None
    section = _normalise(data[name], (name,), 1)
    error = best_match(_section_validator(name).iter_errors(section))
    if error is not None:
        raise ValidationError(_describe(error, (name,)))
    return section


def _normalise(value: object, path: tuple[str | int, ...], depth: int) -> object:
    """Plain dicts and lists only, string keys only, bounded depth (jsonschema needs these)."""
    if depth > MAX_DEPTH:
        msg = f"{_dotted(path)}: nested deeper than {MAX_DEPTH} levels"
        raise ValidationError(msg)
    if isinstance(value, Mapping):
        result: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                msg = f"{_dotted(path)}: keys must be strings, found a {type(key).__name__}"
                raise ValidationError(msg)
            result[key] = _normalise(item, (*path, key), depth + 1)
        return result
    if isinstance(value, list | tuple):
        return [_normalise(item, (*path, index), depth + 1) for index, item in enumerate(value)]
    return value


def _dotted(path: Iterable[str | int]) -> str:
    parts = []
    for part in path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif KEY_PATTERN.match(part) or part == "$schema":
            parts.append(f".{part}")
        else:
            shown = part if len(part) <= 40 else part[:37] + "..."  # noqa: PLR2004
            parts.append(f"[{json.dumps(shown)}]")
    dotted = "".join(parts).lstrip(".")
    return dotted or "(top level)"


_JSON_TYPES: Final = {
    dict: "a table",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


_SHORT_DESCRIPTION = 100

_TYPE_WORDS = {
    "object": "a table (an object)",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


def _kind(value: object) -> str:
    return _JSON_TYPES.get(type(value), f"a {type(value).__name__}")


def _describe(  # noqa: PLR0911 - one per keyword
    error: jsonschema.ValidationError, prefix: tuple[str | int, ...] = ()
) -> str:
    """A message naming where and what was expected, without repeating the value.

    ``prefix`` is the path of the validated instance inside the file, for a section.
    """
    path = _dotted((*prefix, *error.absolute_path))
    keyword = error.validator
    subschema = error.schema if isinstance(error.schema, Mapping) else {}
    expected = subschema.get("description")
    instance: Any = error.instance
    value: Any = error.validator_value
    if "propertyNames" in error.relative_schema_path:
        shown = _dotted([instance]) if isinstance(instance, str) else _kind(instance)
        return f"{path}: the key {shown} is invalid; keys must be {expected}"
    if keyword == "required":
        missing = [k for k in value if k not in instance]
        return f"{path}: missing required key(s) {missing}"
    if keyword == "additionalProperties":
        allowed = sorted(subschema.get("properties", {}))
        extra = sorted(k for k in instance if k not in allowed)
        return f"{path}: unexpected key(s) {[_dotted([k]) for k in extra]}; allowed: {allowed}"
    if keyword == "type":
        types = [value] if isinstance(value, str) else list(value)
        wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        # A short description ("a table of purposes keyed by purpose key") says more than
        # the JSON type; the long prose of the root schema does not read as an expectation.
        if expected and len(expected) <= _SHORT_DESCRIPTION:
            wanted = expected
        return f"{path}: expected {wanted}, got {_kind(instance)}"
    if keyword == "enum":
        return f"{path}: expected one of {value}"
    if keyword == "uniqueItems":
        return f"{path}: expected {expected or 'distinct items'}; an item is listed twice"
    if expected:
        return f"{path}: expected {expected}"
    return f"{path}: does not satisfy {keyword} {value!r}"  # pragma: no cover


# --------------------------------------------------------------------------- building


_T = TypeVar("_T")


def _make(path: str, factory: Callable[..., _T], values: Mapping[str, Any]) -> _T:
    try:
        return factory(**values)
    except InvalidAttributeError as exc:
        msg = f"{path}.{exc.attribute}: {exc.problem}"
        raise ValidationError(msg) from None


def _texts(path: str, value: Mapping[str, Any] | None) -> Texts | None:
    return None if value is None else _make(path, Texts, value)


def _build_parts(document: dict[str, Any]) -> dict[str, Any]:
    controller_values = dict(document["controller"])
    if "authority" in controller_values:
        authority = dict(controller_values["authority"])
        authority["name"] = _texts("controller.authority.name", authority["name"])
        controller_values["authority"] = _make(
            "controller.authority", SupervisoryAuthority, authority
        )
    controller = _make("controller", Controller, controller_values)
    purposes = []
    for key, entry in document["purposes"].items():
        path = f"purposes.{key}"
        values = dict(entry)
        values["description"] = _texts(f"{path}.description", entry["description"])
        values["retention"] = _texts(f"{path}.retention", entry.get("retention"))
        values["basis"] = LawfulBasis(entry["basis"])
        purposes.append(_make(path, Purpose, {"key": key, **values}))
    fields = []
    for key, entry in document["fields"].items():
        path = f"fields.{key}"
        values = dict(entry)
        values["description"] = _texts(f"{path}.description", entry.get("description"))
        values["identifier"] = IdentifierKind(entry["identifier"])
        values["treatment"] = Treatment(entry.get("treatment", "drop"))
        if "special_category" in entry:
            values["special_category"] = SpecialCategory(entry["special_category"])
        if "art9_condition" in entry:
            values["art9_condition"] = Art9Condition(entry["art9_condition"])
        values["origin"] = DataOrigin(entry.get("origin", "provided"))
        values["source"] = _texts(f"{path}.source", entry.get("source"))
        fields.append(_make(path, Field, {"key": key, **values}))
    recipients = []
    for key, entry in document.get("recipients", {}).items():
        values = dict(entry)
        values["role"] = RecipientRole(entry["role"])
        if "transfer_mechanism" in entry:
            values["transfer_mechanism"] = TransferMechanism(entry["transfer_mechanism"])
        recipients.append(_make(f"recipients.{key}", Recipient, {"key": key, **values}))
    return {
        "controller": controller,
        "purposes": tuple(purposes),
        "fields": tuple(fields),
        "recipients": tuple(recipients),
        "security_measures": _texts("security_measures", document.get("security_measures")),
    }


# --------------------------------------------------------------------------- writing


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class Declared(Protocol):
    """What :func:`parts_to_mapping` reads: the parts of an inventory."""

    @property
    def controller(self) -> Controller:
        """The controller."""
        ...

    @property
    def purposes(self) -> tuple[Purpose, ...]:
        """The purposes."""
        ...

    @property
    def fields(self) -> tuple[Field, ...]:
        """The fields."""
        ...

    @property
    def recipients(self) -> tuple[Recipient, ...]:
        """The recipients."""
        ...

    @property
    def security_measures(self) -> Texts | None:
        """The security measures."""
        ...


def parts_to_mapping(inventory: Declared) -> dict[str, Any]:
    """The policy-file mapping of an inventory's parts (no ``None``: TOML has no null)."""
    c = inventory.controller
    document: dict[str, Any] = {
        "controller": _without_none(
            {
                "name": c.name,
                "address": c.address,
                "email": c.email,
                "country": c.country,
                "dpo": c.dpo,
                "representative": c.representative,
                "authority": None if c.authority is None else c.authority.as_dict(),
            }
        ),
    }
    if inventory.security_measures is not None:
        document["security_measures"] = inventory.security_measures.as_dict()
    document["purposes"] = {
        p.key: _without_none(
            {
                "description": p.description.as_dict(),
                "basis": p.basis.value,
                "direct_marketing": p.direct_marketing,
                "profiling": p.profiling,
                "recipients": list(p.recipients),
                "subject_categories": list(p.subject_categories),
                "retention": None if p.retention is None else p.retention.as_dict(),
                "dpv_purpose": p.dpv_purpose,
                "automated_decisions": p.automated_decisions or None,
                "legal_claims": p.legal_claims or None,
            }
        )
        for p in inventory.purposes
    }
    document["fields"] = {
        f.key: _without_none(
            {
                "category": f.category,
                "identifier": f.identifier.value,
                "purposes": list(f.purposes),
                "treatment": f.treatment.value,
                "generaliser": f.generaliser,
                "special_category": None
                if f.special_category is None
                else f.special_category.value,
                "art9_condition": None if f.art9_condition is None else f.art9_condition.value,
                "description": None if f.description is None else f.description.as_dict(),
                "origin": None if f.origin is DataOrigin.PROVIDED else f.origin.value,
                "source": None if f.source is None else f.source.as_dict(),
            }
        )
        for f in inventory.fields
    }
    document["recipients"] = {
        r.key: _without_none(
            {
                "name": r.name,
                "role": r.role.value,
                "country": r.country,
                "transfer_mechanism": None
                if r.transfer_mechanism is None
                else r.transfer_mechanism.value,
            }
        )
        for r in inventory.recipients
    }
    return document
