"""Support for testing code that uses avgkit, shipped with the library.

* :class:`ManualClock` — a clock tests set and advance.
* :class:`KitFactory` — fresh, isolated kits on demand (one per hypothesis example).
* :mod:`avgkit.testing.plugin` — the pytest plugin (registered through the ``pytest11`` entry
  point, so installing avgkit makes its ``avgkit_*`` fixtures available).
* :mod:`avgkit.testing.strategies` — hypothesis strategies.
* :mod:`avgkit.testing.conformance` — the contracts storage adapters must pass.

Importing this package needs neither pytest nor hypothesis; the submodules do.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from avgkit.testing._clock import ManualClock
from avgkit.testing._factory import STORE_CHOICES, KitFactory

__all__ = ["STORE_CHOICES", "KitFactory", "ManualClock"]
