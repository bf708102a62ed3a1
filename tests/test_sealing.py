"""Passphrase sealing: round trips, every kind of tamper, the format's known answers, files."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import stat
import struct
import sys
import unicodedata
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from hypothesis import given, settings
from hypothesis import strategies as st

from avgkit.errors import IntegrityError, StorageError, ValidationError
from avgkit.pseudonym import (
    SEALED_VERSION,
    SealCost,
    _sealing,
    is_sealed,
    open_bytes,
    open_file,
    open_stream,
    seal_bytes,
    seal_file,
    seal_stream,
)

PASSPHRASE = "correct horse battery staple"  # noqa: S105 - a test passphrase
COST = SealCost.for_tests()
SEGMENT = 1 << 16
WHOLE = SEGMENT + 16  # a sealed full segment: plaintext and tag
HEADER = 41
VECTORS = Path(__file__).parent / "vectors" / "sealing.json"
BOUNDARIES = [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 2 * SEGMENT + 1, 3 * SEGMENT]


@pytest.fixture(scope="module")
def fast_kdf():
    """Remember scrypt's answers: the property tests derive the same few keys many times.

    The cache is keyed on everything scrypt reads, so it changes no outcome; the tests that
    check the real derivation (the known answers, the cost parameters) do not use it.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            _sealing, "_derive_key", functools.lru_cache(maxsize=64)(_sealing._derive_key)
        )
        yield


