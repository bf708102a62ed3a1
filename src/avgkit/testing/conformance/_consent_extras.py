"""The contracts of what a consent store keeps beside its events (private; see the package).

The wording registry (:class:`~avgkit.storage.WordingStore`), pending double opt-ins
(:class:`~avgkit.storage.ConfirmationStore`) and compelling grounds
(:class:`~avgkit.storage.GroundsStore`) are implemented by the consent store itself, so each
contract tests the set's ``consent`` store, beside the events it answers over.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar, Protocol, cast

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit.consent import (
    WORDING_LANGUAGES,
    Actor,
    Channel,
    CompellingGrounds,
    ConsentAction,
    ConsentEvent,
    Evidence,
    PendingConsent,
    Presentation,
    Wording,
    WordingIndex,
    WordingLang,
    WordingWithdrawal,
    hash_wording,
    replay,
)
from avgkit.consent._values import new_token, split_token, token_matches, verifier_hash
from avgkit.errors import ConflictError, NotFound, ValidationError
from avgkit.storage import (
    ConfirmationStore,
    ConsentStore,
    GroundsStore,
    StoreSet,
    WordingStore,
)
from avgkit.subjects import SubjectId
from avgkit.testing.conformance._base import require
from avgkit.testing.conformance._requests import _fail_inside, _StoreSetContract, reference

T0 = datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)
_CEST = timezone(timedelta(hours=2))
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_TICK = timedelta(microseconds=1)
_WRITER_WAIT = 10.0  # seconds: a writer takes milliseconds; a blocked one waits for ever
_HEALTH = [HealthCheck.differing_executors, HealthCheck.too_slow, HealthCheck.data_too_large]
_NEWSLETTER = "newsletter"
_OBJECTABLE = "evaluation_mail"

GIVEN = ConsentAction.GIVEN
WITHDRAWN = ConsentAction.WITHDRAWN
OBJECTED = ConsentAction.OBJECTED
LIFTED = ConsentAction.OBJECTION_LIFTED


class _WordingLedger(ConsentStore, WordingStore, Protocol):
    """A consent store that keeps the wording registry (every built-in one does)."""


class _ConfirmingLedger(ConsentStore, ConfirmationStore, Protocol):
    """A consent store that keeps pending double opt-ins (every built-in one does)."""


class _GroundedLedger(ConsentStore, GroundsStore, Protocol):
    """A consent store that keeps compelling grounds (every built-in one does)."""


def _consent_of(stores: StoreSet, protocol: type) -> ConsentStore:
    consent = stores.consent
    assert consent is not None, "the store set keeps no consent store"
    assert isinstance(consent, ConsentStore), "the set's consent store is no ConsentStore"
    assert isinstance(consent, protocol), f"the set's consent store is no {protocol.__name__}"
    return consent


# ---------------------------------------------------------------------------- values


def wording(
    version: str,
    *,
    purpose: str | None = _NEWSLETTER,
    lang: WordingLang = "nl",
    text: str | None = None,
    days: int = 0,
    until: int | None = None,
    renewal: bool = False,
) -> Wording:
    """Version ``version`` of ``purpose``'s checkbox (``None``: the notice), from day ``days``.

    The text defaults to one naming the purpose, version and language, so that every
    (purpose, version, language) has a text of its own.
    """
    return Wording(
        purpose=purpose,
        version=version,
        lang=lang,
        text=text if text is not None else f"Ja, {purpose or 'privacy'} versie {version} ({lang})",
        valid_from=T0 + days * _DAY,
        valid_until=None if until is None else T0 + until * _DAY,
        renewal=renewal,
    )


def consent_event(
    subject: str,
    text: str,
    *,
    kind: ConsentAction = GIVEN,
    purpose: str = _NEWSLETTER,
    minutes: int = 0,
    expires: datetime | None = None,
) -> ConsentEvent:
    """An event of ``subject`` under the wording ``text``, ``minutes`` after ``T0``."""
    return ConsentEvent(
        subject=subject,
        purpose=purpose,
        kind=kind,
        at=T0 + timedelta(minutes=minutes),
        evidence=Evidence(
            channel=Channel.WEBSHOP,
            notice_version="2024-05",
            wording_sha256=hash_wording(text),
            expires_at=expires,
        ),
    )


_REQUEST_EVIDENCE = Evidence(
    channel=Channel.WEBSHOP,
    notice_version="2024-05",
    wording_sha256=hash_wording("Ja, stuur mij de nieuwsbrief."),
    presentation=Presentation.UNTICKED_BOX,
)


def pending_consent(
    subject: str = "cust-1",
    *,
    selector: str | None = None,
    purpose: str = _NEWSLETTER,
    requested: datetime = T0,
    expires: datetime | None = None,
    settled: datetime | None = None,
    evidence: Evidence = _REQUEST_EVIDENCE,
) -> PendingConsent:
    """A pending double opt-in with a fresh token (or a fixed ``selector``), a week to go."""
    token, fresh, verifier = new_token()
    return PendingConsent(
        selector=fresh if selector is None else selector,
        verifier_sha256=verifier,
        subject=subject,
        purpose=purpose,
        requested_at=requested,
        expires_at=requested + 7 * _DAY if expires is None else expires,
        evidence=evidence,
        settled_at=settled,
        token=token,
    )


def compelling_grounds(
    subject: str = "cust-1",
    *,
    purpose: str = _OBJECTABLE,
    at: datetime = T0,
    reason: str = "the evaluation is needed to keep the venue's licence",
    decided_by: str = "dpo",
    until: datetime | None = None,
) -> CompellingGrounds:
    """Grounds recorded at ``at`` by the ``decided_by`` key."""
    return CompellingGrounds(
        subject=subject,
        purpose=purpose,
        at=at,
        reason=reason,
        decided_by=decided_by,
        until=until,
    )


def _keyed(wordings: Iterable[Wording]) -> dict[tuple[str, str, str], Wording]:
    return {(w.purpose or "", w.version, w.lang): w for w in wordings}


# ---------------------------------------------------------------------------- the registry


class WordingStoreContract(_StoreSetContract):
    """Subclass this in your adapter's tests and implement :meth:`make_stores`.

    The store under test is the set's :attr:`~avgkit.storage.StoreSet.consent`, which must
    implement :class:`~avgkit.storage.WordingStore` beside
    :class:`~avgkit.storage.ConsentStore`: the audience without withdrawn wordings and the
    list of whom to ask again are answers over the events and the registry together. The
    set is needed for its unit of work (:meth:`~avgkit.storage.StoreSet.atomic`).

    Example::

        class TestMyWordingStore(WordingStoreContract):
            def make_stores(self) -> StoreSet:
                return open_stores(f"mystore:///{self.tmp_path}/consent.db")

    Those answers are checked against :class:`avgkit.consent.WordingIndex` and
    :func:`avgkit.consent.replay`, the reference semantics, including a property test over
    generated registries and histories.

    .. versionadded:: 0.2.0
    """

    registry_examples: ClassVar[int] = 40
    """How many generated registries the property test checks (lower it for slow
    backends)."""

    def registry(self) -> tuple[StoreSet, _WordingLedger]:
        """A new store set and its consent store, which must keep the wording registry."""
        stores = self.store()
        consent = _consent_of(stores, WordingStore)
        return stores, cast("_WordingLedger", consent)

    # ------------------------------------------------------------------ registering

    def test_a_new_registry_is_empty(self) -> None:
        """No wording, no withdrawal, the generation the index carries, empty answers."""
        _, store = self.registry()
        index = store.wording_index()
        assert index.wordings == ()
        assert index.withdrawals == ()
        assert index.generation == store.wording_generation()
        assert list(store.current_audience(_NEWSLETTER, T0)) == []
        assert list(store.to_renew(_NEWSLETTER, T0)) == []

    def test_registered_wordings_come_back_exactly(self) -> None:
        """Every field, long non-ASCII texts and instants to the microsecond, in UTC."""
        _, store = self.registry()
        start = datetime(2024, 5, 1, 11, 30, 15, 123457, tzinfo=_CEST)
        checkbox: tuple[tuple[WordingLang, str], ...] = (
            ("nl", "Ja, stuur mij de nieuwsbrief.\n\tMet «aanbiedingen» & <b>nieuws</b>."),
            ("fr", "Oui, envoyez-moi la lettre d'information — été 2024."),
        )
        notice = "Privacyverklaring — wij bewaren je gegevens zorgvuldig. ✓ «» 🎫\n" * 2_000
        batch = [
            Wording(
                purpose=None,
                version="2024-05",
                lang=lang,
                text=f"{lang}: {notice}",
                valid_from=start,
            )
            for lang in WORDING_LANGUAGES
        ]
        batch += [
            Wording(
                purpose=_NEWSLETTER,
                version="v2 — mei",
                lang=lang,
                text=text,
                valid_from=start + timedelta(microseconds=1),
                valid_until=start + timedelta(days=365, microseconds=999_999),
                renewal=True,
            )
            for lang, text in checkbox
        ]
        assert store.register_wordings(batch) == len(batch)
        index = store.wording_index()
        assert _keyed(index.wordings) == _keyed(tuple(batch))
        for back in index.wordings:
            assert back.sha256 == hash_wording(back.text)
            assert back.valid_from.utcoffset() == timedelta(0)
        found = index.find(_NEWSLETTER, "v2 — mei", "fr")
        assert found == batch[4]
        assert found is not None
        assert found.text == batch[4].text
        assert found.valid_until == batch[4].valid_until
        assert found.renewal
        assert index.notice("2024-05", "en") == batch[1]

    def test_versions_and_languages_are_told_apart_exactly(self) -> None:
        """Keys compare exactly: case, a trailing space, the notice beside a purpose."""
        _, store = self.registry()
        batch = [
            wording("v1"),
            wording("V1"),
            wording("v1 "),
            wording("v1", lang="en"),
            wording("v1", purpose=None),
            wording("v1", purpose="loyalty_programme"),
        ]
        assert store.register_wordings(batch) == len(batch)
        assert _keyed(store.wording_index().wordings) == _keyed(tuple(batch))
        gone = WordingWithdrawal(purpose=_NEWSLETTER, version="V1", at=T0)
        assert store.withdraw_wording(gone) == gone
        index = store.wording_index()
        assert index.withdrawals == (gone,)
        assert index.withdrawal(_NEWSLETTER, "v1") is None
        assert index.withdrawal(_NEWSLETTER, "v1 ") is None
        assert index.withdrawal(None, "V1") is None

    def test_registering_again_is_idempotent(self) -> None:
        """A known version with the same text is skipped: 0 new, the generation unchanged."""
        _, store = self.registry()
        batch = [wording("v1"), wording("v1", lang="en")]
        assert store.register_wordings(batch) == 2
        generation = store.wording_generation()
        before = store.wording_index()
        assert store.register_wordings(batch) == 0
        assert store.register_wordings([batch[1]]) == 0
        assert store.register_wordings([]) == 0
        assert store.wording_generation() == generation
        assert store.wording_index() == before
        assert store.register_wordings([*batch, wording("v1", lang="fr")]) == 1
        assert store.wording_generation() != generation
        assert len(store.wording_index().wordings) == 3

    def test_the_generation_changes_with_every_change_and_only_then(self) -> None:
        """Registering and withdrawing change it; reads, no-ops and refusals do not."""
        _, store = self.registry()
        seen = [store.wording_generation()]
        store.register_wordings([wording("v1")])
        seen.append(store.wording_generation())
        store.register_wordings([wording("v2")])
        seen.append(store.wording_generation())
        store.withdraw_wording(WordingWithdrawal(purpose=_NEWSLETTER, version="v1", at=T0))
        seen.append(store.wording_generation())
        assert len(set(seen)) == len(seen), f"a change kept the generation: {seen}"
        store.wording_index()
        list(store.current_audience(_NEWSLETTER, T0))
        store.register_wordings([wording("v2")])
        store.withdraw_wording(WordingWithdrawal(purpose=_NEWSLETTER, version="v1", at=T0 + _DAY))
        with pytest.raises(ValidationError):
            store.register_wordings([wording("v2", text="another text")])
        with pytest.raises(NotFound):
            store.withdraw_wording(WordingWithdrawal(purpose=_NEWSLETTER, version="v9", at=T0))
        assert store.wording_generation() == seen[-1]
        assert store.wording_index().generation == seen[-1]

    @pytest.mark.parametrize(
        "refused",
        [
            pytest.param(wording("v1", text="Ja, een andere tekst."), id="another-text"),
            pytest.param(wording("v1", days=1), id="other-dates"),
            pytest.param(wording("v1", lang="en", renewal=True), id="a-language-disagrees"),
            pytest.param("Ja, stuur mij de nieuwsbrief.", id="not-a-wording"),
        ],
    )
    def test_a_refused_registration_stores_nothing(self, refused: object) -> None:
        """A changed version, disagreeing dates or a non-Wording: ValidationError, no trace.

        The refused item comes after a new one in the batch: an adapter that writes item by
        item without one transaction keeps that one and fails this test.
        """
        _, store = self.registry()
        store.register_wordings([wording("v1")])
        before, generation = store.wording_index(), store.wording_generation()
        batch = [wording("v2"), wording("v2", lang="en"), refused]
        with pytest.raises(ValidationError):
            store.register_wordings(batch)  # type: ignore[arg-type]
        assert store.wording_index() == before
        assert store.wording_generation() == generation

    def test_the_languages_of_a_new_version_must_agree(self) -> None:
        """A batch whose languages of one version have other dates is refused whole."""
        _, store = self.registry()
        with pytest.raises(ValidationError):
            store.register_wordings([wording("v1"), wording("v1", lang="en", days=1)])
        with pytest.raises(ValidationError):
            store.register_wordings([wording("v1"), wording("v1", lang="en", renewal=True)])
        assert store.wording_index().wordings == ()

    # ------------------------------------------------------------------ withdrawing

    def test_withdrawing_keeps_the_first_withdrawal(self) -> None:
        """The first withdrawal of a version is returned ever after; others change nothing."""
        _, store = self.registry()
        store.register_wordings(
            [wording("v1"), wording("v1", lang="en"), wording("n1", purpose=None)]
        )
        first = WordingWithdrawal(
            purpose=_NEWSLETTER,
            version="v1",
            at=datetime(2024, 5, 3, 12, 0, 0, 7, tzinfo=_CEST),
            reason="misleidend: de «gratis» nieuwsbrief was betaald",
        )
        generation = store.wording_generation()
        assert store.withdraw_wording(first) == first
        assert store.wording_generation() != generation
        generation = store.wording_generation()
        later = WordingWithdrawal(purpose=_NEWSLETTER, version="v1", at=T0 + 9 * _DAY)
        assert store.withdraw_wording(later) == first
        assert store.wording_generation() == generation
        notice = WordingWithdrawal(purpose=None, version="n1", at=T0)
        assert store.withdraw_wording(notice) == notice
        index = store.wording_index()
        assert set(index.withdrawals) == {first, notice}
        assert index.withdrawal(_NEWSLETTER, "v1") == first
        kept = index.withdrawal(None, "n1")
        assert kept is not None
        assert kept.reason is None

    def test_withdrawing_an_unregistered_version_is_not_found(self) -> None:
        """Another version, purpose, or the notice's namesake: NotFound, nothing stored."""
        _, store = self.registry()
        store.register_wordings([wording("v1"), wording("n1", purpose=None)])
        generation = store.wording_generation()
        for purpose, version in (
            (_NEWSLETTER, "v2"),
            ("loyalty_programme", "v1"),
            (None, "v1"),
            (_NEWSLETTER, "n1"),
            (_NEWSLETTER, "V1"),
        ):
            with pytest.raises(NotFound):
                store.withdraw_wording(WordingWithdrawal(purpose=purpose, version=version, at=T0))
        assert store.wording_index().withdrawals == ()
        assert store.wording_generation() == generation

    # ------------------------------------------------------------------ the answers

    def test_the_current_audience_leaves_out_consents_under_withdrawn_wordings(self) -> None:
        """Left out from the withdrawal on, if every registration of the text is withdrawn."""
        _, store = self.registry()
        store.register_wordings(
            [
                wording("v1", text="oud"),
                wording("v1", lang="en", text="old"),
                wording("v2", text="nieuw"),
                wording("v3", text="oud"),  # the same text again, in a later version
                wording("v1", purpose="loyalty_programme", text="nieuw"),
            ]
        )
        store.append_many(
            [
                consent_event("under-old-en", "old"),
                consent_event("under-old", "oud"),
                consent_event("under-new", "nieuw"),
                consent_event("unregistered", "nergens geregistreerd"),
                consent_event("withdrew", "old"),
                consent_event("withdrew", "old", kind=WITHDRAWN, minutes=5),
                consent_event("objected", "nieuw"),
                consent_event("objected", "nieuw", kind=OBJECTED, minutes=5),
                consent_event("expired", "nieuw", expires=T0 + timedelta(minutes=30)),
                consent_event("loyal", "old", purpose="loyalty_programme"),
            ]
        )
        first, second = T0 + 10 * _DAY, T0 + 20 * _DAY
        store.withdraw_wording(WordingWithdrawal(purpose=_NEWSLETTER, version="v1", at=first))
        store.withdraw_wording(WordingWithdrawal(purpose=_NEWSLETTER, version="v3", at=second))
        store.withdraw_wording(
            WordingWithdrawal(purpose="loyalty_programme", version="v1", at=first)
        )

        def current(at: datetime) -> list[str]:
            return sorted(store.current_audience(_NEWSLETTER, at))

        everyone = ["under-new", "under-old", "under-old-en", "unregistered"]
        assert sorted(store.audience(_NEWSLETTER, first)) == everyone
        assert current(T0 + timedelta(minutes=10)) == ["expired", *everyone]
        assert current(first - _TICK) == everyone
        assert current(first) == ["under-new", "under-old", "unregistered"]
        assert current(second - _TICK) == ["under-new", "under-old", "unregistered"]
        assert current(second) == ["under-new", "unregistered"]
        assert sorted(store.current_audience("loyalty_programme", second)) == ["loyal"]

    def test_to_renew_lists_live_consents_under_withdrawn_or_superseded_wordings(self) -> None:
        """From a renewing version on, the older texts and unknown ones; always the withdrawn."""
        _, store = self.registry()
        store.register_wordings(
            [
                wording("v1", text="eerste"),
                wording("v2", text="tweede", days=10),
                wording("v3", text="derde", days=20, renewal=True),
                wording("v3", lang="en", text="third", days=20, renewal=True),
                wording("v4", text="vierde", days=30),
            ]
        )
        day = 24 * 60
        store.append_many(
            [
                consent_event("s1", "eerste"),
                consent_event("s2", "tweede", minutes=10 * day),
                consent_event("s3", "derde", minutes=20 * day),
                consent_event("s3-en", "third", minutes=20 * day),
                consent_event("s4", "vierde", minutes=30 * day),
                consent_event("s5", "nergens geregistreerd"),
                consent_event("s6", "eerste"),
                consent_event("s6", "eerste", kind=WITHDRAWN, minutes=5),
                consent_event("s7", "eerste"),
                consent_event("s7", "eerste", kind=OBJECTED, minutes=5),
                consent_event("late", "eerste", minutes=25 * day),  # old text, given late
                consent_event("loyal", "eerste", purpose="loyalty_programme"),
            ]
        )

        def renew(at: datetime) -> list[str]:
            return sorted(store.to_renew(_NEWSLETTER, at))

        renewing = T0 + 20 * _DAY
        assert renew(renewing - _TICK) == []
        assert renew(renewing) == ["s1", "s2", "s5"]
        assert renew(T0 + 31 * _DAY) == ["late", "s1", "s2", "s5"]
        assert list(store.to_renew("loyalty_programme", T0 + 31 * _DAY)) == []
        gone = T0 + 40 * _DAY
        store.withdraw_wording(WordingWithdrawal(purpose=_NEWSLETTER, version="v3", at=gone))
        assert renew(gone - _TICK) == ["late", "s1", "s2", "s5"]
        assert renew(gone) == ["late", "s1", "s2", "s3", "s3-en", "s5"]

    def test_without_a_renewing_version_only_withdrawn_wordings_are_renewed(self) -> None:
        """New versions alone ask nobody again; a withdrawal asks its consents again."""
        _, store = self.registry()
        store.register_wordings(
            [wording("v1", text="eerste"), wording("v2", text="tweede", days=1)]
        )
        store.append_many(
            [
                consent_event("s1", "eerste"),
                consent_event("s2", "tweede"),
                consent_event("s3", "nergens geregistreerd"),
            ]
        )
        assert list(store.to_renew(_NEWSLETTER, T0 + 5 * _DAY)) == []
        store.withdraw_wording(
            WordingWithdrawal(purpose=_NEWSLETTER, version="v1", at=T0 + 6 * _DAY)
        )
        assert list(store.to_renew(_NEWSLETTER, T0 + 5 * _DAY)) == []
        assert list(store.to_renew(_NEWSLETTER, T0 + 6 * _DAY)) == ["s1"]

    def test_answers_match_the_index_and_a_replay_at_every_instant(self) -> None:
        """current_audience() and to_renew() equal WordingIndex over a replay, always."""
        _, store = self.registry()
        examples = itertools.count()
        version_strategy = st.tuples(
            st.sampled_from(["1", "2", "3", "4"]),  # version
            st.sampled_from(["a", "b", "c"]),  # text (versions may share one)
            st.integers(0, 6),  # valid from, days into the example
            st.booleans(),  # renewal
            st.one_of(st.none(), st.integers(0, 8)),  # withdrawn on that day
        )
        event_strategy = st.tuples(
            st.sampled_from(["s1", "s2", "s3"]),
            st.sampled_from([GIVEN, GIVEN, GIVEN, WITHDRAWN, OBJECTED, LIFTED]),
            st.sampled_from(["a", "b", "c", "x"]),  # "x" is registered nowhere
            st.integers(0, 8 * 24),  # hours into the example
            st.one_of(st.none(), st.integers(1, 72)),  # expires that many hours later
        )

        @settings(max_examples=self.registry_examples, deadline=None, suppress_health_check=_HEALTH)
        @given(
            versions=st.lists(version_strategy, max_size=5, unique_by=lambda v: v[0]),
            drawn=st.lists(event_strategy, max_size=12),
        )
        def check(
            versions: list[tuple[str, str, int, bool, int | None]],
            drawn: list[tuple[str, ConsentAction, str, int, int | None]],
        ) -> None:
            # Each example has a purpose of its own: the registry and the answers are per
            # purpose, so examples never see each other's wordings or events.
            purpose = f"p{next(examples)}_news"
            wordings = [
                wording(v, purpose=purpose, text=f"tekst {text}", days=start, renewal=renewal)
                for v, text, start, renewal, _ in versions
            ]
            withdrawals = [
                WordingWithdrawal(purpose=purpose, version=v, at=T0 + gone * _DAY)
                for v, _, _, _, gone in versions
                if gone is not None
            ]
            events = [
                ConsentEvent(
                    subject=subject,
                    purpose=purpose,
                    kind=kind,
                    at=T0 + timedelta(hours=hours),
                    evidence=Evidence(
                        channel=Channel.IMPORT,
                        notice_version="n",
                        wording_sha256=hash_wording(f"tekst {text}"),
                        expires_at=None
                        if expires is None or kind is not GIVEN
                        else T0 + timedelta(hours=hours + expires),
                    ),
                )
                for subject, kind, text, hours, expires in drawn
            ]
            store.register_wordings(wordings)
            for withdrawal in withdrawals:
                store.withdraw_wording(withdrawal)
            store.append_many(events)
            index = WordingIndex(wordings=tuple(wordings), withdrawals=tuple(withdrawals))
            instants = {T0, *(e.at for e in events), *(w.valid_from for w in wordings)}
            instants |= {w.at for w in withdrawals}
            probes = sorted({t + d for t in instants for d in (-_TICK, timedelta(0))})
            for at in probes:
                current: set[str] = set()
                renew: set[str] = set()
                for subject in {e.subject for e in events}:
                    state = replay(events, subject=subject, purpose=purpose, at=at)
                    if not state.consent_live or state.objected:
                        continue
                    assert state.consent_event is not None
                    sha = state.consent_event.evidence.wording_sha256
                    if not index.withdrawn(purpose, sha, at):
                        current.add(subject)
                    if index.needs_renewal(purpose, sha, at):
                        renew.add(subject)
                found = list(store.current_audience(purpose, at))
                assert len(found) == len(set(found)), "current_audience() repeats a subject"
                assert set(found) == current, f"current_audience() at {at.isoformat()}"
                found = list(store.to_renew(purpose, at))
                assert len(found) == len(set(found)), "to_renew() repeats a subject"
                assert set(found) == renew, f"to_renew() at {at.isoformat()}"

        check()

    # ------------------------------------------------------------------ streaming

    def _many(self, store: _WordingLedger, n: int) -> tuple[set[str], set[str]]:
        """``n`` live consents under three texts; returns (current audience, to renew)."""
        store.register_wordings(
            [
                wording("v0", text="ingetrokken"),
                wording("v1", text="oud"),
                wording("v2", text="nieuw", days=1, renewal=True),
            ]
        )
        store.withdraw_wording(
            WordingWithdrawal(purpose=_NEWSLETTER, version="v0", at=T0 + timedelta(hours=1))
        )
        texts = ("ingetrokken", "oud", "nieuw")
        store.append_many(
            [consent_event(f"s{i:05d}", texts[i % 3], minutes=i % 60) for i in range(n)]
        )
        subjects = [f"s{i:05d}" for i in range(n)]
        current = {s for i, s in enumerate(subjects) if i % 3}
        renew = {s for i, s in enumerate(subjects) if i % 3 != 2}
        return current, renew

    def test_long_answers_stream_completely(self) -> None:
        """More subjects than any sensible page come back complete, each once, as iterators."""
        _, store = self.registry()
        current, renew = self._many(store, 6101)
        at = T0 + 2 * _DAY
        answer = store.current_audience(_NEWSLETTER, at)
        assert iter(answer) is answer, "current_audience() returns no iterator"
        found = list(answer)
        assert len(found) == len(set(found)) == len(current)
        assert set(found) == current
        answer = store.to_renew(_NEWSLETTER, at)
        assert iter(answer) is answer, "to_renew() returns no iterator"
        found = list(answer)
        assert len(found) == len(set(found)) == len(renew)
        assert set(found) == renew

    def test_a_writer_is_not_held_up_while_an_answer_is_walked(self) -> None:
        """Half-way through a long answer, another thread registers and appends at once.

        A store that reads the whole answer inside one lock or write transaction while the
        caller walks it would keep the writer waiting (or deadlock it).
        """
        require(self.capabilities, "thread_safe")
        _, store = self.registry()
        current, _ = self._many(store, 6101)
        answer = store.current_audience(_NEWSLETTER, T0 + 2 * _DAY)
        found = [next(answer)]
        errors: list[BaseException] = []

        def write() -> None:
            try:
                store.register_wordings([wording("v1", purpose="loyalty_programme")])
                store.append(consent_event("s00000", "oud", purpose="loyalty_programme"))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=_WRITER_WAIT)
        stuck = writer.is_alive()
        found += list(answer)
        writer.join()
        assert not stuck, "a writer waited for the reader to finish walking the answer"
        assert errors == []
        assert set(found) == current
        assert sorted(store.current_audience("loyalty_programme", T0 + _DAY)) == ["s00000"]

    # ------------------------------------------------------------------ unit of work

    def test_writes_in_a_failed_block_leave_nothing(self) -> None:
        """Registrations and withdrawals inside a failing atomic() block are undone."""
        require(self.capabilities, "transactions")
        stores, store = self.registry()
        store.register_wordings([wording("v1", text="oud")])
        store.append(consent_event("cust-1", "oud"))
        before = store.wording_index()

        def body() -> None:
            store.register_wordings([wording("v2", text="nieuw", renewal=True)])
            store.withdraw_wording(WordingWithdrawal(purpose=_NEWSLETTER, version="v1", at=T0))
            assert len(store.wording_index().wordings) == 2
            assert list(store.current_audience(_NEWSLETTER, T0 + _DAY)) == []

        _fail_inside(stores, body)
        after = store.wording_index()
        assert after.wordings == before.wordings
        assert after.withdrawals == ()
        assert after.generation == store.wording_generation()
        assert list(store.current_audience(_NEWSLETTER, T0 + _DAY)) == ["cust-1"]
        assert list(store.to_renew(_NEWSLETTER, T0 + _DAY)) == []
        assert store.register_wordings([wording("v2", text="nieuw", renewal=True)]) == 1

    def test_a_failed_inner_block_undoes_only_its_own_registration(self) -> None:
        """A nested block that raises undoes its writes; the outer block's stay."""
        require(self.capabilities, "transactions")
        stores, store = self.registry()
        with stores.atomic():
            store.register_wordings([wording("v1")])
            _fail_inside(stores, lambda: store.register_wordings([wording("v2")]))
        assert _keyed(store.wording_index().wordings) == _keyed((wording("v1"),))

    def test_a_generation_seen_in_a_failed_block_is_never_seen_again(self) -> None:
        """After a rolled-back change, the next change gets a generation never seen before.

        The generation is what a cached :class:`~avgkit.consent.WordingIndex` is checked
        against: a reader that saw the registry inside a block that then rolled back, and
        sees that generation again after another writer's registration, would keep serving
        the text that was never stored.
        """
        require(self.capabilities, "transactions")
        stores, store = self.registry()
        seen = {store.wording_generation()}
        inside: list[WordingIndex] = []

        def body() -> None:
            store.register_wordings([wording("v1", text="teruggedraaid")])
            inside.append(store.wording_index())

        _fail_inside(stores, body)
        (rolled_back,) = inside
        seen.add(rolled_back.generation)
        store.register_wordings([wording("v1", text="opgeslagen")])
        after = store.wording_index()
        assert after.generation not in seen, (
            f"generation {after.generation} named the rolled-back registry before; a cache "
            "keyed on it serves a text that was never stored"
        )

    # ------------------------------------------------------------------ persistence

    def test_the_registry_survives_reopening(self) -> None:
        """A persistent adapter keeps wordings and withdrawals, and answers as before."""
        require(self.capabilities, "persistent")
        stores, store = self.registry()
        store.register_wordings([wording("v1", text="oud"), wording("v2", text="nieuw", days=1)])
        store.withdraw_wording(WordingWithdrawal(purpose=_NEWSLETTER, version="v1", at=T0 + _DAY))
        store.append_many([consent_event("cust-1", "oud"), consent_event("cust-2", "nieuw")])
        before = store.wording_index()
        again = self.reopened(stores)
        reopened = _consent_of(again, WordingStore)
        assert isinstance(reopened, WordingStore)
        index = reopened.wording_index()
        assert _keyed(index.wordings) == _keyed(before.wordings)
        assert set(index.withdrawals) == set(before.withdrawals)
        assert index.generation == reopened.wording_generation()
        assert list(reopened.current_audience(_NEWSLETTER, T0 + 2 * _DAY)) == ["cust-2"]
        assert list(reopened.to_renew(_NEWSLETTER, T0 + 2 * _DAY)) == ["cust-1"]


