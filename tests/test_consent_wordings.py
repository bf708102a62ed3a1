"""The wording registry: registering, strict mode, exact texts in every export, renewal."""

import csv
import io
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgkit import Kit
from avgkit.consent import (
    Channel,
    ConsentOptions,
    Evidence,
    Wording,
    WordingIndex,
    WordingWithdrawal,
    check_registration,
    hash_wording,
)
from avgkit.errors import NotFound, PolicyError, ValidationError
from avgkit.presets import ticketing
from avgkit.storage.memory import MemoryConsentStore
from avgkit.storage.sqlite import SqliteConsentStore
from avgkit.storage.sqlite._db import Database
from avgkit.testing import ManualClock

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MAY = datetime(2024, 5, 1, tzinfo=UTC)
TEXTS_V1 = {
    "nl": "Ja, stuur mij de nieuwsbrief.",
    "en": "Yes, send me the newsletter.",
    "fr": "Oui, envoyez-moi la lettre d'information.",
}
TEXTS_V2 = {
    "nl": "Ja, stuur mij de nieuwsbrief en aanbiedingen van partners.",
    "en": "Yes, send me the newsletter and partner offers.",
    "fr": "Oui, envoyez-moi la lettre d'information et les offres des partenaires.",
}
NOTICE = {
    "nl": "Privacyverklaring versie mei 2024 ...",
    "en": "Privacy notice, May 2024 ...",
    "fr": "Déclaration de confidentialité, mai 2024 ...",
}


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/avg.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def kit(url, clock):
    with Kit.open(url, inventory=ticketing.inventory(), clock=clock) as kit:
        kit.consent.wordings.register_notice("2024-05", NOTICE, valid_from=MAY)
        kit.consent.wordings.register_checkbox("newsletter", "1", TEXTS_V1, valid_from=MAY)
        yield kit
        kit.audit.verify()


def evidence(lang="nl", **changes):
    base = Evidence(
        channel=Channel.WEBSHOP,
        notice_version="2024-05",
        wording_sha256=hash_wording(TEXTS_V1[lang]),
    )
    return attrs.evolve(base, **changes)


# --------------------------------------------------------------------------- registering


def test_a_registered_wording_comes_back_with_its_hash_and_dates(kit):
    got = kit.consent.wordings.get("newsletter", "1", "fr")
    assert got.text == TEXTS_V1["fr"]
    assert got.sha256 == hash_wording(TEXTS_V1["fr"])
    assert got.valid_from == MAY
    assert kit.consent.wordings.get(None, "2024-05", "en").text == NOTICE["en"]
    assert "Oui" not in repr(got)


def test_registering_the_same_version_again_is_a_no_op(kit):
    entries = kit.audit.verify().entries
    assert (
        kit.consent.wordings.register(
            kit.consent.wordings.register_checkbox("newsletter", "1", TEXTS_V1, valid_from=MAY)
        )
        == 0
    )
    assert kit.audit.verify().entries == entries


def test_a_version_registered_twice_with_different_text_is_refused_whole(kit):
    generation = kit.stores.consent.wording_generation()
    texts = {"de": "Ja", "nl": "Ja, graag!", "en": "Yes please"}
    with pytest.raises(ValidationError, match="lang must be one of"):
        kit.consent.wordings.register_checkbox("newsletter", "1", texts, valid_from=MAY)
    with pytest.raises(ValidationError, match="different text"):
        kit.consent.wordings.register_checkbox(
            "newsletter", "1", {"en": TEXTS_V1["en"], "nl": "Ja, graag!"}, valid_from=MAY
        )
    with pytest.raises(ValidationError, match="different text"):
        kit.consent.wordings.register(
            [
                Wording(
                    purpose="loyalty_programme", version="1", lang="nl", text="A", valid_from=MAY
                ),
                Wording(
                    purpose="loyalty_programme", version="1", lang="nl", text="B", valid_from=MAY
                ),
            ]
        )
    with pytest.raises(ValidationError, match="other dates"):
        kit.consent.wordings.register_checkbox(
            "newsletter", "1", {"en": TEXTS_V1["en"]}, valid_from=NOW
        )
    assert kit.stores.consent.wording_generation() == generation
    assert kit.consent.wordings.index().find("loyalty_programme", "1", "nl") is None