def _data(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311 - test data, no secret


def _cut(blob: bytes, sizes: list[int]) -> list[bytes]:
    """``blob`` in chunks of the given sizes (zeros give empty chunks), the rest as one."""
    chunks, at = [], 0
    for size in sizes:
        chunks.append(blob[at : at + size])
        at += size
    chunks.append(blob[at:])
    return chunks


def _seal(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
    return seal_bytes(data, passphrase, cost=COST)


def _refused(blob: bytes, passphrase: str = PASSPHRASE) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        open_bytes(blob, passphrase)
    _assert_clean(caught.value, passphrase)
    return caught.value


def _assert_clean(error: BaseException, passphrase: str, plaintext: bytes = b"") -> None:
    """No secret in the error, and nothing chained that could carry one."""
    text = f"{error} {error!r}"
    assert passphrase not in text
    assert passphrase.encode() not in text.encode()
    if len(plaintext) >= 8:
        assert plaintext[:8].hex() not in text
        assert repr(plaintext[:8])[2:-1] not in text
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def _segments(blob: bytes) -> list[bytes]:
    body = blob[HEADER:]
    return [body[at : at + WHOLE] for at in range(0, len(body), WHOLE)]


# --------------------------------------------------------------------------- round trips


@pytest.mark.usefixtures("fast_kdf")
@settings(max_examples=60)
@given(
    size=st.one_of(st.sampled_from(BOUNDARIES), st.integers(0, 3 * SEGMENT + 40)),
    seed=st.integers(0, 2**32),
    seal_cuts=st.lists(st.integers(0, 2 * SEGMENT), max_size=6),
    open_cuts=st.lists(st.integers(0, 2 * WHOLE), max_size=6),
)
def test_whatever_the_size_and_chunking_the_data_comes_back(size, seed, seal_cuts, open_cuts):
    data = _data(size, seed)
    sealed = b"".join(seal_stream(_cut(data, seal_cuts), PASSPHRASE, cost=COST))
    segments = max(1, -(-size // SEGMENT))
    assert len(sealed) == HEADER + size + 16 * segments
    assert b"".join(open_stream(_cut(sealed, open_cuts), PASSPHRASE)) == data
    assert open_bytes(sealed, PASSPHRASE) == data


@pytest.mark.parametrize("size", BOUNDARIES)
@pytest.mark.usefixtures("fast_kdf")
def test_segment_boundaries_round_trip_through_bytes(size):
    data = _data(size, size)
    assert open_bytes(_seal(data), PASSPHRASE) == data


def test_empty_data_seals_to_a_header_and_one_empty_final_segment():
    sealed = _seal(b"")
    assert len(sealed) == HEADER + 16
    assert open_bytes(sealed, PASSPHRASE) == b""
    assert b"".join(seal_stream([], PASSPHRASE, cost=COST))[:8] == sealed[:8]


def test_bytearray_and_memoryview_are_accepted():
    data = b"order 1042: 2 tickets"
    sealed = _seal(bytearray(data))
    assert open_bytes(memoryview(sealed), PASSPHRASE) == data
    assert b"".join(open_stream([bytearray(sealed)], PASSPHRASE)) == data


@pytest.mark.usefixtures("fast_kdf")
def test_every_seal_has_a_fresh_salt_and_nonce_prefix():
    first, second = _seal(b"same data"), _seal(b"same data")
    assert first[10 + 8 : HEADER] != second[10 + 8 : HEADER]
    assert first != second
    assert open_bytes(first, PASSPHRASE) == open_bytes(second, PASSPHRASE) == b"same data"


def test_the_header_records_the_cost_and_the_real_derivation_uses_it():
    cost = SealCost(n=2**15, r=4, p=2)
    sealed = seal_bytes(b"data", PASSPHRASE, cost=cost)
    magic, version, log2_n, r, p = struct.unpack(">8sBBII", sealed[:18])
    assert (magic, version, log2_n, r, p) == (b"AVGKSEAL", SEALED_VERSION, 15, 4, 2)
    assert open_bytes(sealed, PASSPHRASE) == b"data"


def test_the_default_cost_is_written_when_none_is_given():
    sealed = b"".join(seal_stream([b""], PASSPHRASE))  # the one real default-cost seal
    assert struct.unpack(">BII", sealed[9:18]) == (17, 8, 1)


# --------------------------------------------------------------------------- tampering


@pytest.fixture(scope="module")
def three_segments(fast_kdf):  # noqa: ARG001 - the cache must be in place before sealing
    data = _data(2 * SEGMENT + 100, 7)
    return data, _seal(data)


@pytest.mark.usefixtures("fast_kdf")
@settings(max_examples=150)
@given(where=st.data(), mask=st.integers(1, 255))
def test_changing_any_single_byte_is_an_integrity_error(three_segments, where, mask):
    data, sealed = three_segments
    at = where.draw(st.integers(0, len(sealed) - 1))
    changed = bytearray(sealed)
    changed[at] ^= mask
    with pytest.raises(IntegrityError) as caught:
        open_bytes(bytes(changed), PASSPHRASE)
    _assert_clean(caught.value, PASSPHRASE, data)


@pytest.mark.usefixtures("fast_kdf")
def test_changing_any_header_byte_is_an_integrity_error(three_segments):
    _, sealed = three_segments
    for at in range(HEADER):
        changed = bytearray(sealed)
        changed[at] ^= 0x01
        _refused(bytes(changed))


@pytest.mark.usefixtures("fast_kdf")
@settings(max_examples=60)
@given(where=st.data())
def test_cutting_the_data_short_anywhere_is_an_integrity_error(three_segments, where):
    _, sealed = three_segments
    _refused(sealed[: where.draw(st.integers(0, len(sealed) - 1))])


@pytest.mark.parametrize(
    ("keep", "says"),
    [
        (HEADER + WHOLE, "segment 0 opens but is not the final one"),
        (HEADER + 2 * WHOLE, "segment 1 opens but is not the final one"),
        (HEADER, "ends right after its header"),
        (HEADER + 2 * WHOLE + 5, "cut short inside segment 2"),
        (HEADER - 1, "cut short inside its header"),
        (4, "cut short inside its header"),
    ],
)
@pytest.mark.usefixtures("fast_kdf")
def test_truncation_at_segment_boundaries_says_the_data_is_cut_short(three_segments, keep, says):
    _, sealed = three_segments
    assert says in str(_refused(sealed[:keep]))


@pytest.mark.usefixtures("fast_kdf")
def test_a_stream_cut_at_a_boundary_fails_after_handing_out_only_authentic_segments(
    three_segments,
):
    data, sealed = three_segments
    received = []
    with pytest.raises(IntegrityError, match="cut short"):
        received.extend(open_stream([sealed[: HEADER + 2 * WHOLE]], PASSPHRASE))
    # segment 1 authenticates only as a non-final segment, so it is held back; segment 0
    # was handed out and the consumer must discard it
    assert received == [data[:SEGMENT]]


@pytest.mark.usefixtures("fast_kdf")
def test_reordering_dropping_repeating_or_splicing_segments_is_refused(three_segments):
    _, sealed = three_segments
    header, (first, second, last) = sealed[:HEADER], _segments(sealed)
    other = _segments(_seal(_data(2 * SEGMENT + 100, 8)))
    later = "segment 1 of the sealed data was altered"
    for segments, says in (
        ([second, first, last], "the passphrase is wrong, or the data was altered"),  # reordered
        ([first, last], later),  # the middle one dropped
        ([first, first, second, last], later),  # one repeated
        ([first, other[1], last], later),  # one from another file with the same passphrase
    ):
        assert says in str(_refused(header + b"".join(segments)))


@pytest.mark.usefixtures("fast_kdf")
def test_appending_is_refused_and_said_to_be_appending():
    full = _seal(_data(SEGMENT, 1))  # one full final segment
    for extra in (b"\x00", _segments(full)[0], b"x" * (WHOLE + 1)):
        assert "added to the sealed data after its final segment 0" in str(_refused(full + extra))
    short = _seal(b"short data")
    _refused(short + b"\x00")  # a final short segment followed by a byte: the tag moved


@pytest.mark.usefixtures("fast_kdf")
def test_open_stream_yields_no_plaintext_of_a_segment_that_fails(three_segments):
    data, sealed = three_segments
    changed = bytearray(sealed)
    changed[HEADER + WHOLE + 10] ^= 0xFF  # a byte of the second segment's ciphertext
    received = []
    with pytest.raises(IntegrityError, match="segment 1") as caught:
        received.extend(open_stream([bytes(changed)], PASSPHRASE))
    assert received == [data[:SEGMENT]]
    assert "discard" in str(caught.value)
    _assert_clean(caught.value, PASSPHRASE, data[SEGMENT:])


@pytest.mark.usefixtures("fast_kdf")
def test_open_bytes_is_all_or_nothing(three_segments):
    _, sealed = three_segments
    changed = bytearray(sealed)
    changed[-1] ^= 0x01  # the last segment's tag
    result = None
    with pytest.raises(IntegrityError):
        result = open_bytes(bytes(changed), PASSPHRASE)
    assert result is None


def test_a_wrong_passphrase_is_an_integrity_error_naming_neither_passphrase():
    sealed = _seal(b"order 1042: 2 tickets")
    wrong = "correct horse battery stable"
    error = _refused(sealed, wrong)
    assert "passphrase is wrong" in str(error)
    _assert_clean(error, PASSPHRASE)


def test_the_passphrase_is_normalised_so_composed_and_decomposed_accents_open_alike():
    composed = "Crème brûlée à minuit"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert open_bytes(_seal(b"data", decomposed), composed) == b"data"


def test_an_unknown_version_is_refused_by_number():
    sealed = bytearray(_seal(b"data"))
    sealed[8] = 2
    error = _refused(bytes(sealed))
    assert "format version 2" in str(error)
    assert f"reads version {SEALED_VERSION}" in str(error)
    assert "format version 9" in str(_refused(sealed[:8] + b"\x09"))  # no more header needed


@pytest.mark.parametrize(
    "blob",
    [b"", b"PK\x03\x04 a zip file, not sealed", b"AVGKSEAX" + bytes(60), b"x", b"AVGKSEA\x00"],
)
def test_data_that_is_not_sealed_is_refused_as_such(blob):
    error = _refused(blob)
    assert "not avgkit sealed data" in str(error)


def test_a_prefix_of_the_marker_is_cut_short_not_foreign():
    assert "cut short" in str(_refused(b"AVGK"))


# --------------------------------------------------------------------------- cost and bounds


def test_the_default_cost_is_about_128_mib_and_the_test_preset_is_cheap():
    assert (SealCost().n, SealCost().r, SealCost().p) == (2**17, 8, 1)
    assert SealCost().memory_bytes == 128 * 2**20
    assert SealCost.for_tests() == SealCost(n=2**14, r=8, p=1)
    assert SealCost.for_tests().memory_bytes == 16 * 2**20


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"n": 3 * 2**14}, "power of two"),
        ({"n": 2**13}, "between 16384 and 1048576"),
        ({"n": 2**21}, "between 16384 and 1048576"),
        ({"n": True}, "whole number"),
        ({"r": 0}, "SealCost.r must be between 1 and 32"),
        ({"r": 33}, "SealCost.r"),
        ({"p": 0}, "SealCost.p"),
        ({"p": 17}, "SealCost.p"),
        ({"p": 1.0}, "whole number"),
        ({"n": 2**20, "r": 16}, "at most 1024 MiB"),
        ({"n": 2**20, "r": 8, "p": 3}, "n * r * p must be at most 2**24"),
    ],
)
def test_costs_outside_the_bounds_are_refused(fields, says):
    with pytest.raises(ValidationError, match=says.replace("*", r"\*")):
        SealCost(**fields)


