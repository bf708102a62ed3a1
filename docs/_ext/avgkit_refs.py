"""Make every cross-reference of the avgkit documentation resolve (a Sphinx extension).

The build is ``nitpicky``: a reference that finds nothing fails it. Docstrings say
``ValidationError`` where the reader knows the name; type hints name ``datetime.timedelta``,
an alias a module imports only for type checking, a third-party class, or a private base.
Sphinx looks a name up in the current module only, so such links would be dead. This
extension, on ``missing-reference``, reads a name the way the code that wrote it does:

* a short or partly qualified name means what it means in the module that wrote it (its
  imports, also those made for type checking only, and its own definitions); failing that,
  the one documented avgkit object whose full name ends with it (the nearest to the
  referring module when several do);
* an avgkit name that is not the documented one (``avgkit.Kit`` for ``avgkit.kit.Kit``, a
  private module's path) finds the documented name of the same object;
* a standard-library name links to its entry in the Python documentation, where intersphinx
  would if it could fetch Python's inventory: the docs are built offline;
* a third-party name in :data:`EXTERNAL` (the few whose projects ship no inventory with
  the package) links to that project's documentation page;
* a type variable links to what it stands for: the class argument a subclass fixed it to,
  or the generic class that declares it;
* a private type alias (``Lang``) is shown as what it stands for, and a private class as
  the public classes it combines (a protocol ``ConsentStore & WordingStore``).

Anything else stays unresolved, and ``nitpicky`` reports it.

It also fixes what autodoc and napoleon would otherwise show wrongly:

* every member of an enum is shown, documented or not: a reader looking up
  ``LawfulBasis`` needs all six bases;
* a public class whose base is private (``LawfulBasis`` on a private vocabulary base) lists
  that base's public bases instead, and documents the members it inherits from it (its
  ``label()``), as if it declared them;
* a constant or alias that a package re-exports shows the docstring written under it in the
  module that defines it;
* an attribute's docstring is prose: ``"Art. 34(3)(a): the data was ..."`` is not napoleon's
  ``type: description`` (the type comes from the annotation), so its first line is not
  shown as a type.
"""

from __future__ import annotations

import ast
import enum
import functools
import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
from docutils import nodes
from sphinx import addnodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.errors import PycodeError
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.pycode import ModuleAnalyzer

PYTHON_DOCS = "https://docs.python.org/3/library/"
_PY_ROLES = {"class", "exc", "func", "meth", "attr", "data", "obj", "mod", "const"}

_SQLALCHEMY = "https://docs.sqlalchemy.org/en/20/core/"
_PYTEST = "https://docs.pytest.org/en/stable/reference/reference.html#"
_PSYCOPG = "https://www.psycopg.org/psycopg3/docs/api/"
EXTERNAL: Final[dict[str, str]] = {
    "attrs": "https://www.attrs.org/en/stable/api.html",
    "dateutil.relativedelta.relativedelta": (
        "https://dateutil.readthedocs.io/en/stable/relativedelta.html"
        "#dateutil.relativedelta.relativedelta"
    ),
    "hypothesis.strategies.SearchStrategy": (
        "https://hypothesis.readthedocs.io/en/latest/reference/strategies.html"
        "#hypothesis.strategies.SearchStrategy"
    ),
    "psycopg.Connection": f"{_PSYCOPG}connections.html#psycopg.Connection",
    "psycopg_pool.ConnectionPool": f"{_PSYCOPG}pool.html#psycopg_pool.ConnectionPool",
    "pytest.FixtureRequest": f"{_PYTEST}pytest.FixtureRequest",
    "pytest.TempPathFactory": f"{_PYTEST}pytest.TempPathFactory",
    "sqlalchemy.engine.Connection": f"{_SQLALCHEMY}connections.html#sqlalchemy.engine.Connection",
    "sqlalchemy.engine.Engine": f"{_SQLALCHEMY}connections.html#sqlalchemy.engine.Engine",
    "sqlalchemy.schema.MetaData": f"{_SQLALCHEMY}metadata.html#sqlalchemy.schema.MetaData",
}
"""Third-party names whose projects ship no Sphinx inventory with the package, and the page
that documents each. A name is found as written here or as any other path to the same
object (``sqlalchemy.engine.base.Engine``, ``_pytest.fixtures.FixtureRequest``)."""

_MISSING: Final = object()
_ATTRIBUTES: Final = frozenset({"attribute", "data", "property"})


# --------------------------------------------------------------------------- objects


