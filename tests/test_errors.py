import pytest

from avgkit import errors


@pytest.mark.parametrize(
    "name",
    [
        "ValidationError",
        "NotPermitted",
        "PolicyError",
        "IntegrityError",
        "StorageError",
        "NotFound",
    ],
)
def test_every_error_is_an_avgkit_error(name):
    assert issubclass(getattr(errors, name), errors.AvgkitError)


def test_validation_error_is_also_a_value_error():
    assert issubclass(errors.ValidationError, ValueError)


def test_not_found_is_also_a_lookup_error():
    assert issubclass(errors.NotFound, LookupError)


def test_conflict_is_a_storage_error():
    assert issubclass(errors.ConflictError, errors.StorageError)