def test_the_largest_allowed_costs_are_accepted():
    assert SealCost(n=2**20, r=8, p=2).memory_bytes == 2**30
    assert SealCost(n=2**14, r=32, p=16).p == 16


def test_cost_must_be_a_seal_cost():
    with pytest.raises(ValidationError, match="cost must be a SealCost"):
        seal_bytes(b"data", PASSPHRASE, cost={"n": 2**14})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("log2_n", "r", "p"),
    [(21, 8, 1), (40, 8, 1), (255, 8, 1), (13, 8, 1), (17, 2**31, 1), (17, 8, 2**31), (20, 16, 1)],
)
def test_header_costs_outside_the_bounds_are_refused_before_any_derivation(
    monkeypatch, log2_n, r, p
):
    sealed = bytearray(_seal(b"data"))
    sealed[9:18] = struct.pack(">BII", log2_n, r, p)

    def no_derivation(*_args):
        pytest.fail("a key was derived for parameters outside the bounds")

    monkeypatch.setattr(_sealing, "_derive_key", no_derivation)
    error = _refused(bytes(sealed))
    assert "outside the allowed bounds" in str(error)


def test_more_segments_than_the_counter_holds_are_refused_both_ways(monkeypatch):
    sealed = _seal(_data(3 * SEGMENT, 3))  # three segments: counters 0, 1, 2
    monkeypatch.setattr(_sealing, "_MAX_SEGMENTS", 3)
    assert open_bytes(sealed, PASSPHRASE) == _data(3 * SEGMENT, 3)
    with pytest.raises(ValidationError, match="too long to seal"):
        _seal(_data(3 * SEGMENT + 1, 3))
    monkeypatch.setattr(_sealing, "_MAX_SEGMENTS", 2)
    assert "more segments than the format allows" in str(_refused(sealed))