@functools.cache
def _import(dotted: str) -> object:
    """The object ``dotted`` names (a module, then attributes), or ``_MISSING``."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        except Exception:  # noqa: BLE001 - a module that fails on import names nothing
            return _MISSING
        for part in parts[end:]:
            found = getattr(found, part, _MISSING)
            if found is _MISSING:
                return _MISSING
        return found
    return _MISSING


def _same(found: object) -> object:
    """What identifies ``found``: a method fetched from its class is made anew each time."""
    return getattr(found, "__func__", found)


def _field_owner(dotted: str) -> str | None:
    """The attrs class whose field ``dotted`` names (documented among its arguments)."""
    owner, _, field = dotted.rpartition(".")
    found = _import(owner) if owner.startswith("avgkit") else _MISSING
    if isinstance(found, type) and attrs.has(found) and field in attrs.fields_dict(found):
        return owner
    return None


def _stdlib_module(target: str) -> str | None:
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if parts[0] not in sys.stdlib_module_names:
            return None
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        return name
    return None


def _external(target: str) -> str | None:
    """The documentation page of a third-party name of :data:`EXTERNAL`."""
    if target in EXTERNAL:
        return EXTERNAL[target]
    if target.split(".", maxsplit=1)[0] in sys.stdlib_module_names or target.startswith("avgkit"):
        return None
    found = _import(target)
    if found is _MISSING:
        return None
    for name, uri in EXTERNAL.items():
        if _import(name) is found:
            return uri
    return None


@functools.cache
def _module_names(module: str) -> dict[str, str]:
    """What each name means in ``module``'s source: its imports and its own definitions.

    Imports made for type checking only count too: an annotation written with them is
    left a string, which Sphinx then reads one name at a time.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return {}
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return {}
    tree = ast.parse(Path(spec.origin).read_text("utf-8"))
    is_package = spec.submodule_search_locations is not None
    package = module if is_package else module.rpartition(".")[0]
    return dict(_statement_names(tree.body, module, package))


def _statement_names(
    statements: list[ast.stmt], module: str, package: str
) -> Iterator[tuple[str, str]]:
    for statement in statements:
        if isinstance(statement, ast.If | ast.Try):  # if TYPE_CHECKING: ...
            yield from _statement_names(statement.body, module, package)
            yield from _statement_names(statement.orelse, module, package)
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            yield from _imported(statement, package)
        else:
            yield from ((name, f"{module}.{name}") for name in _defined(statement))


def _imported(statement: ast.Import | ast.ImportFrom, package: str) -> Iterator[tuple[str, str]]:
    if isinstance(statement, ast.ImportFrom):
        base = importlib.util.resolve_name(
            "." * statement.level + (statement.module or ""), package
        )
        for alias in statement.names:
            yield alias.asname or alias.name, f"{base}.{alias.name}"
        return
    for alias in statement.names:
        top = alias.name.split(".", maxsplit=1)[0]
        yield (alias.asname, alias.name) if alias.asname else (top, top)