# ---------------------------------------------------------------------------- double opt-in


class ConfirmationStoreContract(_StoreSetContract):
    """Subclass this in your adapter's tests and implement :meth:`make_stores`.

    The store under test is the set's :attr:`~avgkit.storage.StoreSet.consent`, which must
    implement :class:`~avgkit.storage.ConfirmationStore` beside
    :class:`~avgkit.storage.ConsentStore` (its ``forget()`` deletes the subject's pending
    consents). The set is needed for its unit of work.

    Example::

        class TestMyConfirmationStore(ConfirmationStoreContract):
            def make_stores(self) -> StoreSet:
                return open_stores(f"mystore:///{self.tmp_path}/consent.db")

            def raw_values(self, stores: StoreSet) -> list[str]:
                return [str(v) for row in stores.consent.db.dump() for v in row]

    Override :meth:`raw_values` to let the contract prove that neither a token nor its
    verifier reaches your backend, and that an erased subject's pending consents are gone
    from it.

    .. versionadded:: 0.2.0
    """

    pending_examples: ClassVar[int] = 40
    """How many generated sets of pending consents the ``open_pending()`` property test
    checks (lower it for slow backends)."""

    def confirmations(self) -> tuple[StoreSet, _ConfirmingLedger]:
        """A new store set and its consent store, which must keep pending consents."""
        stores = self.store()
        consent = _consent_of(stores, ConfirmationStore)
        return stores, cast("_ConfirmingLedger", consent)

    def test_a_new_store_has_no_pending_consents(self) -> None:
        """Nothing is found, open or settled in a fresh store."""
        _, store = self.confirmations()
        selector = new_token()[1]
        assert store.pending(selector) is None
        assert store.open_pending(SubjectId("cust-1"), _NEWSLETTER, T0) is None
        assert not store.settle_pending(selector, T0)
        assert store.pending(selector) is None

    def test_a_pending_consent_comes_back_with_every_field_and_without_its_token(self) -> None:
        """pending() returns what add_pending() stored, to the microsecond, token left out."""
        _, store = self.confirmations()
        requested = datetime(2024, 5, 1, 11, 30, 15, 123457, tzinfo=_CEST)
        evidence = Evidence(
            channel=Channel.BOX_OFFICE,
            notice_version="privacyverklaring 1 mei 2024 — ✓",
            wording_sha256=hash_wording("Ja, stuur mij de nieuwsbrief."),
            actor=Actor.STAFF,
            staff_key="box_office_3",
            order_ref="ord-ÅØ-1042",
            expires_at=requested + timedelta(days=730, microseconds=1),
            presentation=Presentation.BUTTON,
        )
        made = pending_consent(
            "klant-é-1",
            requested=requested,
            expires=requested + timedelta(hours=48, microseconds=999_999),
            evidence=evidence,
        )
        assert made.token is not None
        store.add_pending(made)
        back = store.pending(made.selector)
        assert back == made
        assert back is not None
        assert back.token is None, "the store kept the token"
        assert back.evidence == evidence
        assert back.subject == "klant-é-1"
        assert back.requested_at.utcoffset() == timedelta(0)
        assert back.settled_at is None
        settled = pending_consent("cust-2", settled=T0 + timedelta(hours=1))
        store.add_pending(settled)
        assert store.pending(settled.selector) == settled

    def test_only_the_verifiers_hash_comes_back(self) -> None:
        """The stored hash is the token's verifier's, and matches it, and nothing else."""
        _, store = self.confirmations()
        made = pending_consent()
        assert made.token is not None
        selector, verifier = split_token(made.token)
        store.add_pending(made)
        back = store.pending(selector)
        assert back is not None
        assert back.verifier_sha256 == verifier_hash(verifier)
        assert token_matches(back.verifier_sha256, verifier)
        other = split_token(new_token()[0])[1]
        assert not token_matches(back.verifier_sha256, other)

    def test_neither_the_token_nor_its_verifier_reaches_the_backend(self) -> None:
        """No stored value holds the token or its verifier: only the verifier's hash."""
        stores, store = self.confirmations()
        made = [pending_consent(f"cust-{n}") for n in range(3)]
        for pending in made:
            store.add_pending(pending)
        values = self.raw_values(stores)
        for pending in made:
            assert pending.token is not None
            selector, verifier = split_token(pending.token)
            assert any(selector in value for value in values), "raw_values() misses a selector"
            assert not [v for v in values if verifier in v], "the backend holds a verifier"
            assert any(pending.verifier_sha256 in value for value in values)

    def test_a_selector_finds_only_its_own_pending_consent(self) -> None:
        """Selectors compare exactly: case, padding and prefixes find nothing."""
        _, store = self.confirmations()
        first = pending_consent("cust-1", selector="AbCdEfGhIjKl_-Mn")
        second = pending_consent("cust-2", selector="aBcDeFgHiJkL_-mN")
        store.add_pending(first)
        store.add_pending(second)
        assert store.pending(first.selector) == first
        assert store.pending(second.selector) == second
        near_misses = (
            "AbCdEfGhIjKl_-Mn ",
            " AbCdEfGhIjKl_-Mn",
            "AbCdEfGhIjKl_-M",
            "AbCdEfGh%",
            "",
            "ABCDEFGHIJKL_-MN",
        )
        for near in near_misses:
            assert store.pending(near) is None, "a selector matched a near miss"
            assert not store.settle_pending(near, T0)
        assert store.pending(first.selector) == first

    def test_a_taken_selector_is_a_conflict_and_changes_nothing(self) -> None:
        """add_pending() with a stored selector raises ConflictError; the first one stays."""
        _, store = self.confirmations()
        first = pending_consent("cust-1", selector="AbCdEfGhIjKlMnOp")
        store.add_pending(first)
        other = pending_consent("cust-2", selector="AbCdEfGhIjKlMnOp", purpose="loyalty_programme")
        with pytest.raises(ConflictError):
            store.add_pending(other)
        assert store.pending(first.selector) == first
        assert store.open_pending(SubjectId("cust-2"), "loyalty_programme", T0) is None

    def test_a_token_settles_once(self) -> None:
        """The first settle_pending() returns True and keeps its instant; later ones False."""
        _, store = self.confirmations()
        made = pending_consent()
        store.add_pending(made)
        when = datetime(2024, 5, 1, 12, 0, 0, 1, tzinfo=_CEST)
        assert store.settle_pending(made.selector, when)
        assert store.pending(made.selector) == attrs.evolve(made, settled_at=when)
        assert not store.settle_pending(made.selector, when)
        assert not store.settle_pending(made.selector, when + _DAY)
        back = store.pending(made.selector)
        assert back is not None
        assert back.settled_at == when
        unknown = pending_consent()
        assert not store.settle_pending(unknown.selector, when)
        assert store.pending(unknown.selector) is None

    def test_settling_judges_use_not_expiry(self) -> None:
        """The store settles an unused token after its expiry: checking expiry is the ledger's."""
        _, store = self.confirmations()
        made = pending_consent(expires=T0 + timedelta(minutes=7))
        store.add_pending(made)
        late = T0 + 30 * _DAY
        assert store.settle_pending(made.selector, late)
        back = store.pending(made.selector)
        assert back is not None
        assert back.settled_at == late
        assert back.expires_at == T0 + timedelta(minutes=7)

    def test_two_confirmations_racing_settle_exactly_once(self) -> None:
        """Threads settling one token at once: exactly one gets True, and its instant stays."""
        require(self.capabilities, "thread_safe")
        _, store = self.confirmations()
        made = pending_consent()
        store.add_pending(made)
        workers = 6
        barrier = threading.Barrier(workers)
        won: list[int] = []
        errors: list[BaseException] = []

        def settle(n: int) -> None:
            try:
                barrier.wait()
                if store.settle_pending(made.selector, T0 + timedelta(minutes=n + 1)):
                    won.append(n)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=settle, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(won) == 1, f"{len(won)} confirmations settled one token"
        back = store.pending(made.selector)
        assert back is not None
        assert back.settled_at == T0 + timedelta(minutes=won[0] + 1)

    def test_open_pending_honours_the_instants_as_given(self) -> None:
        """Open from requested_at (inclusive) until expires_at or its settlement (exclusive).

        The expiry is the caller's (seven minutes here): the store computes none of its own.
        """
        _, store = self.confirmations()
        expires = T0 + timedelta(minutes=7)
        made = pending_consent(expires=expires)
        store.add_pending(made)
        sid = SubjectId("cust-1")
        assert store.open_pending(sid, _NEWSLETTER, T0 - _TICK) is None
        assert store.open_pending(sid, _NEWSLETTER, T0) == made
        assert store.open_pending(sid, _NEWSLETTER, expires - _TICK) == made
        assert store.open_pending(sid, _NEWSLETTER, expires) is None
        settled = T0 + timedelta(minutes=3)
        store.settle_pending(made.selector, settled)
        used = attrs.evolve(made, settled_at=settled)
        assert store.open_pending(sid, _NEWSLETTER, settled - _TICK) == used
        assert store.open_pending(sid, _NEWSLETTER, settled) is None
        assert store.open_pending(SubjectId("cust-2"), _NEWSLETTER, T0) is None
        assert store.open_pending(sid, "loyalty_programme", T0) is None

    def test_open_pending_is_the_newest_open_request(self) -> None:
        """Of the subject's open requests for the purpose, the one requested last."""
        _, store = self.confirmations()
        older = pending_consent(expires=T0 + 30 * _DAY)
        newer = pending_consent(requested=T0 + _DAY, expires=T0 + 2 * _DAY)
        for made in (
            newer,
            older,
            pending_consent("cust-2", requested=T0 + 2 * _DAY, expires=T0 + 9 * _DAY),
            pending_consent(purpose="loyalty_programme", requested=T0 + 2 * _DAY),
        ):
            store.add_pending(made)
        sid = SubjectId("cust-1")
        assert store.open_pending(sid, _NEWSLETTER, T0 + timedelta(hours=12)) == older
        assert store.open_pending(sid, _NEWSLETTER, T0 + _DAY) == newer
        assert store.open_pending(sid, _NEWSLETTER, T0 + 2 * _DAY) == older
        store.settle_pending(newer.selector, T0 + _DAY + timedelta(hours=1))
        assert store.open_pending(sid, _NEWSLETTER, T0 + _DAY + timedelta(hours=2)) == older

    def test_open_pending_follows_any_set_of_requests(self) -> None:
        """Property: open_pending() is the newest request that PendingConsent.open_at() says."""
        _, store = self.confirmations()
        examples = itertools.count()
        request_strategy = st.tuples(
            st.sampled_from(["s1", "s2"]),
            st.sampled_from([_NEWSLETTER, "loyalty_programme"]),
            st.integers(0, 48),  # requested, hours into the example
            st.integers(1, 30),  # expires that many hours later
            st.one_of(st.none(), st.integers(0, 40)),  # settled that many hours later
        )

        @settings(max_examples=self.pending_examples, deadline=None, suppress_health_check=_HEALTH)
        @given(drawn=st.lists(request_strategy, max_size=8, unique_by=lambda r: (r[0], r[1], r[2])))
        def check(drawn: list[tuple[str, str, int, int, int | None]]) -> None:
            prefix = f"x{next(examples)}-"
            made = [
                pending_consent(
                    prefix + subject,
                    purpose=purpose,
                    requested=T0 + timedelta(hours=hours),
                    expires=T0 + timedelta(hours=hours + expires),
                )
                for subject, purpose, hours, expires, _ in drawn
            ]
            stored = []  # what the store must hold: each request, settled or not
            for pending, (*_, settled) in zip(made, drawn, strict=True):
                store.add_pending(pending)
                when = None if settled is None else pending.requested_at + settled * _HOUR
                if when is not None:
                    assert store.settle_pending(pending.selector, when)
                stored.append(attrs.evolve(pending, settled_at=when))
            instants = {T0, *(p.requested_at for p in stored), *(p.expires_at for p in stored)}
            instants |= {p.settled_at for p in stored if p.settled_at is not None}
            probes = sorted({t + d for t in instants for d in (-_TICK, timedelta(0))})
            for subject in ("s1", "s2"):
                for purpose in (_NEWSLETTER, "loyalty_programme"):
                    mine = [
                        p for p in stored if (p.subject, p.purpose) == (prefix + subject, purpose)
                    ]
                    for at in probes:
                        open_now = [p for p in mine if p.open_at(at)]
                        expected = max(open_now, key=lambda p: p.requested_at, default=None)
                        found = store.open_pending(SubjectId(prefix + subject), purpose, at)
                        assert found == expected, f"open_pending() at {at.isoformat()}"

        check()

    # ------------------------------------------------------------------ erasure

    def test_forget_deletes_the_subjects_pending_consents(self) -> None:
        """forget() drops every pending consent of the subject; it counts events only."""
        _, store = self.confirmations()
        mine = [pending_consent("cust-1"), pending_consent("cust-1", purpose="loyalty_programme")]
        theirs = pending_consent("cust-2")
        for made in (*mine, theirs):
            store.add_pending(made)
        store.append(consent_event("cust-1", "Ja", kind=WITHDRAWN))
        assert store.forget(SubjectId("cust-1"), reference(1)) == 1
        for made in mine:
            assert store.pending(made.selector) is None
            assert not store.settle_pending(made.selector, T0)
            for subject in ("cust-1", reference(1)):
                assert store.open_pending(SubjectId(subject), made.purpose, T0) is None
        assert store.pending(theirs.selector) == theirs
        lonely = pending_consent("cust-3")
        store.add_pending(lonely)
        assert store.forget(SubjectId("cust-3"), reference(3)) == 0
        assert store.pending(lonely.selector) is None

    def test_a_forgotten_subjects_pending_consents_are_gone_from_the_backend(self) -> None:
        """After forget() no stored value holds the raw id of the subject's requests."""
        stores, store = self.confirmations()
        store.add_pending(pending_consent("cust-forget-me"))
        store.add_pending(pending_consent("cust-keep"))
        assert any("cust-forget-me" in value for value in self.raw_values(stores))
        store.forget(SubjectId("cust-forget-me"), reference(1))
        values = self.raw_values(stores)
        assert [value for value in values if "cust-forget-me" in value] == []
        assert any("cust-keep" in value for value in values)

    def test_a_refused_forget_keeps_the_pending_consents(self) -> None:
        """forget() with a malformed reference raises ValidationError and deletes nothing."""
        _, store = self.confirmations()
        made = pending_consent("cust-1")
        store.add_pending(made)
        for bad in ("cust-1042", "sr1:" + "AB" * 16, ""):
            with pytest.raises(ValidationError):
                store.forget(SubjectId("cust-1"), bad)
        assert store.pending(made.selector) == made

    # ------------------------------------------------------------------ unit of work

    def test_writes_in_a_failed_block_leave_nothing(self) -> None:
        """add_pending, settle_pending and forget inside a failing atomic() block are undone."""
        require(self.capabilities, "transactions")
        stores, store = self.confirmations()
        kept = pending_consent("cust-1")
        erased = pending_consent("cust-2")
        store.add_pending(kept)
        store.add_pending(erased)
        new = pending_consent("cust-3")

        def body() -> None:
            store.add_pending(new)
            assert store.settle_pending(kept.selector, T0 + timedelta(hours=1))
            store.forget(SubjectId("cust-2"), reference(2))
            assert store.pending(new.selector) == new

        _fail_inside(stores, body)
        assert store.pending(new.selector) is None
        assert store.pending(kept.selector) == kept
        assert store.pending(erased.selector) == erased
        assert store.settle_pending(kept.selector, T0 + timedelta(hours=2))

    def test_pending_consents_survive_reopening(self) -> None:
        """A persistent adapter keeps pending consents and their settlements."""
        require(self.capabilities, "persistent")
        stores, store = self.confirmations()
        open_one, used = pending_consent("cust-1"), pending_consent("cust-2")
        store.add_pending(open_one)
        store.add_pending(used)
        store.settle_pending(used.selector, T0 + timedelta(hours=1))
        again = self.reopened(stores)
        reopened = _consent_of(again, ConfirmationStore)
        assert isinstance(reopened, ConfirmationStore)
        assert reopened.pending(open_one.selector) == open_one
        assert reopened.pending(used.selector) == attrs.evolve(
            used, settled_at=T0 + timedelta(hours=1)
        )
        assert not reopened.settle_pending(used.selector, T0 + _DAY)