# --------------------------------------------------------------------------- input rules


@pytest.mark.parametrize(
    ("passphrase", "says"),
    [
        ("short phrase", None),  # exactly 12 characters: allowed
        ("eleven char", "at least 12 characters"),
        ("", "at least 12 characters"),
        ("e\u0301" * 6, "at least 12 characters"),  # 12 code points, 6 characters in NFC
        (b"bytes passphrase", "got bytes: decode it first"),
        (bytearray(b"bytes passphrase"), "got bytes"),
        (None, "got NoneType"),
        (123456789012, "got int"),
        ("lone \ud800 surrogate", "UTF-8"),
    ],
)
def test_passphrase_rules(passphrase, says):
    if says is None:
        assert open_bytes(_seal(b"data", passphrase), passphrase) == b"data"
        return
    for call in (
        lambda: seal_bytes(b"data", passphrase, cost=COST),
        lambda: open_bytes(b"data", passphrase),
        lambda: seal_stream([b"data"], passphrase, cost=COST),
        lambda: open_stream([b"data"], passphrase),
    ):
        with pytest.raises(ValidationError, match=says) as caught:
            call()
        if isinstance(passphrase, str) and passphrase:
            assert passphrase not in str(caught.value)
        if isinstance(passphrase, bytes):
            assert passphrase.decode() not in str(caught.value)


