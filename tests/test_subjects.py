import pytest
from hypothesis import given

from avgkit.errors import ValidationError
from avgkit.subjects import MAX_SUBJECT_ID_LENGTH, subject_id
from avgkit.testing.strategies import subject_ids


@given(subject_ids())
def test_generated_ids_are_accepted_unchanged(value):
    assert subject_id(value) == value


@pytest.mark.parametrize(
    "bad",
    ["", "   ", 42, None, b"cust-1", "x" * (MAX_SUBJECT_ID_LENGTH + 1), "cust\n1", "a\x00b"],
)
def test_bad_ids_are_refused(bad):
    with pytest.raises(ValidationError):
        subject_id(bad)


def test_the_message_never_repeats_the_value():
    secret = "jan.jansen@example.nl" + " " * 200
    with pytest.raises(ValidationError) as info:
        subject_id(secret)
    assert "jan.jansen" not in str(info.value)


def test_ids_that_are_not_valid_unicode_text_are_refused():
    with pytest.raises(ValidationError, match="not valid Unicode"):
        subject_id("cust-\udc80")
