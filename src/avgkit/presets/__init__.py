"""Ready-made policies encoding the source documents' practice.

:mod:`avgkit.presets.ticketing` is a ticket shop of a cultural venue.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from avgkit.presets import ticketing

__all__ = ["ticketing"]
