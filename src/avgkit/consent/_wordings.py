"""The wording registry's values: the exact texts subjects saw, and what follows from them.

Pure: no I/O. A :class:`Wording` is one text in one language: a version of the privacy
notice (``purpose=None``) or of one purpose's checkbox. Its SHA-256 is what consent
evidence records (:func:`~avgkit.consent.hash_wording`), so that the registry can later show
the exact text a subject agreed to, in the subject's language. A :class:`WordingIndex` is
what a store holds, with the lookups the ledger and the adapters share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

import attrs

from avgkit._validators import opt, to_utc, v_aware, v_bool, v_key, v_text
from avgkit.consent._values import hash_wording
from avgkit.errors import ValidationError

__all__ = [
    "WORDING_LANGUAGES",
    "Wording",
    "WordingIndex",
    "WordingLang",
    "WordingWithdrawal",
    "check_registration",
]

WordingLang = Literal["nl", "en", "fr"]
"""The languages a wording is registered in."""

WORDING_LANGUAGES: Final[tuple[WordingLang, ...]] = ("nl", "en", "fr")
"""Dutch, English and French (Belgium's languages besides German, and the venue's guests').

.. versionadded:: 0.2.0
"""

_VERSION_MAX: Final = 100
_TEXT_MAX: Final = 500_000  # a whole privacy notice fits


def _v_purpose(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        v_key(instance, attribute, value)


def _v_lang(_instance: object, _attribute: object, value: object) -> None:
    if value not in WORDING_LANGUAGES:
        msg = f"Wording.lang must be one of {list(WORDING_LANGUAGES)}"
        raise ValidationError(msg)


def _hash(wording: Wording) -> str:
    return hash_wording(wording.text)


def _what(purpose: str | None, version: str) -> str:
    kind = "the privacy notice" if purpose is None else f"the wording of purpose {purpose!r}"
    return f"{kind}, version {version!r}"


@attrs.frozen(kw_only=True)
class Wording:
    """One registered text in one language: a privacy-notice version or a checkbox wording.

    Args:
        purpose: The purpose whose checkbox shows it, or ``None`` for the privacy notice.
        version: The version (for the notice, what evidence records as ``notice_version``).
        lang: ``"nl"``, ``"en"`` or ``"fr"``.
        text: The exact text shown, after template rendering (not in ``repr``).
        valid_from: From when it is shown.
        valid_until: Until when, if it was replaced at a known instant.
        renewal: Whether consents given under earlier versions of this purpose must be asked
            again (the purpose or its wording changed materially). The same for every
            language of a version.

    ``sha256`` is :func:`~avgkit.consent.hash_wording` of ``text``.

    .. versionadded:: 0.2.0
    """

    purpose: str | None = attrs.field(validator=_v_purpose)
    version: str = attrs.field(validator=v_text(_VERSION_MAX))
    lang: WordingLang = attrs.field(validator=_v_lang)
    text: str = attrs.field(repr=False, validator=v_text(_TEXT_MAX))
    valid_from: datetime = attrs.field(converter=to_utc, validator=v_aware)
    valid_until: datetime | None = attrs.field(
        default=None, converter=to_utc, validator=opt(v_aware)
    )
    renewal: bool = attrs.field(default=False, validator=v_bool)
    sha256: str = attrs.field(init=False, default=attrs.Factory(_hash, takes_self=True))

    @valid_until.validator
    def _check_until(self, _attribute: object, value: datetime | None) -> None:
        if value is not None and value <= self.valid_from:
            msg = f"{_what(self.purpose, self.version)}: valid_until must be after valid_from"
            raise ValidationError(msg)

    @property
    def is_notice(self) -> bool:
        """Whether this is a privacy-notice version (not a checkbox wording)."""
        return self.purpose is None

    def valid_at(self, at: datetime) -> bool:
        """Whether it is in force at ``at`` (from ``valid_from``, before ``valid_until``)."""
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping: version, language, hash, the text and its validity."""
        return {
            "version": self.version,
            "lang": self.lang,
            "sha256": self.sha256,
            "text": self.text,
            "valid_from": _iso(self.valid_from),
            "valid_until": None if self.valid_until is None else _iso(self.valid_until),
        }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@attrs.frozen(kw_only=True)
class WordingWithdrawal:
    """A registered version withdrawn (misleading, unlawful): consents under it are suspect.

    :meth:`ConsentLedger.audience <avgkit.consent.ConsentLedger.audience>` can leave out the
    consents given under it, and :meth:`ConsentLedger.to_renew
    <avgkit.consent.ConsentLedger.to_renew>` lists them to ask again.

    .. versionadded:: 0.2.0
    """

    purpose: str | None = attrs.field(validator=_v_purpose)
    version: str = attrs.field(validator=v_text(_VERSION_MAX))
    at: datetime = attrs.field(converter=to_utc, validator=v_aware)
    reason: str | None = attrs.field(default=None, validator=opt(v_text(500)))


@attrs.frozen(kw_only=True)
class WordingIndex:
    """The registry's contents with the lookups ledger and adapters share.

    ``generation`` counts the registry's changes: a cached index is current while the
    store's generation is the same.

    .. versionadded:: 0.2.0
    """

    wordings: tuple[Wording, ...] = ()
    withdrawals: tuple[WordingWithdrawal, ...] = ()
    generation: int = 0
    _by_hash: Mapping[tuple[str | None, str], tuple[Wording, ...]] = attrs.field(
        init=False, repr=False, eq=False
    )
    _withdrawn: Mapping[tuple[str | None, str], WordingWithdrawal] = attrs.field(
        init=False, repr=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        """Index by (purpose, hash) and withdrawn versions by (purpose, version)."""
        by_hash: dict[tuple[str | None, str], list[Wording]] = {}
        for wording in self.wordings:
            by_hash.setdefault((wording.purpose, wording.sha256), []).append(wording)
        object.__setattr__(
            self,
            "_by_hash",
            {
                key: tuple(sorted(found, key=lambda w: w.valid_from))
                for key, found in by_hash.items()
            },
        )
        object.__setattr__(
            self, "_withdrawn", {(w.purpose, w.version): w for w in self.withdrawals}
        )

    # ------------------------------------------------------------------ lookups

    def find(self, purpose: str | None, version: str, lang: str) -> Wording | None:
        """The registered text of ``purpose`` (``None``: the notice), version and language."""
        for wording in self.wordings:
            if (wording.purpose, wording.version, wording.lang) == (purpose, version, lang):
                return wording
        return None

    def by_hash(self, purpose: str | None, sha256: str) -> tuple[Wording, ...]:
        """The registrations of ``purpose`` whose text has ``sha256``, oldest first."""
        return self._by_hash.get((purpose, sha256), ())

    def shown(self, purpose: str, sha256: str, at: datetime) -> Wording | None:
        """The checkbox text a consent with ``sha256`` given at ``at`` was given under.

        The registration in force at ``at`` if there is one, else the earliest.
        """
        found = self.by_hash(purpose, sha256)
        for wording in found:
            if wording.valid_at(at):
                return wording
        return found[0] if found else None

    def notice(self, version: str, lang: str) -> Wording | None:
        """The privacy notice of ``version`` in ``lang``, or in another language if not."""
        exact = self.find(None, version, lang)
        if exact is not None:
            return exact
        for wording in self.wordings:
            if wording.is_notice and wording.version == version:
                return wording
        return None

    def withdrawal(self, purpose: str | None, version: str) -> WordingWithdrawal | None:
        """The withdrawal of a version, if it was withdrawn."""
        return self._withdrawn.get((purpose, version))

    def withdrawn(self, purpose: str, sha256: str, at: datetime) -> bool:
        """Whether every registration of ``purpose`` with this text was withdrawn by ``at``."""
        found = self.by_hash(purpose, sha256)
        if not found:
            return False
        for wording in found:
            gone = self.withdrawal(purpose, wording.version)
            if gone is None or gone.at > at:
                return False
        return True

    def withdrawn_hashes(self, purpose: str, at: datetime) -> frozenset[str]:
        """The texts of ``purpose`` that :meth:`withdrawn` says were withdrawn by ``at``."""
        return frozenset(
            w.sha256
            for w in self.wordings
            if w.purpose == purpose and self.withdrawn(purpose, w.sha256, at)
        )

    def renewal_since(self, purpose: str, at: datetime) -> datetime | None:
        """When the latest version of ``purpose`` that asks for renewal took effect by ``at``."""
        starts = [
            w.valid_from
            for w in self.wordings
            if w.purpose == purpose and w.renewal and w.valid_from <= at
        ]
        return max(starts, default=None)

    def current_hashes(self, purpose: str, at: datetime) -> frozenset[str] | None:
        """The texts that need no renewal at ``at``, or ``None`` when no version asks for it.

        Those of the latest renewing version and of the versions after it.
        """
        since = self.renewal_since(purpose, at)
        if since is None:
            return None
        return frozenset(
            w.sha256 for w in self.wordings if w.purpose == purpose and w.valid_from >= since
        )

    def needs_renewal(self, purpose: str, sha256: str, at: datetime) -> bool:
        """Whether consent given under the text ``sha256`` must be asked again at ``at``.

        Either the text was withdrawn, or a version asking for renewal took effect and the
        text is not of that version or a later one.
        """
        if self.withdrawn(purpose, sha256, at):
            return True
        current = self.current_hashes(purpose, at)
        return current is not None and sha256 not in current


def check_registration(index: WordingIndex, wordings: Iterable[Wording]) -> list[Wording]:
    """The wordings of a registration that are new, or a refusal of all of it.

    A (purpose, version, language) registered again with the same text and dates is left
    out (registering is idempotent); with another text or other dates it is refused. Every
    language of one version must share its dates and its ``renewal``.

    Raises:
        ValidationError: an item is not a :class:`Wording`, a version is registered twice
            with different text, or its languages disagree; nothing is registered then.

    .. versionadded:: 0.2.0
    """
    batch: Sequence[object] = list(wordings)
    for position, item in enumerate(batch):
        if not isinstance(item, Wording):
            got = type(item).__name__
            msg = f"item {position} of the registration is a {got}, not a Wording"
            raise ValidationError(msg)
    known = {(w.purpose, w.version, w.lang): w for w in index.wordings}
    versions: dict[tuple[str | None, str], Wording] = {
        (w.purpose, w.version): w for w in index.wordings
    }
    fresh: list[Wording] = []
    for item in batch:
        assert isinstance(item, Wording)  # noqa: S101 - checked above
        key = (item.purpose, item.version, item.lang)
        what = _what(item.purpose, item.version)
        same = known.get(key)
        if same is not None:
            if same.text != item.text:
                msg = (
                    f"{what} is already registered in {item.lang!r} with a different text; "
                    "a registered version never changes: register the new text as a new version"
                )
                raise ValidationError(msg)
            if same != item:
                msg = (
                    f"{what} is already registered in {item.lang!r} with other dates or "
                    "renewal; a registered version never changes"
                )
                raise ValidationError(msg)
            continue
        sibling = versions.get((item.purpose, item.version))
        if sibling is not None and (
            sibling.valid_from,
            sibling.valid_until,
            sibling.renewal,
        ) != (item.valid_from, item.valid_until, item.renewal):
            msg = (
                f"{what}: every language of a version has the same valid_from, valid_until "
                "and renewal"
            )
            raise ValidationError(msg)
        known[key] = item
        versions[(item.purpose, item.version)] = item
        fresh.append(item)
    return fresh
