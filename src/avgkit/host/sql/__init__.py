"""``avgkit.host.sql``: a host's :class:`~avgkit.host.HostData` from a declared table map.

Most ticket systems keep visitors, orders and tickets in an ordinary relational schema.
Instead of writing :class:`~avgkit.host.HostData` by hand, declare where the data is (a
:class:`TableMap`, in Python or in the policy file's ``host`` section) and let
:class:`SqlHostData` answer every call with set-based SQL through SQLAlchemy Core, on
SQLite, PostgreSQL and MariaDB/MySQL alike. The map is checked against the live schema
when the host is built; :func:`check_coverage` lists the columns that look personal but
are declared nowhere; :func:`sanitise` copies the database for staging with every mapped
field anonymised as the inventory says.

Needs the ``sql`` extra (``pip install 'avgkit[sql]'``; MariaDB/MySQL also ``mariadb``).

.. versionadded:: 0.2.0
"""

from avgkit.host.sql._coverage import (
    DETECTORS,
    CoverageFinding,
    CoverageReport,
    check_coverage,
)
from avgkit.host.sql._host import SqlHostData, describe_database
from avgkit.host.sql._map import (
    SECTION,
    EventLink,
    Link,
    Person,
    Source,
    Subjects,
    TableMap,
    Timestamps,
    schema,
    table_map_from_file,
    table_map_from_mapping,
)
from avgkit.host.sql._sanitise import (
    DOMAIN,
    SanitiseProgress,
    SanitiseReport,
    key_from_secret,
    sanitise,
)

__all__ = [
    "DETECTORS",
    "DOMAIN",
    "SECTION",
    "CoverageFinding",
    "CoverageReport",
    "EventLink",
    "Link",
    "Person",
    "SanitiseProgress",
    "SanitiseReport",
    "Source",
    "SqlHostData",
    "Subjects",
    "TableMap",
    "Timestamps",
    "check_coverage",
    "describe_database",
    "key_from_secret",
    "sanitise",
    "schema",
    "table_map_from_file",
    "table_map_from_mapping",
]
