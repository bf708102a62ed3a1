"""Policy files: TOML/JSON mappings to and from an :class:`~avgkit.inventory.Inventory` (private).

The mapping is checked against the shipped JSON Schema first, so that every error names the
dotted path inside the file (``purposes.newsletter.basis``) and what was expected, with the
known value or key a misspelt one most likely means. Messages never repeat a value from the
file: a file may hold personal data by mistake. :func:`problems` lists every problem of a
file, not only the first: ``avgkit policy check`` prints them.
"""

from __future__ import annotations

import functools
import json
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TypeVar

import attrs
import jsonschema
from referencing import Registry, Resource

from avgkit import _validators
from avgkit._suggest import hint, suggest
from avgkit._validators import KEY_PATTERN, InvalidAttributeError
from avgkit.errors import AvgkitError, PolicyError, ValidationError
from avgkit.inventory._values import (
    Controller,
    Field,
    Purpose,
    Recipient,
    SupervisoryAuthority,
    Texts,
)
from avgkit.inventory._vocab import (
    GENERALISER_NAMES,
    Art9Condition,
    DataOrigin,
    IdentifierKind,
    LawfulBasis,
    RecipientRole,
    SpecialCategory,
    TransferMechanism,
    Treatment,
)

MAX_DEPTH: Final = 32
"""Deeper nesting than this is refused (a policy file needs 4 levels)."""

MAX_FILE_BYTES: Final = 4 * 1024 * 1024
"""Larger policy files are refused before parsing."""

Format = Literal["toml", "json"]

GENERALISERS_KEY: Final = "generalisers"
"""The top-level list of a file's own generaliser names (the built-in ones need none)."""


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


# --------------------------------------------------------------------------- problems


@attrs.frozen
class Problem:
    """One thing wrong in a policy file: where inside it, and what.

    ``message`` starts with the dotted location (``purposes.newsletter.basis: ...``) and,
    like every message here, never repeats a value from the file.
    """

    path: tuple[str | int, ...]
    """Where, as keys and list indexes from the top of the file."""
    message: str
    """What is wrong and how to fix it, starting with the dotted location."""
    policy: bool = False
    """A contradiction (a :class:`PolicyError`) rather than a malformed value."""

    @property
    def location(self) -> str:
        """The dotted location (``purposes.newsletter.basis``, ``retention[1].period``)."""
        return _dotted(self.path)

    def as_dict(self) -> dict[str, object]:
        """``{"location": ..., "message": ..., "kind": "invalid" | "contradiction"}``."""
        return {
            "location": self.location,
            "message": self.message,
            "kind": "contradiction" if self.policy else "invalid",
        }


def ordered(document: object, problems: Iterable[Problem]) -> list[Problem]:
    """The problems without repeats, malformed values first, each kind in file order."""
    unique: dict[str, Problem] = {}
    for problem in problems:
        unique.setdefault(problem.message, problem)
    return sorted(unique.values(), key=lambda p: (p.policy, _position(document, p.path)))


def _position(document: object, path: tuple[str | int, ...]) -> tuple[int, ...]:
    """Where ``path`` is in the file: the index of each key in its table, in order."""
    found: list[int] = []
    node = document
    for part in path:
        if isinstance(node, dict) and part in node:
            found.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            found.append(part)
            node = node[part]
        else:
            break
    return tuple(found)


def first_error(problems: Sequence[Problem], name: str | None = None) -> AvgkitError:
    """The error for the first problem, ``name`` (the file) in front, counting the others."""
    first = problems[0]
    text = first.message if name is None else f"{name}: {first.message}"
    more = len(problems) - 1
    if more:
        command = "avgkit policy check" + ("" if name is None else f" {name}")
        text += f" (and {more} more problem{'s' if more > 1 else ''}: {command} lists them all)"
    return PolicyError(text) if first.policy else ValidationError(text)


def schema_problems(
    document: object,
    prefix: tuple[str | int, ...] = (),
    validator: jsonschema.Draft202012Validator | None = None,
) -> list[Problem]:
    """Every way ``document`` departs from the schema (or the section ``validator`` checks).

    A value of the wrong type is reported once, not again for each rule its type fails.
    """
    errors = list((validator or _validator()).iter_errors(document))
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    found: list[Problem] = []
    for error in errors:
        if error.validator != "type" and tuple(error.absolute_path) in mistyped:
            continue
        path = (*prefix, *error.absolute_path)
        found.extend(Problem(path, message) for message in _describe(error, prefix))
    return found


# --------------------------------------------------------------------------- reading


_Built = TypeVar("_Built")


