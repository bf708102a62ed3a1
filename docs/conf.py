"""Sphinx configuration for the avgkit documentation."""

from __future__ import annotations

from avgkit import __version__

project = "avgkit"
author = "The avgkit developers"
copyright = "2026, The avgkit developers"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
suppress_warnings = ["autodoc.import_object"]
html_theme = "furo"
html_title = "avgkit"
exclude_patterns = ["_build"]
