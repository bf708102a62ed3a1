"""Sphinx configuration for the avgkit documentation."""

from __future__ import annotations

import sys
from pathlib import Path

from avgkit import __version__

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "avgkit"
author = "The avgkit developers"
copyright = "2026, The avgkit developers"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "avgkit_refs",  # short names and the standard library (docs/_ext/avgkit_refs.py)
    "myst_parser",  # the changelog is Markdown
]
source_suffix = {".rst": "restructuredtext"}  # pages are reStructuredText; MyST only includes
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = True
suppress_warnings = ["myst.header"]  # the changelog starts at ## (under this page's title)
html_theme = "furo"
html_title = "avgkit"
exclude_patterns = ["_build"]
