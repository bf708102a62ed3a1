"""The front door: one object a host creates once and reaches every service through.

.. code-block:: python

    from avgkit import Kit
    from avgkit.presets import ticketing

    kit = Kit.open("sqlite:///avg.db", inventory=ticketing.inventory())
    kit.audit.record("ticket_shop.started")

Each service is an attribute: ``kit.audit`` (the hash-chained log), ``kit.consent`` (the
ledger), ``kit.pseudonyms`` (keys, pseudonyms, tokens, the anonymiser, crypto-shredding) and
``kit.breaches`` (the breach register); ``kit.may_process(subject, purpose)`` answers with a
decision, its basis and its reason. The services are ordinary classes that can also be built
by hand from a store, the inventory, a clock and an audit log.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

from avgkit.audit import AuditLog
from avgkit.breach import BreachOptions, BreachRegister
from avgkit.clock import Clock, SystemClock
from avgkit.consent import ConsentLedger, ConsentOptions, Decision
from avgkit.dsar import DsarOptions, SubjectRequests
from avgkit.erasure import Erasure
from avgkit.errors import StorageError, ValidationError
from avgkit.feed import Feed
from avgkit.host import HostData
from avgkit.inventory import Inventory
from avgkit.permissions import Permissions
from avgkit.pseudonym import KeyEncryptionKey, PseudonymOptions, Pseudonyms
from avgkit.retention import RetentionPlanner, RetentionPolicy
from avgkit.storage import StoreSet, open_stores, sqlite

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["Kit"]

_T = TypeVar("_T")


class Kit:
    """The composition root: stores, inventory and clock, wired into the services.

    Args:
        stores: an open :class:`~avgkit.storage.StoreSet` (see :meth:`open` for a URL).
        inventory: the controller's declared purposes, fields and recipients.
        clock: the source of time; :class:`~avgkit.clock.SystemClock` by default.
        consent: the consent ledger's settings (:class:`~avgkit.consent.ConsentOptions`: the
            Art. 8 age, 13 for a Belgian venue; the clock-skew allowance).
        breaches: the breach register's settings (:class:`~avgkit.breach.BreachOptions`: the
            processors' notice terms, per agreement too; the large-volume threshold).
        pseudonyms: the pseudonym service's settings
            (:class:`~avgkit.pseudonym.PseudonymOptions`: how national phone numbers read).
        key_stores: a separate store set whose key store holds the pseudonym, token and
            per-subject keys, so that keys live apart from the data (ENISA's advice); by
            default the keys live in ``stores``. The kit closes it with its own stores.
        kek: a key-encryption key wrapping all key material before it is stored; keep it
            outside both databases (an environment secret, a secrets manager).
        host: the host's data (:class:`~avgkit.host.HostData`): visitors, orders, tickets.
        retention_policy: the retention rules ``kit.retention`` plans with
            (:class:`~avgkit.retention.RetentionPolicy`).
        dsar: the settings of ``kit.dsar`` (:class:`~avgkit.dsar.DsarOptions`: the time zone
            deadlines end in, a shorter service level, the identity verifier and the
            notifier that tells subjects how their request stands).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Settings come as one options value per service (``consent=``, ``breaches=``,
       ``pseudonyms=``) instead of one keyword each.
    """

    def __init__(
        self,
        *,
        stores: StoreSet,
        inventory: Inventory,
        clock: Clock | None = None,
        consent: ConsentOptions | None = None,
        breaches: BreachOptions | None = None,
        pseudonyms: PseudonymOptions | None = None,
        key_stores: StoreSet | None = None,
        kek: KeyEncryptionKey | None = None,
        host: HostData | None = None,
        retention_policy: RetentionPolicy | None = None,
        dsar: DsarOptions | None = None,
    ) -> None:
        if not isinstance(inventory, Inventory):
            msg = (
                f"inventory must be an avgkit Inventory, got {type(inventory).__name__}; "
                "load one with Inventory.from_file() or use avgkit.presets.ticketing.inventory()"
            )
            raise ValidationError(msg)
        consent = _option(consent, ConsentOptions, "consent")
        breaches = _option(breaches, BreachOptions, "breaches")
        pseudonyms = _option(pseudonyms, PseudonymOptions, "pseudonyms")
        self._dsar_options = _option(dsar, DsarOptions, "dsar")
        self._dsar: SubjectRequests | None = None
        self._feed: Feed | None = None
        if host is not None and not isinstance(host, HostData):
            msg = (
                f"host must implement avgkit.HostData, got {type(host).__name__}; see "
                "avgkit.host for the methods it needs"
            )
            raise ValidationError(msg)
        if retention_policy is not None and not isinstance(retention_policy, RetentionPolicy):
            msg = (
                f"retention_policy must be a RetentionPolicy, got {type(retention_policy).__name__}"
                "; use avgkit.presets.ticketing.retention_policy() or build one"
            )
            raise ValidationError(msg)
        self._host = host
        self._retention_policy = retention_policy
        self._retention: RetentionPlanner | None = None
        self._erasure: Erasure | None = None
        self.stores = stores
        self.inventory = inventory
        self.clock: Clock = SystemClock() if clock is None else clock
        # The subject-reference secret lives with the keys, wrapped like them: the audit log
        # asks the pseudonym service for it (which needs the log), hence the late binding.
        self.audit = AuditLog(
            stores.audit,
            self.clock,
            unit_of_work=stores,
            reference_secret=self._reference_secret,
        )
        """The hash-chained audit log; :meth:`~avgkit.audit.AuditLog.verify` checks it."""
        self._key_stores = key_stores
        self.pseudonyms = Pseudonyms(
            (stores if key_stores is None else key_stores).keys,
            inventory,
            self.clock,
            self.audit,
            kek=kek,
            default_country=pseudonyms.default_country,
            keys_unit_of_work=key_stores,
            legacy_secret=stores.audit,
        )
        """Keys, pseudonyms, tokens, the anonymiser and crypto-shredding."""
        # A process without the KEK stops here, before it reads or writes a key.
        self.pseudonyms.check_keys()
        self._consent = (
            None
            if stores.consent is None
            else ConsentLedger(
                stores.consent,
                inventory,
                self.clock,
                self.audit,
                feed=stores.feed,
                options=consent,
            )
        )
        self.permissions = Permissions(
            inventory, self._consent, self.clock, restrictions=stores.requests
        )
        """``may_process``: the inventory's lawful basis and the ledger, combined."""
        self._breaches = (
            None
            if stores.breaches is None
            else BreachRegister(
                stores.breaches,
                inventory,
                self.clock,
                self.audit,
                processor_notice=breaches.processor_notice,
                processor_notice_by_recipient=breaches.processor_notice_by_recipient,
                large_volume=breaches.large_volume,
                host=host,
            )
        )

    def _reference_secret(self, create: Callable[[], bytes]) -> bytes:
        return self.pseudonyms.reference_secret(create)

    @property
    def host(self) -> HostData:
        """The host's data (visitors, orders, tickets), as handed to :meth:`open`.

        Raises:
            ValidationError: the kit was opened without ``host=``.

        .. versionadded:: 0.2.0
        """
        if self._host is None:
            msg = (
                "this kit was opened without the host's data; pass host= (an avgkit.HostData "
                "implementation) to Kit.open"
            )
            raise ValidationError(msg)
        return self._host

    @property
    def retention(self) -> RetentionPlanner:
        """Retention: when each subject's data falls due, and the dry-run plan.

        Raises:
            ValidationError: the kit was opened without ``host=`` or ``retention_policy=``.

        .. versionadded:: 0.2.0
        """
        if self._retention is None:
            if self._retention_policy is None:
                msg = (
                    "this kit was opened without a retention policy; pass retention_policy= "
                    "(e.g. avgkit.presets.ticketing.retention_policy()) to Kit.open"
                )
                raise ValidationError(msg)
            self._retention = RetentionPlanner(
                self._retention_policy,
                self.host,
                self.clock,
                store=self.stores.retention,
                erasure=self.erasure if self.stores.erasures is not None else None,
                audit=self.audit,
            )
        return self._retention

    @property
    def erasure(self) -> Erasure:
        """Erasure (Art. 17), for retention and for requests: ``kit.erasure.erase(subject)``.

        Raises:
            ValidationError: the kit was opened without ``host=``.
            StorageError: the store set keeps no erasure log (a plugin adapter without one).

        .. versionadded:: 0.2.0
        """
        if self._erasure is None:
            self._erasure = Erasure(
                stores=self.stores,
                host=self.host,
                inventory=self.inventory,
                audit=self.audit,
                ledger=self._consent,
                pseudonyms=self.pseudonyms,
                clock=self.clock,
            )
        return self._erasure

    @property
    def dsar(self) -> SubjectRequests:
        """Data subject requests: receive, verify, extend, refuse, fulfil; the export.

        Raises:
            ValidationError: the kit was opened without ``host=``.
            StorageError: the store set keeps no requests (a plugin adapter without them).

        .. versionadded:: 0.2.0
        """
        if self._dsar is None:
            erasure = (
                (lambda: self.erasure)
                if self.stores.erasures is not None and self.stores.retention is not None
                else None
            )
            dates = (
                (lambda subject, at: self.retention.dates(subject, at=at))
                if self._retention_policy is not None
                else None
            )
            self._dsar = SubjectRequests(
                stores=self.stores,
                inventory=self.inventory,
                host=self.host,
                clock=self.clock,
                audit=self.audit,
                ledger=self._consent,
                erasure=erasure,
                dates=dates,
                rules=() if self._retention_policy is None else self._retention_policy.rules,
                options=self._dsar_options,
            )
        return self._dsar

    @property
    def feed(self) -> Feed:
        """The outbox for downstream recipients (a CRM): read, acknowledge, export.

        Raises:
            StorageError: the store set keeps no feed (a plugin adapter without one).

        .. versionadded:: 0.2.0
        """
        if self._feed is None:
            if self.stores.feed is None:
                msg = "this store set keeps no feed; use an adapter with a FeedStore"
                raise StorageError(msg)
            self._feed = Feed(self.stores.feed, self.inventory, self.audit)
        return self._feed

    @property
    def breaches(self) -> BreachRegister:
        """The breach register (Art. 33): records, deadlines, the assessment, the reports.

        Raises:
            StorageError: the store set keeps no breaches (a plugin adapter without them).
        """
        if self._breaches is None:
            msg = "this store set keeps no breach register; use an adapter with a BreachStore"
            raise StorageError(msg)
        return self._breaches

    @property
    def consent(self) -> ConsentLedger:
        """The consent ledger: give / withdraw / object, state, history, audience.

        Raises:
            StorageError: the store set keeps no consent events (a plugin adapter without them).
        """
        if self._consent is None:
            msg = "this store set keeps no consent ledger; use an adapter with a ConsentStore"
            raise StorageError(msg)
        return self._consent

    def may_process(self, subject: str, purpose: str, *, at: datetime | None = None) -> Decision:
        """Whether ``subject``'s data may be processed for ``purpose`` now (or at ``at``), and why.

        Combines the inventory's lawful basis with the consent ledger; see
        :class:`avgkit.permissions.Permissions`.

        Raises:
            PolicyError: ``purpose`` is not declared.
            ValidationError: ``at`` is naive, or ``subject`` is malformed.
            StorageError: the purpose needs consent and the store set keeps no consent events.

        .. versionadded:: 0.1.0
        .. versionchanged:: 0.2.0
           Takes ``at=``, like the ledger.
        """
        return self.permissions.may_process(subject, purpose, at=at)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        inventory: Inventory,
        clock: Clock | None = None,
        consent: ConsentOptions | None = None,
        breaches: BreachOptions | None = None,
        pseudonyms: PseudonymOptions | None = None,
        keys_url: str | None = None,
        kek: KeyEncryptionKey | None = None,
        host: HostData | None = None,
        retention_policy: RetentionPolicy | None = None,
        dsar: DsarOptions | None = None,
    ) -> Kit:
        """Open the stores at ``url`` and build a kit over them.

        ``url`` is ``memory://``, ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
        ``postgresql://user@host:5432/db?schema=venue``. ``keys_url``, if given, opens a
        second store set whose key store keeps the keys apart from the data; ``kek`` wraps
        the key material at rest; the options are those of :class:`Kit`.

        Raises:
            ValidationError: a URL is malformed, or ``keys_url`` names the same database as
                ``url`` (one SQLite file, after resolving relative paths and symbolic
                links): keys kept "apart" in the data's own file are not apart, and two
                connections to one file would wait on each other.
            StorageError: a store cannot be opened.
            ConfigurationError: the key store's keys are wrapped and no ``kek`` was given.
            IntegrityError: ``kek`` was given and the key store holds unwrapped keys, or
                keys it does not unwrap.

        .. versionchanged:: 0.2.0
           Refuses one database as both ``url`` and ``keys_url``, and a KEK that does not
           match the key store.
        """
        if keys_url is not None and _same_database(url, keys_url):
            msg = (
                "url and keys_url name the same SQLite file; keys_url must be another "
                "database, so that the keys live apart from the data (or leave keys_url out "
                "to keep them in the same file)"
            )
            raise ValidationError(msg)
        stores = open_stores(url)
        key_stores: StoreSet | None = None
        try:
            if keys_url is not None:
                key_stores = open_stores(keys_url)
            return cls(
                stores=stores,
                inventory=inventory,
                clock=clock,
                consent=consent,
                breaches=breaches,
                pseudonyms=pseudonyms,
                key_stores=key_stores,
                kek=kek,
                host=host,
                retention_policy=retention_policy,
                dsar=dsar,
            )
        except BaseException:
            if key_stores is not None:
                key_stores.close()
            stores.close()
            raise

    def close(self) -> None:
        """Close the stores (and the separate key stores, if any)."""
        try:
            self.stores.close()
        finally:
            if self._key_stores is not None:
                self._key_stores.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Kit(stores={self.stores!r}, clock={self.clock!r})"


def _same_database(url: object, keys_url: object) -> bool:
    """Whether two store URLs name one SQLite file (after paths and links are resolved)."""
    if not (isinstance(url, str) and isinstance(keys_url, str)):
        return False  # open_stores says what is wrong with it
    if not (_is_sqlite(url) and _is_sqlite(keys_url)):
        return False
    first, second = sqlite.path_from_url(url), sqlite.path_from_url(keys_url)
    if ":memory:" in (first, second):
        return False  # each connection to ":memory:" is a database of its own
    try:
        if os.path.exists(first) and os.path.exists(second):  # noqa: PTH110 - plain strings
            return os.path.samefile(first, second)  # noqa: PTH121 - hard links too
        return os.path.realpath(first) == os.path.realpath(second)
    except (OSError, ValueError):
        return False  # the opening itself will say what is wrong with the path


def _is_sqlite(url: str) -> bool:
    return url[:9].lower() == "sqlite://"


def _option(value: _T | None, kind: type[_T], name: str) -> _T:
    if value is None:
        return kind()
    if not isinstance(value, kind):
        msg = f"{name}= takes a {kind.__name__}, got {type(value).__name__}"
        raise ValidationError(msg)
    return value