def load(data: object, build: Callable[..., _Built], name: str | None = None) -> _Built:
    """Validate a parsed policy file and ``build(**parts)`` the inventory from it.

    Raises:
        ValidationError: The first malformed value, in file order (``name`` in front).
        PolicyError: The first contradiction, when nothing is malformed.
    """
    try:
        document = _normalise(data, (), 0)
    except ValidationError as exc:
        raise first_error([Problem((), str(exc))], name) from None
    if not isinstance(document, dict):
        raise first_error(schema_problems(document), name) from None
    if next(_validator().iter_errors(document), None) is None:
        try:
            return build(**_build_parts(document))
        except (ValidationError, PolicyError):
            pass  # collected below, with every other problem of the file
    found = _problems(document, build)
    if not found:  # pragma: no cover - whatever failed above is among the problems
        return build(**_build_parts(document))
    raise first_error(found, name) from None


def load_file(path: str | os.PathLike[str], build: Callable[..., _Built]) -> _Built:
    """Read, parse and validate a ``.toml`` or ``.json`` policy file; build the inventory.

    Every error starts with the file's path as given (``venue/avg.toml: fields.email...``).
    """
    return load(document_from_file(path), build, os.fspath(path))


def problems(data: object, build: Callable[..., object]) -> list[Problem]:
    """Every problem of a parsed policy file's inventory part, in order (none: it is valid).

    The schema is checked in full (the ``retention`` section too); each purpose, field and
    recipient that matches it is then built and checked against the others with ``build``
    (the :class:`~avgkit.inventory.Inventory` class), one at a time, so one mistake does
    not hide the next.
    """
    try:
        document = _normalise(data, (), 0)
    except ValidationError as exc:
        return [Problem((), str(exc))]
    return _problems(document, build)


def document_from_file(path: str | os.PathLike[str]) -> object:
    """Read and parse a ``.toml`` or ``.json`` policy file, not yet validated.

    Every error is a :class:`ValidationError` naming the file (never its content).
    """
    if not isinstance(path, str | os.PathLike) or not isinstance(os.fspath(path), str):
        msg = f"a policy file is given by its path (text), got {type(path).__name__}"
        raise ValidationError(msg)
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
    except ValueError:  # a NUL byte or a lone surrogate: no such file can exist
        msg = "a policy file path must not hold NUL characters or lone surrogates"
        raise ValidationError(msg) from None
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


def section_from_mapping(data: object, name: str) -> object | None:
    """The top-level section ``name`` of a parsed policy file, validated against the schema.

    ``None`` if the file has no such section. Only that section is checked (the rest is the
    inventory's, see :func:`load`); errors name the dotted path from the top of the file
    (``retention[1].period``), as :func:`load` does; the first is raised, counting the rest.
    """
    section, found = section_problems(data, name)
    if found:
        raise first_error(found) from None
    return section


def section_problems(data: object, name: str) -> tuple[object | None, list[Problem]]:
    """The section ``name`` of a parsed policy file, and every way it departs from the schema.

    ``(None, [])`` when the file has no such section.
    """
    if not isinstance(data, Mapping):
        msg = f"(top level): expected {_TYPE_WORDS['object']}, got {_kind(data)}"
        return None, [Problem((), msg)]
    if name not in data:
        return None, []
    try:
        section = _normalise(data[name], (name,), 1)
    except ValidationError as exc:
        return None, [Problem((name,), str(exc))]
    found = schema_problems(section, (name,), _section_validator(name))
    return section, ordered({name: section}, found)


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
_SHORT_ENUM = 12

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


def _unknown_key(path: str, key: str, guess: str | None, allowed: Sequence[str]) -> str:
    shown = repr(_dotted([key]))
    if guess is not None:
        return f"{path}: unknown key {shown} (did you mean {guess!r}?)"
    return f"{path}: unknown key {shown}; allowed: {sorted(allowed)}"


def _describe_keys(
    path: str, keyword: str, subschema: Mapping[str, Any], instance: Any, value: Any
) -> list[str]:
    """A missing required key, or unknown ones: a typo is named as the typo."""
    allowed = list(subschema.get("properties", {}))
    closed = subschema.get("additionalProperties") is False
    if keyword == "required":
        missing = [k for k in value if k not in instance]
        messages = []
        for key in (k for k in instance if closed and k not in allowed):
            guess = suggest(key, missing)
            if guess is not None:
                messages.append(_unknown_key(path, key, guess, allowed))
                missing.remove(guess)
        if missing:
            messages.append(f"{path}: missing required key(s) {missing}")
        return messages
    missing = [k for k in subschema.get("required", ()) if k not in instance]
    return [
        _unknown_key(path, key, suggest(key, missing) or suggest(key, allowed), allowed)
        for key in instance
        if key not in allowed
    ]