def _defined(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return [statement.name]
    targets: list[ast.expr]
    if isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    elif isinstance(statement, ast.Assign):
        targets = statement.targets
    else:
        targets = []
    return [target.id for target in targets if isinstance(target, ast.Name)]


def _referrer(node: nodes.Node) -> tuple[str | None, object]:
    """The module that wrote the object ``node`` sits in, and that object (or ``_MISSING``)."""
    parent = node.parent
    while parent is not None and not isinstance(parent, addnodes.desc):
        parent = parent.parent
    signatures = [] if parent is None else list(parent.findall(addnodes.desc_signature))
    for signature in signatures:
        module, fullname = signature.get("module"), signature.get("fullname")
        if not module or not fullname:
            continue
        # an attribute or a property has no module of its own: the class holding it has
        parts = fullname.split(".")
        for end in range(len(parts), 0, -1):
            owner = _import(f"{module}.{'.'.join(parts[:end])}")
            if isinstance(getattr(owner, "__module__", None), str):
                return str(getattr(owner, "__module__", module)), _import(f"{module}.{fullname}")
        return str(module), _import(f"{module}.{fullname}")
    module = node.get("py:module")
    return (str(module) if module else None), _MISSING


def _is_private(cls: type) -> bool:
    """Whether ``cls`` is an avgkit class that no public module exports."""
    module = getattr(cls, "__module__", "")
    if not isinstance(module, str) or module.split(".")[0] != "avgkit":
        return False
    if cls.__name__.startswith("_"):
        return True
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if any(part.startswith("_") for part in parts[:end]):
            continue
        if _import(".".join(parts[:end]) + "." + cls.__name__) is cls:
            return False
    return True


def _type_arguments(cls: type) -> dict[object, object]:
    """What each type variable of ``cls``'s generic bases was fixed to, through its bases."""
    fixed: dict[object, object] = {}
    for klass in reversed(cls.__mro__):
        for base in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            parameters = getattr(origin, "__parameters__", ())
            for parameter, argument in zip(parameters, typing.get_args(base), strict=False):
                fixed[parameter] = fixed.get(argument, argument)
    return fixed


# --------------------------------------------------------------------------- resolving


def _documented(env: BuildEnvironment, dotted: str, module: str | None) -> str | None:
    """The documented avgkit name for ``dotted``: itself, the same object, or a suffix."""
    objects: dict[str, Any] = env.get_domain("py").objects  # type: ignore[attr-defined]
    if dotted.startswith("avgkit") and dotted in objects:
        return dotted
    found = _same(_import(dotted)) if dotted.startswith("avgkit") else _MISSING
    if found is not _MISSING:
        last = "." + dotted.rpartition(".")[2]
        same = [
            name
            for name in objects
            if name.startswith("avgkit") and name.endswith(last) and _same(_import(name)) is found
        ]
        if same:
            return min(same, key=lambda name: (len(name), name))
    return _avgkit_match(env, dotted, module)


def _avgkit_match(env: BuildEnvironment, target: str, module: str | None) -> str | None:
    objects: dict[str, Any] = env.get_domain("py").objects  # type: ignore[attr-defined]
    suffix = "." + target.lstrip(".~")
    found = [name for name in objects if name.endswith(suffix) and name.startswith("avgkit")]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    if module:
        # the nearest: the longest shared module prefix with the referring module
        def shared(name: str) -> int:
            common = 0
            for mine, theirs in zip(module.split("."), name.split("."), strict=False):
                if mine != theirs:
                    break
                common += 1
            return common

        best = max(shared(name) for name in found)
        nearest = [name for name in found if shared(name) == best]
        if len(nearest) == 1:
            return nearest[0]
    # the same object documented under its re-exporting package and its module
    canonical = {objects[name].docname + "#" + objects[name].node_id for name in found}
    return min(found, key=len) if len(canonical) == 1 else None


def _meanings(target: str, module: str | None, node: pending_xref) -> Iterator[str]:
    """The full names ``target`` may stand for, the likeliest first."""
    first, _, rest = target.partition(".")
    names = _module_names(module) if module else {}
    if first in names and _import(target) is _MISSING:  # a full name means itself
        yield names[first] + ("." + rest if rest else "")
    context = [node.get("py:module"), node.get("py:class")]
    if all(context):
        yield ".".join([*context, target])  # a member of the class it is written in
    yield target


def _link(uri: str, title: str, contnode: nodes.Element) -> nodes.reference:
    reference = nodes.reference("", "", internal=False, refuri=uri, reftitle=title)
    reference.append(contnode)
    return reference


def _alias_text(alias: object) -> str:
    return repr(alias).replace("typing.", "")


class _Reference:
    """One unresolved reference, and where it was written."""

    def __init__(self, app: Sphinx, env: BuildEnvironment, node: pending_xref) -> None:
        self.app = app
        self.env = env
        self.node = node
        self.module, self.referrer = _referrer(node)

    def resolve(self, contnode: nodes.Element) -> nodes.Element | None:
        target = str(self.node["reftarget"]).lstrip("~.")
        for meaning in _meanings(target, self.module, self.node):
            resolved = self.resolve_name(meaning, contnode)
            if resolved is not None:
                return resolved
        return None

    def resolve_name(  # noqa: PLR0911 - one return per kind of name, in order
        self, name: str, contnode: nodes.Element
    ) -> nodes.Element | None:
        documented = _documented(self.env, name, self.module)
        if documented is not None:
            return self.to_documented(documented, contnode)
        owner = _field_owner(name)
        if owner is not None and (documented := _documented(self.env, owner, self.module)):
            # a value's fields are documented as its class's arguments
            return self.to_documented(documented, contnode)
        uri = _external(name)
        if uri is not None:
            return _link(uri, name, contnode)
        found = _import(name) if name.startswith("avgkit") else _MISSING
        if isinstance(found, typing.TypeVar):
            return self.type_variable(found, contnode)
        if isinstance(found, type) and _is_private(found):
            return self.private_class(found)
        if found is not _MISSING and typing.get_origin(found) is not None:
            # a private alias such as Lang = Literal["nl", "en"]: show what it stands for
            return nodes.literal("", _alias_text(found))
        stdlib = _stdlib_module(name)
        if stdlib is not None:
            page = f"{PYTHON_DOCS}{stdlib}.html" + ("" if name == stdlib else f"#{name}")
            return _link(page, name, contnode)
        return None

    def to_documented(self, name: str, contnode: nodes.Element) -> nodes.Element | None:
        domain = self.env.get_domain("py")
        refnode = self.node.deepcopy()
        refnode["reftarget"] = name
        refnode["refspecific"] = False
        refdoc = self.node.get("refdoc", "")
        builder = self.app.builder
        for kind in (self.node["reftype"], "obj"):
            found = domain.resolve_xref(self.env, refdoc, builder, kind, name, refnode, contnode)
            if found is not None:
                return found
        return None

    def type_variable(
        self, variable: typing.TypeVar, contnode: nodes.Element
    ) -> nodes.Element | None:
        """What a subclass fixed the variable to, or the generic class that declares it."""
        holder = self.holder_class()
        if holder is None:
            return None
        argument = _type_arguments(holder).get(variable)
        if isinstance(argument, type):
            name = f"{argument.__module__}.{argument.__qualname__}"
            return self.resolve_name(name, nodes.literal("", argument.__qualname__))
        if variable in getattr(holder, "__parameters__", ()):
            return self.resolve_name(f"{holder.__module__}.{holder.__qualname__}", contnode)
        return None

    def private_class(self, cls: type) -> nodes.Element | None:
        """A private class stands for its public bases: ``ConsentStore & WordingStore``."""
        bases = [b for b in _public_bases([cls]) if b not in {object, typing.Protocol}]
        parts: list[nodes.Node] = []
        for base in bases:
            name = f"{base.__module__}.{base.__qualname__}"
            link = self.resolve_name(name, nodes.literal("", base.__qualname__))
            if link is None:
                return None
            parts.extend([nodes.Text(" & "), link] if parts else [link])
        return nodes.inline("", "", *parts) if parts else None

    def holder_class(self) -> type | None:
        """The documented class the reference sits in (a method's, or the class itself)."""
        if isinstance(self.referrer, type):
            return self.referrer
        klass, module = self.node.get("py:class"), self.node.get("py:module")
        found = _import(f"{module}.{klass}") if klass and module else _MISSING
        return found if isinstance(found, type) else None


def _resolve(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("refdomain") != "py" or node.get("reftype") not in _PY_ROLES:
        return None
    return _Reference(app, env, node).resolve(contnode)


# --------------------------------------------------------------------------- autodoc


def _keep_enum_members(
    _app: Sphinx,
    what: str,
    name: str,
    obj: object,
    _skip: bool,  # noqa: FBT001 - Sphinx's event signature
    _options: object,
) -> bool | None:
    if what == "class" and isinstance(obj, enum.Enum) and not name.startswith("_"):
        return False
    return None  # autodoc decides


@functools.cache
def _defining_docstring(full_name: str) -> tuple[str, ...]:
    """The docstring under ``NAME = ...`` in the module a package re-exports NAME from."""
    module, _, name = full_name.rpartition(".")
    seen: set[str] = set()
    while module and module not in seen:
        seen.add(module)
        try:
            docs = ModuleAnalyzer.for_module(module).find_attr_docs()
        except PycodeError:
            return ()
        if ("", name) in docs:
            return tuple(docs["", name])
        source = _module_names(module).get(name)
        if source is None:
            return ()
        module = source.rpartition(".")[0]
    return ()


def _adopt_reexported_docstrings(
    _app: Sphinx, what: str, name: str, obj: object, _options: object, _lines: list[str]
) -> None:
    """Give a package the docstrings of the constants and aliases it re-exports.

    Autodoc documents a module's data only where the module's own source has a docstring
    under it; a package that re-exports ``ART8_AGES`` has none. Before the package's members
    are documented (its own docstring comes first), each re-exported name of ``__all__``
    gets the docstring written in the module that defines it, so autodoc documents it as if
    the package had.
    """
    if what != "module" or not name.startswith("avgkit"):
        return
    try:
        docs = ModuleAnalyzer.for_module(name).find_attr_docs()
    except PycodeError:
        return
    for member in getattr(obj, "__all__", ()):
        if ("", member) not in docs and (found := _defining_docstring(f"{name}.{member}")):
            docs["", member] = list(found)


def _private_bases(cls: type) -> Iterator[type]:
    for base in cls.__bases__:
        if _is_private(base):
            yield base
            yield from _private_bases(base)


def _public_bases(bases: list[Any]) -> list[Any]:
    """``bases`` with each private avgkit class replaced by its own public bases."""
    public: list[Any] = []
    for base in bases:
        origin = typing.get_origin(base) or base
        if isinstance(origin, type) and _is_private(origin):
            replaced = _public_bases([b for b in origin.__bases__ if b is not typing.Generic])
        else:
            replaced = [base]
        public.extend(b for b in replaced if b not in public)
    return [b for b in public if b is not object] or [object]


def _replace_private_bases(
    _app: Sphinx, _name: str, obj: object, _options: object, bases: list[Any]
) -> None:
    if isinstance(obj, type) and any(
        _is_private(typing.get_origin(base) or base) for base in bases
    ):
        bases[:] = _public_bases(bases)


def _inherited_members(cls: type) -> Iterator[tuple[str, str]]:
    """The documented public members ``cls`` inherits from private bases, with their kind."""
    for base in _private_bases(cls):
        try:
            attr_docs = ModuleAnalyzer.for_module(base.__module__).find_attr_docs()
        except PycodeError:
            attr_docs = {}
        for name, value in vars(base).items():
            owner = next(klass for klass in cls.__mro__ if name in vars(klass))
            if name.startswith("_") or owner is not base:
                continue  # private, or overridden: the class documents its own
            kind = _member_kind(value, documented=(base.__qualname__, name) in attr_docs)
            if kind is not None:
                yield kind, name


def _member_kind(value: object, *, documented: bool) -> str | None:
    """The autodoc directive for a member with a docstring (``documented``: an attribute's)."""
    if isinstance(value, property):
        return "autoproperty" if inspect.getdoc(value) else None
    function = getattr(value, "__func__", value)  # a classmethod or staticmethod
    if callable(function):
        return "automethod" if inspect.getdoc(function) else None
    return "autoattribute" if documented else None


def _document_inherited_members(
    _app: Sphinx, what: str, name: str, obj: object, options: Any, lines: list[str]
) -> None:
    if what not in {"class", "exception"} or not isinstance(obj, type):
        return
    members = getattr(options, "members", None)
    if not members or isinstance(members, list) or getattr(options, "inherited_members", None):
        return  # no members, a chosen list (autodoc finds those itself), or all of them
    excluded = getattr(options, "exclude_members", None) or ()
    for directive, member in _inherited_members(obj):
        if member not in excluded:
            lines.extend(["", f".. {directive}:: {name}.{member}"])


_ORIGINALS: dict[int, tuple[list[str], list[str]]] = {}


def _fill_reexported_data(
    _app: Sphinx, what: str, name: str, _obj: object, _options: object, lines: list[str]
) -> None:
    if what == "data" and not any(line.strip() for line in lines):
        lines[:] = list(_defining_docstring(name))


def _keep_attribute_docstring(
    _app: Sphinx, what: str, _name: str, _obj: object, _options: object, lines: list[str]
) -> None:
    if what in _ATTRIBUTES:
        _ORIGINALS[id(lines)] = (lines, list(lines))


def _prose_attribute_docstring(  # noqa: PLR0917 - Sphinx's event signature
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Read an attribute's docstring as prose, as napoleon reads any other docstring.

    Napoleon reads the first line of an attribute's docstring, ``"first: more"``, as
    ``type: description`` and shows ``first`` as a type. avgkit's attribute docstrings are
    prose and their types come from the annotations, so the docstring is converted again
    the way napoleon converts a function's or a class's.
    """
    kept, original = _ORIGINALS.pop(id(lines), (None, []))
    if what not in _ATTRIBUTES or kept is not lines:
        return
    lines[:] = GoogleDocstring(original, app.config, app, "object", name, obj, options).lines()


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the resolver and the autodoc rules."""
    app.connect("missing-reference", _resolve)
    app.connect("autodoc-skip-member", _keep_enum_members)
    app.connect("autodoc-process-bases", _replace_private_bases)
    # around napoleon (priority 500): what it reads, and what it made of it
    app.connect("autodoc-process-docstring", _adopt_reexported_docstrings, priority=300)
    app.connect("autodoc-process-docstring", _fill_reexported_data, priority=300)
    app.connect("autodoc-process-docstring", _keep_attribute_docstring, priority=400)
    app.connect("autodoc-process-docstring", _prose_attribute_docstring, priority=600)
    app.connect("autodoc-process-docstring", _document_inherited_members, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
