"""The downstream feed: changes each recipient of personal data must be told about.

When a visitor withdraws consent, objects, is erased, restricted or has data corrected, the
venue's CRM and mailing tool must follow (Art. 19 GDPR). Each change becomes one
:class:`FeedNotice` per recipient, of a :class:`FeedKind`; recipients read their notices in
order and acknowledge how far they got.

.. versionadded:: 0.2.0
"""

from avgkit.feed._service import FEED_FORMAT, Feed, notice_to_json
from avgkit.feed._values import FeedKind, FeedNotice

__all__ = ["FEED_FORMAT", "Feed", "FeedKind", "FeedNotice", "notice_to_json"]