def _describe(  # noqa: PLR0911 - one per keyword
    error: jsonschema.ValidationError, prefix: tuple[str | int, ...] = ()
) -> list[str]:
    """Messages naming where and what was expected, without repeating the value.

    ``prefix`` is the path of the validated instance inside the file, for a section. A key
    the schema does not know gets one message each, with the known key it most likely
    misspells: a misspelt required key is named as the typo, not as a missing key.
    """
    path = _dotted((*prefix, *error.absolute_path))
    keyword = error.validator
    subschema = error.schema if isinstance(error.schema, Mapping) else {}
    expected = subschema.get("description")
    instance: Any = error.instance
    value: Any = error.validator_value
    if "propertyNames" in error.relative_schema_path:
        shown = _dotted([instance]) if isinstance(instance, str) else _kind(instance)
        return [f"{path}: the key {shown} is invalid; keys must be {expected}"]
    if keyword in {"required", "additionalProperties"}:
        return _describe_keys(path, keyword, subschema, instance, value)
    if keyword == "type":
        types = [value] if isinstance(value, str) else list(value)
        wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        # A short description ("a table of purposes keyed by purpose key") says more than
        # the JSON type; the long prose of the root schema does not read as an expectation.
        if expected and len(expected) <= _SHORT_DESCRIPTION:
            wanted = expected
        return [f"{path}: expected {wanted}, got {_kind(instance)}"]
    if keyword == "enum":
        listed = f"one of {value}" if len(value) <= _SHORT_ENUM else expected or "a known value"
        guess = suggest(instance, value)
        tail = "" if guess is None else f"; did you mean {guess!r}?"
        return [f"{path}: expected {listed}{tail}"]
    if keyword == "uniqueItems":
        return [f"{path}: expected {expected or 'distinct items'}; an item is listed twice"]
    if expected:
        return [f"{path}: expected {expected}"]
    return [f"{path}: does not satisfy {keyword} {value!r}"]  # pragma: no cover


# --------------------------------------------------------------------------- building


_T = TypeVar("_T")