def test_languages_of_one_version_share_their_dates(kit):
    kit.consent.wordings.register_checkbox("loyalty_programme", "1", {"nl": "Ja"}, valid_from=MAY)
    with pytest.raises(ValidationError, match="same valid_from"):
        kit.consent.wordings.register_checkbox(
            "loyalty_programme", "1", {"en": "Yes"}, valid_from=NOW
        )
    kit.consent.wordings.register_checkbox("loyalty_programme", "1", {"en": "Yes"}, valid_from=MAY)
    assert kit.consent.wordings.get("loyalty_programme", "1", "en").text == "Yes"


def test_a_checkbox_wording_needs_a_declared_consent_purpose(kit):
    with pytest.raises(PolicyError, match="not declared"):
        kit.consent.wordings.register_checkbox("nope", "1", {"nl": "x"}, valid_from=MAY)
    with pytest.raises(PolicyError, match="not consent"):
        kit.consent.wordings.register_checkbox("ticket_sale", "1", {"nl": "x"}, valid_from=MAY)


def test_registered_wordings_cannot_be_changed_in_the_database(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path}/avg.db"
    with Kit.open(url, inventory=ticketing.inventory(), clock=ManualClock(NOW)) as kit:
        kit.consent.wordings.register_checkbox("newsletter", "1", TEXTS_V1, valid_from=MAY)
    conn = sqlite3.connect(tmp_path / "avg.db")
    for statement in ("UPDATE consent_wordings SET text = 'Nee'", "DELETE FROM consent_wordings"):
        with pytest.raises(sqlite3.IntegrityError, match="never change"):
            conn.execute(statement)
    conn.close()


def test_withdrawing_an_unknown_version_is_refused(kit):
    with pytest.raises(NotFound, match="nothing to withdraw"):
        kit.consent.wordings.withdraw("newsletter", "9")


def test_withdrawing_twice_keeps_the_first(kit, clock):
    first = kit.consent.wordings.withdraw("newsletter", "1", reason="misleading")
    clock.advance(timedelta(days=1))
    assert kit.consent.wordings.withdraw("newsletter", "1") == first


# --------------------------------------------------------------------------- strict mode


def test_strict_mode_refuses_an_unregistered_hash(url, clock):
    with Kit.open(
        url,
        inventory=ticketing.inventory(),
        clock=clock,
        consent=ConsentOptions(strict_wordings=True),
    ) as kit:
        kit.consent.wordings.register_notice("2024-05", NOTICE, valid_from=MAY)
        kit.consent.wordings.register_checkbox("newsletter", "1", TEXTS_V1, valid_from=MAY)
        with pytest.raises(ValidationError, match="not a registered wording"):
            kit.consent.give(
                "cust-1", "newsletter", attrs.evolve(evidence(), wording_sha256="a" * 64)
            )
        with pytest.raises(ValidationError, match="not a registered wording"):
            kit.consent.give("cust-1", "loyalty_programme", evidence())  # another purpose's text
        with pytest.raises(ValidationError, match="notice version '2099'"):
            kit.consent.give("cust-1", "newsletter", evidence(notice_version="2099"))
        with pytest.raises(ValidationError, match="not in force"):
            kit.consent.give("cust-1", "newsletter", evidence(), at=MAY - timedelta(days=1))
        assert kit.stores.consent.count() == 0
        kit.consent.give("cust-1", "newsletter", evidence("fr"))
        kit.consent.wordings.withdraw("newsletter", "1")
        with pytest.raises(ValidationError, match="withdrawn"):
            kit.consent.give("cust-2", "newsletter", evidence())


def test_strict_mode_sees_a_wording_registered_by_another_writer(url, clock):
    with Kit.open(
        url,
        inventory=ticketing.inventory(),
        clock=clock,
        consent=ConsentOptions(strict_wordings=True),
    ) as kit:
        kit.consent.wordings.register_notice("2024-05", NOTICE, valid_from=MAY)
        with pytest.raises(ValidationError):
            kit.consent.give("cust-1", "newsletter", evidence())
        # Registered straight into the store, as another process would: the cache misses,
        # reads the generation and reloads.
        kit.stores.consent.register_wordings(
            [
                Wording(
                    purpose="newsletter",
                    version="1",
                    lang="nl",
                    text=TEXTS_V1["nl"],
                    valid_from=MAY,
                )
            ]
        )
        kit.consent.give("cust-1", "newsletter", evidence())


