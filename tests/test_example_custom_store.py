"""examples/custom_store: a storage adapter written against avgkit's public API only.

The adapter's own contract suite (examples/custom_store/test_docstore.py) runs here, so
`make test` proves that a plugin author can pass the conformance contracts; the tests below
check what the contracts do not: the public-API rule, URLs, schema versions, tampered rows,
closed sets, writers in two processes, and the entry point a packaged plugin declares.
"""

import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "examples" / "custom_store"
sys.path.insert(0, str(EXAMPLE))

from test_docstore import TestDocStoreFeed, TestDocStoreRequests  # noqa: E402

__all__ = ["TestDocStoreFeed", "TestDocStoreRequests"]