def test_stream_arguments_are_checked_when_called_before_any_chunk_is_read():
    read = []

    def chunks():
        read.append(True)
        yield b"data"

    for call in (lambda: seal_stream(chunks(), "too short"), lambda: open_stream(chunks(), "")):
        with pytest.raises(ValidationError):
            call()
    assert read == []


@pytest.mark.parametrize("data", ["text, not bytes", None, [1, 2, 3]])
def test_data_and_chunks_must_be_bytes(data):
    with pytest.raises(ValidationError, match="must be bytes"):
        seal_bytes(data, PASSPHRASE, cost=COST)
    with pytest.raises(ValidationError, match="must be bytes"):
        open_bytes(data, PASSPHRASE)
    with pytest.raises(ValidationError, match="each chunk to seal must be bytes"):
        list(seal_stream([b"ok", data], PASSPHRASE, cost=COST))
    with pytest.raises(ValidationError, match="each chunk to open must be bytes"):
        list(open_stream([b"AVGK", data], PASSPHRASE))


def test_text_data_gets_a_hint_to_encode_it():
    with pytest.raises(ValidationError, match=r"text\.encode"):
        seal_bytes("text", PASSPHRASE, cost=COST)  # type: ignore[arg-type]


def test_is_sealed_reads_the_marker_only():
    sealed = _seal(b"data")
    assert is_sealed(sealed)
    assert is_sealed(sealed[:8])
    assert is_sealed(bytearray(sealed[:8]))
    assert not is_sealed(sealed[:7])
    assert not is_sealed(b"")
    assert not is_sealed(b"PK\x03\x04zipzip")
    assert not is_sealed("AVGKSEAL")  # type: ignore[arg-type]
    assert SEALED_VERSION == 1
    assert sealed[8] == SEALED_VERSION


def test_seal_cost_repr_and_errors_hold_no_secret():
    assert repr(SealCost.for_tests()) == "SealCost(n=16384, r=8, p=1)"


# --------------------------------------------------------------------------- flat memory


@pytest.mark.usefixtures("fast_kdf")
def test_streams_hand_out_output_before_reading_all_their_input():
    data = _data(6 * SEGMENT, 5)
    consumed = []

    def feed(blob: bytes, size: int):
        for at in range(0, len(blob), size):
            consumed.append(at + size)
            yield blob[at : at + size]

    sealing = seal_stream(feed(data, 1000), PASSPHRASE, cost=COST)
    assert len(next(sealing)) == HEADER
    assert len(next(sealing)) == WHOLE
    assert consumed[-1] <= SEGMENT + 1000  # one segment and a chunk read, not six
    assert len(b"".join(sealing)) == 5 * WHOLE
    consumed.clear()
    opened = open_stream(feed(_seal(data), 1000), PASSPHRASE)
    assert next(opened) == data[:SEGMENT]
    assert HEADER + WHOLE < consumed[-1] <= HEADER + WHOLE + 1000  # a byte after segment 0


# --------------------------------------------------------------------------- known answers


def _vectors():
    return json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]


def _plaintext(vector) -> bytes:
    if "plaintext_hex" in vector:
        return bytes.fromhex(vector["plaintext_hex"])
    return bytes(i % 251 for i in range(vector["plaintext_pattern_length"]))