class _ValueError(ValidationError):
    """A malformed value, with where it is (the keys from the top of the file)."""

    def __init__(self, message: str, at: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.at = at


def _make(path: str, factory: Callable[..., _T], values: Mapping[str, Any]) -> _T:
    # ``path`` is dotted snake-case keys (entries under other keys are never built).
    try:
        return factory(**values)
    except InvalidAttributeError as exc:
        msg = f"{path}.{exc.attribute}: {exc.problem}"
        raise _ValueError(msg, (*path.split("."), exc.attribute)) from None


def _texts(path: str, value: Mapping[str, Any] | None) -> Texts | None:
    return None if value is None else _make(path, Texts, value)


def _controller(entry: Mapping[str, Any]) -> Controller:
    values = dict(entry)
    if "authority" in values:
        authority = dict(values["authority"])
        authority["name"] = _texts("controller.authority.name", authority["name"])
        values["authority"] = _make("controller.authority", SupervisoryAuthority, authority)
    return _make("controller", Controller, values)


def _purpose(key: str, entry: Mapping[str, Any]) -> Purpose:
    path = f"purposes.{key}"
    values = dict(entry)
    values["description"] = _texts(f"{path}.description", entry["description"])
    values["retention"] = _texts(f"{path}.retention", entry.get("retention"))
    values["basis"] = LawfulBasis(entry["basis"])
    return _make(path, Purpose, {"key": key, **values})


def _field(key: str, entry: Mapping[str, Any], own: frozenset[str]) -> Field:
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
    field = _make(path, Field, {"key": key, **values})
    known = GENERALISER_NAMES | own
    if field.generaliser is not None and field.generaliser not in known:
        msg = (
            f"{path}.generaliser: not a built-in generaliser{hint(field.generaliser, known)}; "
            f"built in: {sorted(GENERALISER_NAMES)}. A generaliser of your own is listed in "
            "the file's top-level generalisers = [...] and handed to the anonymiser "
            "(generalisers={name: function})"
        )
        raise _ValueError(msg, ("fields", key, "generaliser"))
    return field


def _recipient(key: str, entry: Mapping[str, Any]) -> Recipient:
    values = dict(entry)
    values["role"] = RecipientRole(entry["role"])
    if "transfer_mechanism" in entry:
        values["transfer_mechanism"] = TransferMechanism(entry["transfer_mechanism"])
    return _make(f"recipients.{key}", Recipient, {"key": key, **values})


def _own_generalisers(document: Mapping[str, Any]) -> frozenset[str]:
    names = document.get(GENERALISERS_KEY, ())
    if not isinstance(names, list):
        return frozenset()
    return frozenset(name for name in names if isinstance(name, str))


def _build_parts(document: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of an inventory, from a document the schema accepts."""
    own = _own_generalisers(document)
    return {
        "controller": _controller(document["controller"]),
        "purposes": tuple(_purpose(k, e) for k, e in document["purposes"].items()),
        "fields": tuple(_field(k, e, own) for k, e in document["fields"].items()),
        "recipients": tuple(_recipient(k, e) for k, e in document.get("recipients", {}).items()),
        "security_measures": _texts("security_measures", document.get("security_measures")),
    }


class _Collector:
    """Builds what it can of a document, one entry at a time, collecting every problem."""

    def __init__(self, document: Mapping[str, Any], found: list[Problem]) -> None:
        self.document = document
        self.found = found
        self._schema = list(found)

    def attempt(self, path: tuple[str | int, ...], make: Callable[[], _T]) -> _T | None:
        """``make()``, or ``None`` with its problem recorded (or known from the schema)."""
        if any(p.path[: len(path)] == path for p in self._schema):
            return None
        try:
            return make()
        except ValidationError as exc:
            self.found.append(Problem(getattr(exc, "at", path), str(exc)))
            return None

    def entries(
        self, section: str, make: Callable[[str, Any], _T]
    ) -> tuple[dict[str, _T], set[str]]:
        """The section's entries that build, and the keys of those that do not."""
        table = self.document.get(section, {})
        built: dict[str, _T] = {}
        broken: set[str] = set()
        if not isinstance(table, dict):
            return built, broken
        for key, entry in table.items():
            value = None
            if isinstance(key, str) and KEY_PATTERN.match(key):
                value = self.attempt((section, key), functools.partial(make, key, entry))
            if value is None:
                broken.add(key)
            else:
                built[key] = value
        return built, broken

    def contradiction(self, path: tuple[str | int, ...], build: Callable[[], object]) -> bool:
        """Whether ``build()`` refuses a contradiction (recorded) or a value (recorded)."""
        try:
            build()
        except PolicyError as exc:
            self.found.append(Problem(path, str(exc), policy=True))
            return True
        except ValidationError as exc:
            self.found.append(Problem(path, str(exc)))
            return True
        return False


def _problems(document: object, build: Callable[..., object]) -> list[Problem]:
    """Every problem of a normalised document's inventory part, in order."""
    found = schema_problems(document)
    if not isinstance(document, dict):
        return ordered(document, found)
    collect = _Collector(document, found)
    own = _own_generalisers(document)
    controller = (
        collect.attempt(("controller",), lambda: _controller(document["controller"]))
        if isinstance(document.get("controller"), dict)
        else None
    )
    collect.attempt(
        ("security_measures",),
        lambda: _texts("security_measures", document.get("security_measures")),
    )
    recipients, broken_recipients = collect.entries("recipients", _recipient)
    purposes, broken_purposes = collect.entries("purposes", _purpose)
    fields, _ = collect.entries("fields", lambda k, e: _field(k, e, own))
    if controller is not None:
        _contradictions(
            collect,
            functools.partial(build, controller=controller),
            (recipients, broken_recipients),
            (purposes, broken_purposes),
            fields,
        )
    return ordered(document, found)


def _contradictions(
    collect: _Collector,
    build: Callable[..., object],
    recipients: tuple[dict[str, Recipient], set[str]],
    purposes: tuple[dict[str, Purpose], set[str]],
    fields: dict[str, Field],
) -> None:
    """Check each entry against the ones it names, leaving out those found wrong already.

    So one mistake is reported once: a purpose naming a broken recipient is checked
    without it, a field serving a broken purpose without that purpose.
    """

    def inventory(
        p: Iterable[Purpose] = (), f: Iterable[Field] = (), r: Iterable[Recipient] = ()
    ) -> Callable[[], object]:
        return lambda: build(purposes=tuple(p), fields=tuple(f), recipients=tuple(r))

    built_recipients, broken_recipients = recipients
    built_purposes, broken_purposes = purposes
    good_recipients = []
    for key, recipient in built_recipients.items():
        if collect.contradiction(("recipients", key), inventory(r=[recipient])):
            broken_recipients.add(key)
        else:
            good_recipients.append(recipient)
    good_purposes = []
    for key, purpose in built_purposes.items():
        named = tuple(n for n in purpose.recipients if n not in broken_recipients)
        trimmed = attrs.evolve(purpose, recipients=named)
        if collect.contradiction(("purposes", key), inventory(p=[trimmed], r=good_recipients)):
            broken_purposes.add(key)
        else:
            good_purposes.append(trimmed)
    for key, field in fields.items():
        served = tuple(n for n in field.purposes if n not in broken_purposes)
        if served:
            collect.contradiction(
                ("fields", key),
                inventory(good_purposes, [attrs.evolve(field, purposes=served)], good_recipients),
            )
    if not collect.found:
        whole = inventory(built_purposes.values(), fields.values(), built_recipients.values())
        collect.contradiction((), whole)


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
    own = sorted({f.generaliser for f in inventory.fields if f.generaliser} - GENERALISER_NAMES)
    if own:
        document[GENERALISERS_KEY] = own
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
                "confirmation": p.confirmation or None,
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