def test_evidence_can_point_at_the_registered_wording(kit):
    built = kit.consent.wordings.evidence(
        "newsletter", "fr", channel="webshop", presentation="button"
    )
    assert built.wording_sha256 == hash_wording(TEXTS_V1["fr"])
    assert built.notice_version == "2024-05"
    with pytest.raises(NotFound):
        kit.consent.wordings.evidence("loyalty_programme", "nl", channel="webshop")


# --------------------------------------------------------------------------- exports


def test_every_export_shows_the_exact_text_in_the_subjects_language(kit):
    kit.consent.give("cust-1", "newsletter", evidence("fr"), at=NOW - timedelta(hours=1))
    report = kit.consent.report(since=MAY, until=NOW + timedelta(days=1))
    (row,) = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert (row["wording language"], row["wording version"]) == ("fr", "1")
    assert row["text shown"] == TEXTS_V1["fr"]
    assert TEXTS_V1["fr"] in report.to_html("nl").replace("&#39;", "'")
    (receipt,) = kit.consent.kantara_receipts("cust-1", policy_url="https://venue.example/p")
    wording = receipt["services"][0]["purposes"][0]["consentWording"]
    assert wording == {
        "version": "1",
        "language": "fr",
        "sha256": hash_wording(TEXTS_V1["fr"]),
        "text": TEXTS_V1["fr"],
    }
    (record,) = kit.consent.iso27560_records("cust-1")
    shown = record["history"][0]["evidence"]
    assert shown["wording"]["text"] == TEXTS_V1["fr"]
    assert shown["wording"]["lang"] == "fr"
    assert shown["notice"] == {
        "version": "2024-05",
        "lang": "fr",
        "sha256": hash_wording(NOTICE["fr"]),
    }
    assert record["notices"][0]["text"] == NOTICE["fr"]


def test_an_unregistered_wording_shows_no_text(kit):
    kit.consent.give("cust-1", "newsletter", evidence(wording_sha256="b" * 64))
    (record,) = kit.consent.iso27560_records("cust-1")
    assert record["history"][0]["evidence"]["wording"] is None


def test_the_access_export_shows_the_text(kit):
    from avgkit.dsar._export import build_export
    from avgkit.host import HostSubject, SubjectKind

    kit.consent.give("cust-1", "newsletter", evidence("en"))
    export = build_export(
        inventory=kit.inventory,
        subject=HostSubject(id="cust-1", kind=SubjectKind.ACCOUNT),
        subject_ref=kit.audit.subject_ref("cust-1"),
        records=[],
        events=kit.consent.history("cust-1"),
        wordings=kit.consent.wordings.index(),
        at=NOW,
    )
    (event,) = export.document["consent"]["history"]
    assert event["wording"]["text"] == TEXTS_V1["en"]
    assert event["wording"]["lang"] == "en"


# --------------------------------------------------------------------------- renewal


def test_a_new_version_asking_for_renewal_lists_whom_to_ask_again(kit, clock):
    kit.consent.give("cust-1", "newsletter", evidence("nl"), at=NOW - timedelta(days=2))
    kit.consent.give("cust-2", "newsletter", evidence("en"), at=NOW - timedelta(days=2))
    assert list(kit.consent.to_renew("newsletter")) == []
    june = NOW + timedelta(days=1)
    kit.consent.wordings.register_checkbox(
        "newsletter", "2", TEXTS_V2, valid_from=june, renewal=True
    )
    assert list(kit.consent.to_renew("newsletter")) == []  # not in force yet
    clock.set(june + timedelta(hours=1))
    kit.consent.give(
        "cust-2", "newsletter", evidence("en", wording_sha256=hash_wording(TEXTS_V2["en"]))
    )
    assert sorted(kit.consent.to_renew("newsletter")) == ["cust-1"]
    # Still consent: renewal is a list to ask, not a withdrawal.
    assert sorted(kit.consent.audience("newsletter")) == ["cust-1", "cust-2"]


