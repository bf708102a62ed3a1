"""The one bilingual base of the inventory's, the breach register's and consent's vocabularies."""

import pickle

import pytest

from avgkit import _vocab
from avgkit.breach import BreachKind, Exemption, Protection, RiskFactor
from avgkit.consent import Actor, Channel, ConsentAction
from avgkit.errors import ValidationError
from avgkit.inventory import (
    Art9Condition,
    LawfulBasis,
    RecipientRole,
    SpecialCategory,
    TransferMechanism,
)

WITH_ARTICLE = [LawfulBasis, SpecialCategory, Art9Condition, RecipientRole, TransferMechanism]
LABELLED = [BreachKind, Protection, RiskFactor, Exemption, ConsentAction, Channel, Actor]


@pytest.mark.parametrize("kind", WITH_ARTICLE + LABELLED)
def test_every_member_has_a_dutch_and_an_english_label(kind):
    assert issubclass(kind, _vocab.Bilingual)
    for member in kind:
        assert member.label("nl")
        assert member.label("en")
        assert member.label() == member.label("en")
        assert str(member) == member.value


@pytest.mark.parametrize("kind", WITH_ARTICLE)
def test_gdpr_vocabularies_name_an_article_for_every_member(kind):
    assert issubclass(kind, _vocab.WithArticle)
    assert all(member.article.startswith("Art. ") for member in kind)


def test_members_that_share_a_value_keep_their_own_texts():
    assert LawfulBasis.VITAL_INTERESTS.article == "Art. 6(1)(d)"
    assert Art9Condition.VITAL_INTERESTS.article == "Art. 9(2)(c)"
    assert LawfulBasis.CONSENT.label("nl") == "Toestemming"
    assert Exemption.ENCRYPTED.label("nl") != Protection.ENCRYPTED.label("nl")
    assert Art9Condition.EXPLICIT_CONSENT.iri.endswith("A9-2-a")


@pytest.mark.parametrize("kind", WITH_ARTICLE + LABELLED)
def test_members_are_found_by_value_and_survive_pickling(kind):
    for member in kind:
        assert kind(member.value) is member
        assert kind[member.name] is member
        assert pickle.loads(pickle.dumps(member)) is member  # noqa: S301 - our own bytes
        assert member == member.value
    with pytest.raises(ValueError, match="is not a valid"):
        kind("no_such_value")


def test_the_consent_vocabularies_carry_the_report_labels():
    assert ConsentAction.OBJECTED.label("nl") == "bezwaar gemaakt"
    assert Channel.BOX_OFFICE.label("nl") == "kassa"
    assert Actor.GUARDIAN.label("en") == "parent or guardian"


def test_a_member_declared_without_its_texts_is_refused():
    with pytest.raises(TypeError, match="declared as Term"):

        class Plain(_vocab.Bilingual):
            RED = "red"

    with pytest.raises(TypeError, match="need an article"):

        class NoArticle(_vocab.WithArticle):
            RED = _vocab.Term("red", nl="rood", en="red")

    with pytest.raises(TypeError, match="only those have one"):

        class StrayArticle(_vocab.Bilingual):
            RED = _vocab.Term("red", nl="rood", en="red", article="Art. 1")


def test_a_label_needs_a_supported_language():
    with pytest.raises(ValidationError, match="language"):
        LawfulBasis.CONSENT.label("de")