# ---------------------------------------------------------------------------- grounds


class GroundsStoreContract(_StoreSetContract):
    """Subclass this in your adapter's tests and implement :meth:`make_stores`.

    The store under test is the set's :attr:`~avgkit.storage.StoreSet.consent`, which must
    implement :class:`~avgkit.storage.GroundsStore` beside
    :class:`~avgkit.storage.ConsentStore` (its ``forget()`` re-keys the subject's grounds).
    The set is needed for its unit of work.

    Example::

        class TestMyGroundsStore(GroundsStoreContract):
            def make_stores(self) -> StoreSet:
                return open_stores(f"mystore:///{self.tmp_path}/consent.db")

    Override :meth:`raw_values` to let the contract prove that an erased subject's grounds
    no longer name its raw id in your backend.

    .. versionadded:: 0.2.0
    """

    grounds_examples: ClassVar[int] = 40
    """How many generated sets of grounds the ``grounds()`` property test checks (lower it
    for slow backends)."""

    def grounded(self) -> tuple[StoreSet, _GroundedLedger]:
        """A new store set and its consent store, which must keep compelling grounds."""
        stores = self.store()
        consent = _consent_of(stores, GroundsStore)
        return stores, cast("_GroundedLedger", consent)

    def test_a_new_store_has_no_grounds(self) -> None:
        """grounds() finds nothing in a fresh store."""
        _, store = self.grounded()
        assert store.grounds(SubjectId("cust-1"), _OBJECTABLE, T0 + 365 * _DAY) is None

    def test_added_grounds_come_back_with_every_field_and_increasing_seqs(self) -> None:
        """add_grounds() returns them with a larger seq each time; grounds() returns them."""
        _, store = self.grounded()
        at = datetime(2024, 5, 1, 11, 30, 15, 123457, tzinfo=_CEST)
        made = compelling_grounds(
            "klant-é-1",
            at=at,
            reason=("Vergunning vereist evaluatie — «zwaarwegend» belang ✓\n" * 36)[:2000],
            decided_by="legal_1",
            until=at + timedelta(days=90, microseconds=1),
        )
        first = store.add_grounds(made)
        assert first == made
        assert first.seq is not None
        second = store.add_grounds(compelling_grounds("cust-2"))
        assert second.seq is not None
        assert second.seq > first.seq
        back = store.grounds(SubjectId("klant-é-1"), _OBJECTABLE, at + _DAY)
        assert back == made
        assert back is not None
        assert back.seq == first.seq
        assert back.reason == made.reason
        assert back.at.utcoffset() == timedelta(0)

    def test_grounds_answers_the_latest_recorded_at_or_before_the_instant(self) -> None:
        """By at (inclusive), whatever the order they were added; per subject and purpose."""
        _, store = self.grounded()
        late = store.add_grounds(compelling_grounds(at=T0 + 10 * _DAY, decided_by="legal_1"))
        early = store.add_grounds(compelling_grounds(at=T0))
        store.add_grounds(compelling_grounds("cust-2", at=T0 - _DAY))
        store.add_grounds(compelling_grounds(purpose="camera_security", at=T0 - _DAY))
        sid = SubjectId("cust-1")
        assert store.grounds(sid, _OBJECTABLE, T0 - _TICK) is None
        assert store.grounds(sid, _OBJECTABLE, T0) == early
        assert store.grounds(sid, _OBJECTABLE, T0 + 10 * _DAY - _TICK) == early
        found = store.grounds(sid, _OBJECTABLE, T0 + 10 * _DAY)
        assert found == late
        assert found is not None
        assert found.seq == late.seq
        assert store.grounds(sid, "audience_analysis", T0 + 10 * _DAY) is None
        assert store.grounds(SubjectId("cust-3"), _OBJECTABLE, T0 + 10 * _DAY) is None

    def test_grounds_are_append_only_and_equal_instants_go_by_recording_order(self) -> None:
        """The same grounds twice are two records; of equal at, the one added last answers."""
        _, store = self.grounded()
        first = store.add_grounds(compelling_grounds())
        again = store.add_grounds(compelling_grounds())
        assert first.seq != again.seq
        found = store.grounds(SubjectId("cust-1"), _OBJECTABLE, T0)
        assert found is not None
        assert found.seq == again.seq
        other = store.add_grounds(compelling_grounds(decided_by="legal_2"))
        found = store.grounds(SubjectId("cust-1"), _OBJECTABLE, T0 + _DAY)
        assert found == other
        assert found is not None
        assert found.seq == other.seq

    def test_grounds_whose_until_passed_still_come_back(self) -> None:
        """A passed ``until`` is for CompellingGrounds.answer(): the store still returns them."""
        _, store = self.grounded()
        made = store.add_grounds(compelling_grounds(until=T0 + _DAY))
        found = store.grounds(SubjectId("cust-1"), _OBJECTABLE, T0 + 30 * _DAY)
        assert found == made
        assert found is not None
        assert found.until == T0 + _DAY

    def test_grounds_follow_any_set_of_records(self) -> None:
        """Property: grounds() is the latest by (at, order added) of those at or before."""
        _, store = self.grounded()
        examples = itertools.count()
        record_strategy = st.tuples(
            st.sampled_from(["s1", "s2"]),
            st.sampled_from([_OBJECTABLE, "camera_security"]),
            st.integers(0, 6),  # at, hours into the example
            st.sampled_from(["dpo", "legal_1"]),
        )

        @settings(max_examples=self.grounds_examples, deadline=None, suppress_health_check=_HEALTH)
        @given(drawn=st.lists(record_strategy, max_size=10))
        def check(drawn: list[tuple[str, str, int, str]]) -> None:
            prefix = f"x{next(examples)}-"
            added = [
                store.add_grounds(
                    compelling_grounds(
                        prefix + subject,
                        purpose=purpose,
                        at=T0 + hours * _HOUR,
                        decided_by=decided_by,
                    )
                )
                for subject, purpose, hours, decided_by in drawn
            ]
            seqs = [g.seq or 0 for g in added]
            assert len(set(seqs)) == len(seqs)
            assert seqs == sorted(seqs), "seqs do not follow the order added"
            probes = [T0 + h * _HOUR + d for h in range(8) for d in (-_TICK, timedelta(0))]
            for subject in ("s1", "s2"):
                for purpose in (_OBJECTABLE, "camera_security"):
                    mine = [
                        g for g in added if (g.subject, g.purpose) == (prefix + subject, purpose)
                    ]
                    for at in probes:
                        expected = max(
                            (g for g in mine if g.at <= at),
                            key=lambda g: (g.at, g.seq or 0),
                            default=None,
                        )
                        found = store.grounds(SubjectId(prefix + subject), purpose, at)
                        assert found == expected, f"grounds() at {at.isoformat()}"
                        if expected is not None:
                            assert found is not None
                            assert found.seq == expected.seq

        check()

    def test_concurrent_grounds_get_distinct_seqs(self) -> None:
        """Four threads adding at once: every record stored, each with its own seq."""
        require(self.capabilities, "thread_safe")
        _, store = self.grounded()
        added: list[CompellingGrounds] = []
        lock = threading.Lock()

        def work(n: int) -> None:
            mine = [store.add_grounds(compelling_grounds(f"t{n}")) for _ in range(25)]
            with lock:
                added.extend(mine)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seqs = [g.seq for g in added]
        assert None not in seqs
        assert len(set(seqs)) == len(seqs) == 100, "two grounds share a seq"
        for n in range(4):
            found = store.grounds(SubjectId(f"t{n}"), _OBJECTABLE, T0)
            assert found is not None
            assert found.seq == max(g.seq or 0 for g in added if g.subject == f"t{n}")

    # ------------------------------------------------------------------ erasure

    def test_forget_rekeys_the_subjects_grounds(self) -> None:
        """After forget() the grounds answer for the reference, same seq; others untouched."""
        _, store = self.grounded()
        mine = [
            store.add_grounds(compelling_grounds("cust-1")),
            store.add_grounds(compelling_grounds("cust-1", purpose="camera_security")),
        ]
        theirs = store.add_grounds(compelling_grounds("cust-2"))
        store.append(consent_event("cust-1", "Ja", kind=OBJECTED, purpose=_OBJECTABLE))
        ref = reference(1)
        assert store.forget(SubjectId("cust-1"), ref) == 1
        for made in mine:
            assert store.grounds(SubjectId("cust-1"), made.purpose, T0 + _DAY) is None
            found = store.grounds(SubjectId(ref), made.purpose, T0 + _DAY)
            assert found == attrs.evolve(made, subject=ref)
            assert found is not None
            assert found.seq == made.seq
        found = store.grounds(SubjectId("cust-2"), _OBJECTABLE, T0 + _DAY)
        assert found == theirs
        lonely = store.add_grounds(compelling_grounds("cust-3"))
        assert store.forget(SubjectId("cust-3"), reference(3)) == 0
        assert store.grounds(SubjectId(reference(3)), _OBJECTABLE, T0) == attrs.evolve(
            lonely, subject=reference(3)
        )

    def test_a_forgotten_subjects_grounds_are_gone_from_the_backend(self) -> None:
        """After forget() no stored value holds the raw id of the subject's grounds."""
        stores, store = self.grounded()
        store.add_grounds(compelling_grounds("cust-forget-me"))
        store.add_grounds(compelling_grounds("cust-keep"))
        assert any("cust-forget-me" in value for value in self.raw_values(stores))
        store.forget(SubjectId("cust-forget-me"), reference(1))
        values = self.raw_values(stores)
        assert [value for value in values if "cust-forget-me" in value] == []
        assert any("cust-keep" in value for value in values)

    def test_a_refused_forget_keeps_the_grounds(self) -> None:
        """forget() with a malformed reference raises ValidationError and re-keys nothing."""
        _, store = self.grounded()
        made = store.add_grounds(compelling_grounds("cust-1"))
        for bad in ("cust-1042", "sr1:" + "ab" * 15, ""):
            with pytest.raises(ValidationError):
                store.forget(SubjectId("cust-1"), bad)
        assert store.grounds(SubjectId("cust-1"), _OBJECTABLE, T0) == made

    # ------------------------------------------------------------------ unit of work

    def test_writes_in_a_failed_block_leave_nothing(self) -> None:
        """add_grounds and forget inside a failing atomic() block are undone."""
        require(self.capabilities, "transactions")
        stores, store = self.grounded()
        kept = store.add_grounds(compelling_grounds("cust-1"))

        def body() -> None:
            store.add_grounds(compelling_grounds("cust-2"))
            store.add_grounds(compelling_grounds("cust-1", at=T0 + _DAY))
            store.forget(SubjectId("cust-1"), reference(1))

        _fail_inside(stores, body)
        assert store.grounds(SubjectId("cust-2"), _OBJECTABLE, T0 + _DAY) is None
        found = store.grounds(SubjectId("cust-1"), _OBJECTABLE, T0 + 2 * _DAY)
        assert found == kept
        assert found is not None
        assert found.seq == kept.seq
        assert store.grounds(SubjectId(reference(1)), _OBJECTABLE, T0 + 2 * _DAY) is None
        later = store.add_grounds(compelling_grounds("cust-1", at=T0 + _DAY))
        assert later.seq is not None
        assert kept.seq is not None
        assert later.seq > kept.seq
        assert store.grounds(SubjectId("cust-1"), _OBJECTABLE, T0 + 2 * _DAY) == later

    def test_grounds_survive_reopening(self) -> None:
        """A persistent adapter keeps the grounds with their seqs."""
        require(self.capabilities, "persistent")
        stores, store = self.grounded()
        made = store.add_grounds(compelling_grounds(until=T0 + _DAY))
        again = self.reopened(stores)
        reopened = _consent_of(again, GroundsStore)
        assert isinstance(reopened, GroundsStore)
        found = reopened.grounds(SubjectId("cust-1"), _OBJECTABLE, T0)
        assert found == made
        assert found is not None
        assert found.seq == made.seq
        assert reopened.add_grounds(compelling_grounds()).seq != made.seq
