"""Shared report rendering: one jinja2 environment with autoescaping, and languages (private).

Every HTML report avgkit produces goes through :func:`render_html`, so personal data that
ends up in a report is always escaped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Literal

import jinja2

from avgkit.errors import ValidationError

Lang = Literal["nl", "en"]
"""The languages avgkit renders reports in."""

LANGUAGES: tuple[Lang, ...] = ("nl", "en")


def language(value: object) -> Lang:
    """Validate a report language code."""
    if value == "nl":
        return "nl"
    if value == "en":
        return "en"
    msg = f"language {value!r} is not supported; use one of {list(LANGUAGES)}"
    raise ValidationError(msg)


@cache
def environment() -> jinja2.Environment:
    """The package's jinja2 environment: templates from ``avgkit/templates``, autoescaped."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("avgkit", "templates"),
        autoescape=jinja2.select_autoescape(["html", "html.j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(template: str, lang: Lang, **context: Any) -> str:
    """Render ``templates/<template>`` with autoescaping and the chosen language."""
    return environment().get_template(template).render(lang=language(lang), **context)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Render rows as RFC 4180 CSV text with a header line.

    Cells starting with ``=``, ``+``, ``-`` or ``@`` are prefixed with a quote so that a
    spreadsheet does not execute them as formulas (CSV injection).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + text
    return text