def _check_blob(vector, blob: bytes) -> None:
    assert len(blob) == vector["sealed_length"]
    assert hashlib.sha256(blob).hexdigest() == vector["sealed_sha256"]
    if "sealed_hex" in vector:
        assert blob.hex() == vector["sealed_hex"]


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["name"])
def test_sealing_matches_the_known_answer_vectors_and_opens_them(vector):
    cost = SealCost(**vector["cost"])
    secret = unicodedata.normalize("NFC", vector["passphrase"]).encode()
    blob = b"".join(
        _sealing._seal_stream_with(
            [_plaintext(vector)],
            secret,
            cost,
            salt=bytes.fromhex(vector["salt_hex"]),
            nonce_prefix=bytes.fromhex(vector["nonce_prefix_hex"]),
        )
    )
    _check_blob(vector, blob)
    assert open_bytes(blob, vector["passphrase"]) == _plaintext(vector)


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["name"])
def test_the_vectors_follow_the_documented_format(vector):
    """Rebuilt from the description with scrypt and AES-GCM alone, not avgkit's code."""
    n, r, p = vector["cost"]["n"], vector["cost"]["r"], vector["cost"]["p"]
    salt, prefix = bytes.fromhex(vector["salt_hex"]), bytes.fromhex(vector["nonce_prefix_hex"])
    header = b"AVGKSEAL\x01" + bytes([n.bit_length() - 1]) + struct.pack(">II", r, p)
    header += salt + prefix
    passphrase = unicodedata.normalize("NFC", vector["passphrase"]).encode("utf-8")
    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)
    plaintext = _plaintext(vector)
    pieces = [plaintext[at : at + SEGMENT] for at in range(0, len(plaintext), SEGMENT)] or [b""]
    blob = header + b"".join(
        AESGCM(key).encrypt(
            prefix + index.to_bytes(4, "big") + bytes([index == len(pieces) - 1]), piece, header
        )
        for index, piece in enumerate(pieces)
    )
    _check_blob(vector, blob)


def test_the_vectors_cover_the_interesting_shapes():
    shapes = {len(_plaintext(v)) for v in _vectors()}
    assert {0, SEGMENT, 2 * SEGMENT + 3} <= shapes
    assert any(v["cost"] != {"n": 2**14, "r": 8, "p": 1} for v in _vectors())
    assert any(unicodedata.normalize("NFC", v["passphrase"]) != v["passphrase"] for v in _vectors())


# --------------------------------------------------------------------------- files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("fast_kdf")
def test_files_round_trip_and_are_written_owner_only(tmp_path):
    data = _data(3 * SEGMENT + 5, 11)
    (tmp_path / "export.json").write_bytes(data)
    seal_file(tmp_path / "export.json", tmp_path / "export.sealed", PASSPHRASE, cost=COST)
    assert is_sealed((tmp_path / "export.sealed").read_bytes())
    open_file(str(tmp_path / "export.sealed"), str(tmp_path / "back.json"), PASSPHRASE)
    assert (tmp_path / "back.json").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "back.json",
        "export.json",
        "export.sealed",
    ]
    if os.name == "posix":
        assert _mode(tmp_path / "export.sealed") == 0o600
        assert _mode(tmp_path / "back.json") == 0o600


