"""The shared validators: keys, and how rejected values may appear in messages."""

import pytest

from avgkit import _validators
from avgkit.errors import ValidationError


@pytest.mark.parametrize("bad", ["newsletter\n", "News", "1st", "", "a-b", "x" * 65, 3, None])
def test_keys_are_lower_snake_case_with_no_trailing_newline(bad):
    with pytest.raises(ValidationError):
        _validators.key(bad, "purpose")


@pytest.mark.parametrize(
    "secret", ["jan.jansen@example.nl", "Jan Jansen", "06 12345678\n", "admin@x.nl"]
)
def test_rejected_values_that_may_be_personal_data_are_never_echoed(secret):
    with pytest.raises(ValidationError) as info:
        _validators.key(secret, "actor")
    assert secret.strip() not in str(info.value)
    assert f"{len(secret)}-character string" in str(info.value)


def test_a_key_like_typo_is_quoted_so_it_is_easy_to_spot():
    with pytest.raises(ValidationError, match="'News'"):
        _validators.key("News", "purpose")