def test_the_audience_can_leave_out_consents_under_a_withdrawn_wording(kit):
    kit.consent.give("cust-1", "newsletter", evidence("nl"), at=NOW - timedelta(days=2))
    kit.consent.wordings.register_checkbox("newsletter", "2", TEXTS_V2, valid_from=NOW)
    kit.consent.give(
        "cust-2", "newsletter", evidence("nl", wording_sha256=hash_wording(TEXTS_V2["nl"]))
    )
    kit.consent.wordings.withdraw("newsletter", "1", reason="misleading", at=NOW)
    assert sorted(kit.consent.audience("newsletter")) == ["cust-1", "cust-2"]
    assert sorted(kit.consent.audience("newsletter", current_wordings=True)) == ["cust-2"]
    earlier = NOW - timedelta(hours=1)
    assert sorted(kit.consent.audience("newsletter", at=earlier, current_wordings=True)) == [
        "cust-1"
    ]
    assert sorted(kit.consent.to_renew("newsletter")) == ["cust-1"]


# --------------------------------------------------------------------------- the reference


def test_check_registration_skips_known_and_refuses_changed():
    one = Wording(purpose="newsletter", version="1", lang="nl", text="Ja", valid_from=MAY)
    index = WordingIndex(wordings=(one,))
    assert check_registration(index, [one]) == []
    with pytest.raises(ValidationError, match="other dates"):
        check_registration(index, [attrs.evolve(one, renewal=True)])
    with pytest.raises(ValidationError, match="not a Wording"):
        check_registration(index, ["Ja"])


def test_a_wording_validates_itself():
    with pytest.raises(ValidationError, match="valid_until must be after"):
        Wording(purpose=None, version="1", lang="nl", text="x", valid_from=MAY, valid_until=MAY)
    with pytest.raises(ValidationError):
        Wording(purpose=None, version="1", lang="nl", text="", valid_from=MAY)
    with pytest.raises(ValidationError):
        Wording(purpose="Not A Key", version="1", lang="nl", text="x", valid_from=MAY)


_versions = st.lists(
    st.tuples(
        st.sampled_from(["1", "2", "3"]),  # version
        st.integers(0, 4),  # valid_from, in days after MAY
        st.booleans(),  # renewal
        st.one_of(st.none(), st.integers(0, 6)),  # withdrawn on day
    ),
    max_size=4,
    unique_by=lambda v: v[0],
)
_consents = st.lists(
    st.tuples(st.sampled_from(["1", "2", "3", "x"]), st.integers(0, 5)), max_size=6
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(versions=_versions, consents=_consents, day=st.integers(0, 7))
def test_sqlite_answers_as_the_reference_for_any_registry(
    tmp_path_factory, versions, consents, day
):
    """The current-wording audience and the renewal list agree with the memory store."""
    from avgkit.consent import ConsentEvent

    path = tmp_path_factory.mktemp("reg") / "c.db"
    stores = [MemoryConsentStore(), SqliteConsentStore(Database(str(path)))]
    wordings = [
        Wording(
            purpose="newsletter",
            version=v,
            lang="nl",
            text=f"tekst {v}",
            valid_from=MAY + timedelta(days=start),
            renewal=renewal,
        )
        for v, start, renewal, _gone in versions
    ]
    events = [
        ConsentEvent(
            subject=f"cust-{i}",
            purpose="newsletter",
            kind="given",
            at=MAY + timedelta(days=when, hours=1),
            evidence=Evidence(
                channel="import",
                notice_version="n",
                wording_sha256=hash_wording(f"tekst {version}"),
            ),
        )
        for i, (version, when) in enumerate(consents)
    ]
    at = MAY + timedelta(days=day, hours=2)
    answers = []
    for store in stores:
        store.register_wordings(wordings)
        for v, _start, _renewal, gone in versions:
            if gone is not None:
                store.withdraw_wording(
                    WordingWithdrawal(
                        purpose="newsletter", version=v, at=MAY + timedelta(days=gone)
                    )
                )
        store.append_many(events)
        answers.append(
            (
                sorted(store.audience("newsletter", at)),
                sorted(store.current_audience("newsletter", at)),
                sorted(store.to_renew("newsletter", at)),
                store.wording_index().wordings,
            )
        )
    stores[1]._db.close()
    assert answers[0] == answers[1]
