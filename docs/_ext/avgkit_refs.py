"""Resolve the documentation's short and standard-library references (a Sphinx extension).

Docstrings say ``ValidationError`` where the reader knows the name; type hints name
``datetime.datetime`` and ``collections.abc.Iterator``. Sphinx looks a short name up in the
current module only, so such links would be dead. This extension, on ``missing-reference``:

* resolves a short or partly qualified name to the one documented avgkit object whose full
  name ends with it (the nearest to the referring module when several do);
* links a standard-library name to its entry in the Python documentation
  (``https://docs.python.org/3/library/<module>.html#<name>``), where intersphinx would if it
  could fetch Python's inventory: the docs are built offline.

Anything else stays unresolved, and ``nitpicky`` reports it.

It also shows every member of an enum, documented or not: a reader looking up
``LawfulBasis`` needs all six bases, and autodoc would leave out the members without a
docstring of their own.
"""

from __future__ import annotations

import enum
import importlib
import sys
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

PYTHON_DOCS = "https://docs.python.org/3/library/"
_PY_ROLES = {"class", "exc", "func", "meth", "attr", "data", "obj", "mod", "const"}


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


def _resolve(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    if node.get("refdomain") != "py" or node.get("reftype") not in _PY_ROLES:
        return None
    target = str(node["reftarget"])
    match = _avgkit_match(env, target, node.get("py:module"))
    if match is not None:
        domain = env.get_domain("py")
        kind = node["reftype"]
        refnode = node.deepcopy()
        refnode["reftarget"] = match
        refnode["refspecific"] = False
        return domain.resolve_xref(  # type: ignore[no-any-return]
            env, node.get("refdoc", ""), app.builder, kind, match, refnode, contnode
        ) or domain.resolve_xref(
            env, node.get("refdoc", ""), app.builder, "obj", match, refnode, contnode
        )
    module = _stdlib_module(target)
    if module is None:
        return None
    uri = f"{PYTHON_DOCS}{module}.html" + ("" if target == module else f"#{target}")
    reference = nodes.reference("", "", internal=False, refuri=uri, reftitle=target)
    reference.append(contnode)
    return reference


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


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the resolver and the enum-member rule."""
    app.connect("missing-reference", _resolve)
    app.connect("autodoc-skip-member", _keep_enum_members)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