@pytest.mark.usefixtures("fast_kdf")
def test_the_temporary_file_is_made_beside_the_destination(tmp_path, monkeypatch):
    (tmp_path / "in").write_bytes(b"data")
    (tmp_path / "out").mkdir()
    folders = []
    real = _sealing.tempfile.mkstemp

    def spy(*args, **kwargs):
        folders.append(Path(kwargs["dir"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(_sealing.tempfile, "mkstemp", spy)
    seal_file(tmp_path / "in", tmp_path / "out" / "in.sealed", PASSPHRASE, cost=COST)
    assert folders == [tmp_path / "out"]


@pytest.mark.usefixtures("fast_kdf")
def test_a_file_can_be_sealed_in_place_and_an_existing_destination_is_replaced(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"a,b\n1,2\n")
    seal_file(path, path, PASSPHRASE, cost=COST)
    assert is_sealed(path.read_bytes())
    open_file(path, path, PASSPHRASE)
    assert path.read_bytes() == b"a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]


@pytest.mark.parametrize("damage", ["wrong passphrase", "late segment", "cut short"])
@pytest.mark.usefixtures("fast_kdf")
def test_a_failed_open_leaves_no_plaintext_and_the_old_destination_untouched(tmp_path, damage):
    data = _data(2 * SEGMENT + 9, 4)
    sealed = bytearray(_seal(data))
    passphrase = PASSPHRASE
    if damage == "wrong passphrase":
        passphrase = "another long passphrase"  # noqa: S105 - a test passphrase
    elif damage == "late segment":
        sealed[-3] ^= 0x10
    else:
        del sealed[HEADER + 2 * WHOLE :]
    (tmp_path / "in.sealed").write_bytes(bytes(sealed))
    (tmp_path / "out.bin").write_bytes(b"previous content")
    with pytest.raises(IntegrityError) as caught:
        open_file(tmp_path / "in.sealed", tmp_path / "out.bin", passphrase)
    _assert_clean(caught.value, passphrase, data)
    assert (tmp_path / "out.bin").read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.sealed", "out.bin"]


def test_a_missing_source_is_a_validation_error_and_creates_nothing(tmp_path):
    with pytest.raises(ValidationError, match=r"cannot open 'missing\.csv' to read"):
        seal_file(tmp_path / "missing.csv", tmp_path / "out", PASSPHRASE, cost=COST)
    with pytest.raises(ValidationError, match="cannot open"):
        open_file(tmp_path / "missing.sealed", tmp_path / "out", PASSPHRASE)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_passphrase_is_refused_before_any_file_is_touched(tmp_path):
    with pytest.raises(ValidationError, match="passphrase"):
        seal_file(tmp_path / "missing.csv", tmp_path / "out", "short")
    with pytest.raises(ValidationError, match="passphrase"):
        open_file(tmp_path / "missing.csv", tmp_path / "out", b"bytes passphrase")  # type: ignore[arg-type]


def test_a_destination_folder_that_does_not_exist_is_a_storage_error(tmp_path):
    (tmp_path / "in").write_bytes(b"data")
    with pytest.raises(StorageError, match=r"cannot create a temporary file beside 'x\.sealed'"):
        seal_file(tmp_path / "in", tmp_path / "nowhere" / "x.sealed", PASSPHRASE, cost=COST)


def test_a_destination_that_is_a_folder_is_a_storage_error_leaving_nothing(tmp_path):
    (tmp_path / "in").write_bytes(b"data")
    (tmp_path / "taken").mkdir()
    with pytest.raises(StorageError, match="cannot put 'taken' in place") as caught:
        seal_file(tmp_path / "in", tmp_path / "taken", PASSPHRASE, cost=COST)
    assert isinstance(caught.value.__cause__, OSError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "taken"]
    assert list((tmp_path / "taken").iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc/self/mem")
def test_a_source_that_fails_while_being_read_is_a_storage_error_leaving_nothing(tmp_path):
    # /proc/self/mem opens, but reading at offset 0 (unmapped) fails with EIO.
    with pytest.raises(StorageError, match="reading 'mem' failed"):
        seal_file(Path("/proc/self/mem"), tmp_path / "out", PASSPHRASE, cost=COST)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_destination_that_cannot_be_written_is_a_storage_error(tmp_path, monkeypatch):
    (tmp_path / "in").write_bytes(b"data")

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_sealing.os, "fsync", full_disk)
    with pytest.raises(StorageError, match="writing 'out' failed: No space left on device"):
        seal_file(tmp_path / "in", tmp_path / "out", PASSPHRASE, cost=COST)
    assert [p.name for p in tmp_path.iterdir()] == ["in"]


def test_a_stream_that_is_not_sealed_is_refused_after_its_first_bytes():
    def chunks():
        yield b"PK\x03\x04 a zip file"
        pytest.fail("read on after the marker did not match")

    with pytest.raises(IntegrityError, match="not avgkit sealed data"):
        list(open_stream(chunks(), PASSPHRASE))
