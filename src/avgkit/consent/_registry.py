"""The wording registry service: register, withdraw and look up the texts subjects saw."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from avgkit import _validators
from avgkit.consent._values import Evidence
from avgkit.consent._vocab import Actor, Channel, Presentation
from avgkit.consent._wordings import (
    WORDING_LANGUAGES,
    Wording,
    WordingIndex,
    WordingLang,
    WordingWithdrawal,
)
from avgkit.errors import NotFound, PolicyError, ValidationError

if TYPE_CHECKING:
    from avgkit.audit import AuditLog
    from avgkit.clock import Clock
    from avgkit.inventory import Inventory
    from avgkit.storage import WordingStore

__all__ = ["WordingRegistry"]


class WordingRegistry:
    """The privacy-notice versions and checkbox wordings, per language, in avgkit's store.

    Reach it as ``kit.consent.wordings``. Register each text once, before it is shown::

        kit.consent.wordings.register_notice(
            "2024-05", {"nl": notice_nl, "en": notice_en, "fr": notice_fr},
            valid_from=datetime(2024, 5, 1, tzinfo=UTC))
        kit.consent.wordings.register_checkbox(
            "newsletter", "3", {"nl": "Ja, stuur mij de nieuwsbrief.", ...},
            valid_from=datetime(2024, 5, 1, tzinfo=UTC))
        evidence = kit.consent.wordings.evidence(
            "newsletter", "nl", channel="webshop", presentation="unticked_box")

    The consent report, the receipts, the ISO/IEC TS 27560 records and the access export
    then show the exact text each subject saw, in the subject's language. A registered
    version never changes; a new version with ``renewal=True`` marks older consents as to
    be asked again (:meth:`~avgkit.consent.ConsentLedger.to_renew`), and :meth:`withdraw`
    takes a version out (:meth:`~avgkit.consent.ConsentLedger.audience` with
    ``current_wordings=True`` leaves its consents out).

    The registry is cached per store generation: a lookup that misses reads the
    generation and reloads if it changed, so a text registered by another process is found
    at once; a withdrawal by another process is seen at the next :meth:`index` call.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self, store: WordingStore, inventory: Inventory, clock: Clock, audit: AuditLog
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._clock = clock
        self._audit = audit
        self._cached: WordingIndex | None = None

    def __repr__(self) -> str:
        return f"WordingRegistry(store={self._store!r})"

    # ------------------------------------------------------------------ registering

    def register(self, wordings: Iterable[Wording]) -> int:
        """Register wordings in one unit of work; return how many were new.

        Raises:
            PolicyError: a checkbox wording names a purpose that is undeclared or not based
                on consent.
            ValidationError: a version is registered again with a different text (or other
                dates), or its languages disagree on dates; nothing is registered then.
        """
        batch = list(wordings)
        for wording in batch:
            if isinstance(wording, Wording) and wording.purpose is not None:
                declared = self._inventory.purpose(wording.purpose)
                if not declared.needs_consent:
                    msg = (
                        f"purpose {wording.purpose!r} rests on {declared.basis.value!r}, not "
                        "consent: it has no checkbox wording to register"
                    )
                    raise PolicyError(msg)
        with self._audit.atomic():
            added = self._store.register_wordings(batch)
            if added:
                for key in sorted({(w.purpose or "", w.version) for w in batch}):
                    langs = sorted({w.lang for w in batch if (w.purpose or "", w.version) == key})
                    self._audit.record(
                        "consent.wording_registered",
                        details={
                            "purpose": key[0] or None,
                            "version": key[1],
                            "languages": ",".join(langs),
                            "sha256": _digest(batch, key),
                        },
                        at=self._clock.now(),
                    )
        self._cached = None
        return added

    def register_checkbox(
        self,
        purpose: str,
        version: str,
        texts: Mapping[str, str],
        *,
        valid_from: datetime,
        valid_until: datetime | None = None,
        renewal: bool = False,
    ) -> tuple[Wording, ...]:
        """Register a version of ``purpose``'s checkbox wording in each language of ``texts``.

        ``renewal=True``: consents given under earlier versions must be asked again.
        Returns the wordings as registered (see :meth:`register` for the errors).
        """
        wordings = _wordings(purpose, version, texts, valid_from, valid_until, renewal=renewal)
        self.register(wordings)
        return wordings

    def register_notice(
        self,
        version: str,
        texts: Mapping[str, str],
        *,
        valid_from: datetime,
        valid_until: datetime | None = None,
    ) -> tuple[Wording, ...]:
        """Register a privacy-notice version in each language of ``texts``."""
        wordings = _wordings(None, version, texts, valid_from, valid_until, renewal=False)
        self.register(wordings)
        return wordings

    def withdraw(
        self,
        purpose: str | None,
        version: str,
        *,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> WordingWithdrawal:
        """Withdraw a registered version (``purpose=None``: of the notice) from ``at`` on.

        Raises:
            NotFound: the version is not registered; nothing is stored.
        """
        when = self._clock.now() if at is None else _validators.aware(at, "at")
        withdrawal = WordingWithdrawal(purpose=purpose, version=version, at=when, reason=reason)
        with self._audit.atomic():
            kept = self._store.withdraw_wording(withdrawal)
            if kept == withdrawal:
                self._audit.record(
                    "consent.wording_withdrawn",
                    details={"purpose": purpose, "version": version},
                    at=self._clock.now(),
                )
        self._cached = None
        return kept

    # ------------------------------------------------------------------ looking up

    def index(self) -> WordingIndex:
        """Everything registered and withdrawn, current as of this call (one cheap read)."""
        cached = self._cached
        if cached is not None and cached.generation == self._store.wording_generation():
            return cached
        self._cached = self._store.wording_index()
        return self._cached

    def cached(self) -> WordingIndex:
        """The cached index, loaded once (the hot paths' view; see :meth:`lookup`)."""
        if self._cached is None:
            self._cached = self._store.wording_index()
        return self._cached

    def lookup(self, purpose: str, sha256: str, at: datetime) -> Wording | None:
        """The checkbox text of ``purpose`` with ``sha256`` as shown at ``at``, if registered.

        Served from the cache; on a miss the store's generation is read and the cache
        reloaded if another writer registered since.
        """
        index = self.cached()
        found = index.shown(purpose, sha256, at)
        if found is None and index.generation != self._store.wording_generation():
            self._cached = index = self._store.wording_index()
            found = index.shown(purpose, sha256, at)
        return found

    def get(self, purpose: str | None, version: str, lang: str) -> Wording:
        """The registered text of one version in one language.

        Raises:
            NotFound: it is not registered.
        """
        found = self.index().find(purpose, version, lang)
        if found is None:
            what = "the privacy notice" if purpose is None else f"purpose {purpose!r}"
            msg = f"no wording of {what} is registered for version {version!r} in {lang!r}"
            raise NotFound(msg)
        return found

    def current(self, purpose: str | None, lang: str, *, at: datetime | None = None) -> Wording:
        """The text of ``purpose`` (``None``: the notice) in ``lang`` in force at ``at``.

        The version in force that took effect last and was not withdrawn.

        Raises:
            NotFound: none is registered in force then.
        """
        when = self._clock.now() if at is None else _validators.aware(at, "at")
        index = self.index()
        candidates = [
            w
            for w in index.wordings
            if w.purpose == purpose
            and w.lang == lang
            and w.valid_at(when)
            and _not_withdrawn(index, w, when)
        ]
        if not candidates:
            what = "the privacy notice" if purpose is None else f"purpose {purpose!r}"
            msg = (
                f"no wording of {what} in {lang!r} is registered and in force at "
                f"{when.isoformat()}; register one with kit.consent.wordings"
            )
            raise NotFound(msg)
        return max(candidates, key=lambda w: w.valid_from)

    def evidence(
        self,
        purpose: str,
        lang: WordingLang,
        *,
        channel: Channel | str,
        presentation: Presentation | str | None = None,
        actor: Actor | str = Actor.SUBJECT,
        staff_key: str | None = None,
        order_ref: str | None = None,
        at: datetime | None = None,
    ) -> Evidence:
        """Evidence pointing at the registered wording of ``purpose`` and notice in ``lang``.

        The checkbox wording and the privacy notice in force at ``at`` (now by default)
        are looked up, so the checkout need not hash anything itself.

        Raises:
            NotFound: no wording or notice in ``lang`` is registered in force then.
        """
        checkbox = self.current(purpose, lang, at=at)
        notice = self.current(None, lang, at=at)
        return Evidence(
            channel=channel,
            notice_version=notice.version,
            wording_sha256=checkbox.sha256,
            actor=actor,
            staff_key=staff_key,
            order_ref=order_ref,
            presentation=presentation,
        )

    def check(self, purpose: str, evidence: Evidence, at: datetime) -> None:
        """Refuse ``evidence`` unless its wording and notice are registered and in force.

        Raises:
            ValidationError: the wording hash is not registered for ``purpose``, or not in
                force at ``at``, or its version was withdrawn; or the notice version is not
                registered in force.
        """
        wording = self.lookup(purpose, evidence.wording_sha256, at)
        advice = "register it with kit.consent.wordings before showing it"
        if wording is None:
            msg = (
                f"strict wordings: the wording hash of the consent to {purpose!r} is not a "
                f"registered wording of that purpose; {advice}"
            )
            raise ValidationError(msg)
        index = self.cached()
        if not wording.valid_at(at) or not _not_withdrawn(index, wording, at):
            msg = (
                f"strict wordings: the wording of {purpose!r} (version {wording.version!r}) is "
                "not in force at the consent's instant (outside its validity, or withdrawn)"
            )
            raise ValidationError(msg)
        notice = index.notice(evidence.notice_version, wording.lang)
        if notice is None and index.generation != self._store.wording_generation():
            self._cached = index = self._store.wording_index()
            notice = index.notice(evidence.notice_version, wording.lang)
        if notice is None or not notice.valid_at(at):
            msg = (
                f"strict wordings: privacy notice version {evidence.notice_version!r} is not "
                f"registered and in force at the consent's instant; {advice}"
            )
            raise ValidationError(msg)


def _not_withdrawn(index: WordingIndex, wording: Wording, at: datetime) -> bool:
    gone = index.withdrawal(wording.purpose, wording.version)
    return gone is None or gone.at > at


def _wordings(
    purpose: str | None,
    version: str,
    texts: Mapping[str, str],
    valid_from: datetime,
    valid_until: datetime | None,
    *,
    renewal: bool,
) -> tuple[Wording, ...]:
    if not isinstance(texts, Mapping) or not texts:
        msg = f"texts maps languages ({list(WORDING_LANGUAGES)}) to the exact text shown"
        raise ValidationError(msg)
    return tuple(
        Wording(
            purpose=purpose,
            version=version,
            lang=lang,  # type: ignore[arg-type]  # checked by Wording's validator
            text=text,
            valid_from=valid_from,
            valid_until=valid_until,
            renewal=renewal,
        )
        for lang, text in texts.items()
    )


def _digest(batch: list[Wording], key: tuple[str, str]) -> str:
    # One hash over the version's texts, in language order, for the audit entry.
    parts = sorted((w.lang, w.sha256) for w in batch if (w.purpose or "", w.version) == key)
    return hashlib.sha256("\x1f".join(f"{lang}:{sha}" for lang, sha in parts).encode()).hexdigest()
