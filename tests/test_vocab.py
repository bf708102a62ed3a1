"""The one bilingual base of the inventory's and the breach register's vocabularies."""

import pytest

from avgkit import _vocab
from avgkit.breach import BreachKind, Exemption, Protection, RiskFactor
from avgkit.inventory import (
    Art9Condition,
    LawfulBasis,
    RecipientRole,
    SpecialCategory,
    TransferMechanism,
)

WITH_ARTICLE = [LawfulBasis, SpecialCategory, Art9Condition, RecipientRole, TransferMechanism]
LABELLED = [BreachKind, Protection, RiskFactor, Exemption]


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


def test_an_incomplete_table_is_refused():
    class Colour(_vocab.WithArticle):
        RED = "red"
        BLUE = "blue"

    with pytest.raises(TypeError, match=r"missing for \['blue'\]"):
        _vocab.define({(Colour, "red"): _vocab.Terms("rood", "red", "Art. 1")})
    with pytest.raises(TypeError, match=r"article missing for \['blue'\]"):
        _vocab.define(
            {
                (Colour, "red"): _vocab.Terms("rood", "red", "Art. 1"),
                (Colour, "blue"): _vocab.Terms("blauw", "blue"),
            }
        )
