"""Sealing exports and files with a passphrase (private; see avgkit.pseudonym).

A sealed file is a header followed by segments::

    header   = b"AVGKSEAL" || version (1 byte, 1) || log2(n) (1 byte) || r (4 bytes, big endian)
               || p (4 bytes, big endian) || salt (16 bytes) || nonce prefix (7 bytes)
    key      = scrypt(NFC(passphrase) as UTF-8, salt, n, r, p, length=32)
    segment  = AES-256-GCM(key, nonce, plaintext segment, associated data=header)
    nonce    = nonce prefix || segment counter (4 bytes, big endian) || final flag (1 byte)

Plaintext is cut into segments of 65,536 bytes; only the last one may be shorter (or empty),
and only the last one is sealed with the final flag 1. Every segment is authenticated on
its own, so a stream opens with flat memory, and the counter and the final flag make a
reordered, dropped, repeated, cut-off or appended segment fail like a changed byte does.
The salt and the nonce prefix are fresh random bytes for every file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import struct
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, Self

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from avgkit._validators import fail, v_whole
from avgkit.errors import IntegrityError, StorageError, ValidationError

__all__ = [
    "SEALED_VERSION",
    "SealCost",
    "is_sealed",
    "open_bytes",
    "open_file",
    "open_stream",
    "seal_bytes",
    "seal_file",
    "seal_stream",
]

SEALED_VERSION: Final = 1
"""The format version written by :func:`seal_bytes` and its twins (byte 9 of a sealed file).

.. versionadded:: 0.2.0
"""

MIN_PASSPHRASE: Final = 12
"""The fewest characters a passphrase may have (counted after NFC normalisation)."""

_MAGIC: Final = b"AVGKSEAL"
_HEADER: Final = struct.Struct(">8sBBII16s7s")  # magic, version, log2 n, r, p, salt, prefix
_SALT: Final = 16
_PREFIX: Final = 7
_KEY: Final = 32
_TAG: Final = 16
_SEGMENT: Final = 1 << 16
_MAX_SEGMENTS = 1 << 32  # the counter's 4 bytes; a module variable so tests can lower it
_READ: Final = 1 << 20

_MIN_LOG2_N: Final = 14
_MAX_LOG2_N: Final = 20
_MAX_R: Final = 32
_MAX_P: Final = 16
_MAX_MEMORY: Final = 1 << 30  # 128 * n * r bytes
_MAX_WORK: Final = 1 << 24  # n * r * p

_BYTES_LIKE: Final = (bytes, bytearray, memoryview)
_END: Final[Any] = object()  # the end of a chunk iterator (a None chunk is an error, not the end)


def _power_of_two(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value & (value - 1):
        fail(instance, attribute, f"must be a power of two (2**14, 2**15, ...), got {value}")


@attrs.frozen(kw_only=True)
class SealCost:
    """How hard the passphrase is made to guess: scrypt's ``n``, ``r`` and ``p``.

    The default (``n=2**17, r=8, p=1``) takes about 128 MiB of memory and, on a current
    server core, about a second per seal or open: a guessing attacker pays that for every
    guess. Raise ``n`` for files that stay valuable for long and are opened rarely; keep the
    default where people wait for it. :meth:`for_tests` is the cheap preset (16 MiB).

    Bounds, checked here and on every header read back (a file claiming more is refused
    before any work, so a crafted file cannot make :func:`open_bytes` eat the machine):
    ``n`` a power of two from ``2**14`` to ``2**20``, ``r`` from 1 to 32, ``p`` from 1 to
    16, memory (``128 * n * r`` bytes) at most 1 GiB and ``n * r * p`` at most ``2**24``.

    Raises:
        ValidationError: a value is out of those bounds.

    .. versionadded:: 0.2.0
    """

    n: int = attrs.field(
        default=1 << 17,
        validator=[v_whole(minimum=1 << _MIN_LOG2_N, maximum=1 << _MAX_LOG2_N), _power_of_two],
    )
    """CPU and memory cost: a power of two from ``2**14`` to ``2**20``."""
    r: int = attrs.field(default=8, validator=v_whole(minimum=1, maximum=_MAX_R))
    """Block size: memory is ``128 * n * r`` bytes."""
    p: int = attrs.field(default=1, validator=v_whole(minimum=1, maximum=_MAX_P))
    """Parallelisation: time grows with ``p``, memory does not."""

    def __attrs_post_init__(self) -> None:
        if self.memory_bytes > _MAX_MEMORY:
            msg = (
                f"SealCost(n={self.n}, r={self.r}) needs {self.memory_bytes >> 20} MiB; "
                "at most 1024 MiB (128 * n * r bytes) is allowed: lower n or r"
            )
            raise ValidationError(msg)
        if self.n * self.r * self.p > _MAX_WORK:
            msg = (
                f"SealCost(n={self.n}, r={self.r}, p={self.p}) is more work than allowed: "
                "n * r * p must be at most 2**24; lower p"
            )
            raise ValidationError(msg)

    @classmethod
    def for_tests(cls) -> Self:
        """The cheap preset for test suites: ``n=2**14, r=8, p=1`` (16 MiB, a few ms).

        Eight times cheaper to guess than the default: use it for test data only.
        """
        return cls(n=1 << _MIN_LOG2_N)

    @property
    def memory_bytes(self) -> int:
        """The memory one seal or open takes: ``128 * n * r`` bytes."""
        return 128 * self.n * self.r


def is_sealed(prefix: bytes) -> bool:
    """Whether bytes start like a sealed file of any version (the first 8 bytes decide).

    A quick check for routing files (``is_sealed(path.read_bytes()[:8])``); it proves
    nothing about integrity, which only opening with the passphrase does.

    .. versionadded:: 0.2.0
    """
    return isinstance(prefix, _BYTES_LIKE) and bytes(prefix[: len(_MAGIC)]) == _MAGIC


def seal_bytes(data: bytes, passphrase: str, *, cost: SealCost | None = None) -> bytes:
    """Seal ``data`` with a passphrase (scrypt, then AES-256-GCM); empty data seals too.

    Args:
        data: the plaintext (``bytes``, ``bytearray`` or ``memoryview``).
        passphrase: text of at least 12 characters; normalised to NFC, so it opens the same
            however the keyboard composed accented letters.
        cost: the key derivation's cost; ``SealCost()`` by default.

    Returns:
        The sealed blob, 41 header bytes and then the segments (16 bytes of tag each).

    Raises:
        ValidationError: ``data`` is not bytes, or the passphrase breaks the rule.

    .. versionadded:: 0.2.0
    """
    _check_bytes(data, "the data to seal")
    return b"".join(seal_stream((data,), passphrase, cost=cost))


def open_bytes(blob: bytes, passphrase: str) -> bytes:
    """Open a blob made by :func:`seal_bytes` or :func:`seal_stream`: all or nothing.

    Raises:
        IntegrityError: the passphrase is wrong, or the blob was altered, cut short,
            extended, is of an unknown version or is not a sealed blob at all. The message
            names no secret and no plaintext, and no lower-level exception is chained.
        ValidationError: ``blob`` is not bytes, or the passphrase breaks the rule.

    .. versionadded:: 0.2.0
    """
    _check_bytes(blob, "the sealed blob")
    return b"".join(open_stream((blob,), passphrase))


def seal_stream(
    chunks: Iterable[bytes], passphrase: str, *, cost: SealCost | None = None
) -> Iterator[bytes]:
    """Seal a stream of chunks of any sizes, holding one segment (64 KiB) and a chunk at a time.

    The passphrase is checked and the key derived when this is called; the header is the
    first piece yielded, then one piece per sealed segment.

    Raises:
        ValidationError: the passphrase breaks the rule, a chunk is not bytes, or the stream
            is longer than the format allows (2**32 segments, 256 TiB).

    .. versionadded:: 0.2.0
    """
    secret = _passphrase_bytes(passphrase)
    chosen = SealCost() if cost is None else cost
    if not isinstance(chosen, SealCost):
        msg = f"cost must be a SealCost, got {type(chosen).__name__}"
        raise ValidationError(msg)
    return _seal_stream_with(
        chunks,
        secret,
        chosen,
        salt=secrets.token_bytes(_SALT),
        nonce_prefix=secrets.token_bytes(_PREFIX),
    )


def open_stream(chunks: Iterable[bytes], passphrase: str) -> Iterator[bytes]:
    """Open a sealed stream, yielding each segment's plaintext only once it authenticated.

    Memory stays flat (one segment), so plaintext is handed out before the end is checked:
    if a later segment fails, the error comes after earlier plaintext was yielded, and the
    consumer must discard everything it received (write to a temporary file and rename
    only at the end, as :func:`open_file` does). For all or nothing in memory use
    :func:`open_bytes`. A cut-off stream always fails: the last segment must carry the
    final flag.

    Raises:
        IntegrityError: as :func:`open_bytes`, naming the segment that failed.
        ValidationError: the passphrase breaks the rule or a chunk is not bytes (when
            called, or at the chunk).

    .. versionadded:: 0.2.0
    """
    secret = _passphrase_bytes(passphrase)
    return _open_segments(iter(chunks), secret)


def seal_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    passphrase: str,
    *,
    cost: SealCost | None = None,
) -> None:
    """Seal the file ``src`` into ``dst`` with a passphrase, streaming with flat memory.

    ``dst`` is written atomically: into a temporary file in its own folder (mode 0600),
    flushed to disk, then renamed over ``dst``. On any failure nothing is left behind and
    an existing ``dst`` is untouched.

    Raises:
        ValidationError: the passphrase breaks the rule, or ``src`` cannot be opened.
        StorageError: reading ``src`` or writing ``dst`` failed (the ``OSError`` is
            chained).

    .. versionadded:: 0.2.0
    """
    source, target = Path(src), Path(dst)
    _passphrase_bytes(passphrase)  # refuse a bad passphrase before touching any file
    with _open_source(source) as handle:
        _write_atomically(target, seal_stream(_read(handle, source), passphrase, cost=cost))


def open_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], passphrase: str) -> None:
    """Open the sealed file ``src`` into ``dst``: all or nothing, with flat memory.

    Plaintext goes into a temporary file in ``dst``'s folder (mode 0600), which is renamed
    over ``dst`` only after the last segment authenticated; if any segment fails, the
    temporary file is removed and an existing ``dst`` is untouched.

    Raises:
        IntegrityError: as :func:`open_bytes`.
        ValidationError: the passphrase breaks the rule, or ``src`` cannot be opened.
        StorageError: reading ``src`` or writing ``dst`` failed (the ``OSError`` is
            chained).

    .. versionadded:: 0.2.0
    """
    source, target = Path(src), Path(dst)
    secret = _passphrase_bytes(passphrase)
    with _open_source(source) as handle:
        _write_atomically(target, _open_segments(_read(handle, source), secret))


# --------------------------------------------------------------------------- internals


def _passphrase_bytes(passphrase: object) -> bytes:
    rule = f"the passphrase must be text (a str) of at least {MIN_PASSPHRASE} characters"
    if isinstance(passphrase, _BYTES_LIKE):
        msg = (
            f"{rule}, got bytes: decode it first (e.g. raw.decode('utf-8')), so that it is "
            "normalised the same way wherever it is typed"
        )
        raise ValidationError(msg)
    if not isinstance(passphrase, str):
        msg = f"{rule}, got {type(passphrase).__name__}"
        raise ValidationError(msg)
    normal = unicodedata.normalize("NFC", passphrase)
    if len(normal) < MIN_PASSPHRASE:
        msg = f"{rule}; this one is shorter. Several random words make a good one"
        raise ValidationError(msg)
    try:
        return normal.encode("utf-8")
    except UnicodeEncodeError:
        msg = f"{rule} that can be written as UTF-8; this one holds a lone surrogate"
    raise ValidationError(msg)


def _check_bytes(value: object, what: str) -> None:
    if not isinstance(value, _BYTES_LIKE):
        hint = " (encode text first, e.g. text.encode('utf-8'))" if isinstance(value, str) else ""
        msg = f"{what} must be bytes, got {type(value).__name__}{hint}"
        raise ValidationError(msg)


def _derive_key(secret: bytes, salt: bytes, cost: SealCost) -> bytes:
    return Scrypt(salt=salt, length=_KEY, n=cost.n, r=cost.r, p=cost.p).derive(secret)


def _nonce(prefix: bytes, counter: int, *, final: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


def _seal_stream_with(
    chunks: Iterable[bytes], secret: bytes, cost: SealCost, *, salt: bytes, nonce_prefix: bytes
) -> Iterator[bytes]:
    """Derive the key now and return the sealing generator (the known-answer tests' seam)."""
    header = _HEADER.pack(
        _MAGIC, SEALED_VERSION, cost.n.bit_length() - 1, cost.r, cost.p, salt, nonce_prefix
    )
    aead = AESGCM(_derive_key(secret, salt, cost))
    return _seal_segments(iter(chunks), aead, header, nonce_prefix)


def _seal_segments(
    chunks: Iterator[bytes], aead: AESGCM, header: bytes, prefix: bytes
) -> Iterator[bytes]:
    yield header
    buffer = bytearray()
    counter = 0
    for chunk in chunks:
        _check_bytes(chunk, "each chunk to seal")
        buffer += chunk
        while len(buffer) > _SEGMENT:
            if counter + 1 >= _MAX_SEGMENTS:
                msg = "the data is too long to seal: the format holds at most 2**32 segments"
                raise ValidationError(msg)
            nonce = _nonce(prefix, counter, final=False)
            yield aead.encrypt(nonce, bytes(buffer[:_SEGMENT]), header)
            del buffer[:_SEGMENT]
            counter += 1
    yield aead.encrypt(_nonce(prefix, counter, final=True), bytes(buffer), header)


def _read_header(chunks: Iterator[bytes], buffer: bytearray) -> tuple[bytes, SealCost]:
    """Fill ``buffer`` up to the header from ``chunks``; return the header and its cost."""
    while len(buffer) < _HEADER.size:
        if len(buffer) >= len(_MAGIC) and bytes(buffer[: len(_MAGIC)]) != _MAGIC:
            break  # no need to read on: it is not a sealed file
        chunk = next(chunks, _END)
        if chunk is _END:
            break
        _check_bytes(chunk, "each chunk to open")
        buffer += chunk
    head = bytes(buffer[: _HEADER.size])
    if not head:
        msg = "this is not avgkit sealed data: it is empty"
        raise IntegrityError(msg)
    if not _MAGIC.startswith(head[: len(_MAGIC)]):
        msg = "this is not avgkit sealed data: it does not start with the sealed-file marker"
        raise IntegrityError(msg)
    if len(head) <= len(_MAGIC):
        msg = "the sealed data is cut short inside its header"
        raise IntegrityError(msg)
    version = head[len(_MAGIC)]
    if version != SEALED_VERSION:
        msg = (
            f"the data is sealed in format version {version}, which this avgkit does not know "
            f"(it reads version {SEALED_VERSION}); open it with the avgkit that sealed it"
        )
        raise IntegrityError(msg)
    if len(head) < _HEADER.size:
        msg = "the sealed data is cut short inside its header"
        raise IntegrityError(msg)
    _magic, _version, log2_n, r, p, _salt, _prefix = _HEADER.unpack(head)
    try:
        cost = SealCost(n=1 << log2_n, r=r, p=p)
    except ValidationError:
        shown = f"n=2**{log2_n}, r={r}, p={p}"
        msg = (
            f"the sealed data's header asks for scrypt parameters outside the allowed bounds "
            f"({shown}); avgkit never writes those, so the header was altered"
        )
        raise IntegrityError(msg) from None
    return head, cost


def _open_segments(chunks: Iterator[bytes], secret: bytes) -> Iterator[bytes]:
    buffer = bytearray()
    header, cost = _read_header(chunks, buffer)
    del buffer[: _HEADER.size]
    prefix = header[-_PREFIX:]
    aead = AESGCM(_derive_key(secret, header[-_PREFIX - _SALT : -_PREFIX], cost))
    whole = _SEGMENT + _TAG
    counter = 0
    while True:
        # A segment is known not to be the last one once a byte follows it.
        while len(buffer) > whole:
            yield _open_segment(aead, header, prefix, counter, bytes(buffer[:whole]), final=False)
            del buffer[:whole]
            counter += 1
        chunk = next(chunks, _END)
        if chunk is _END:
            break
        _check_bytes(chunk, "each chunk to open")
        buffer += chunk
    yield _open_segment(aead, header, prefix, counter, bytes(buffer), final=True)


def _open_segment(
    aead: AESGCM, header: bytes, prefix: bytes, counter: int, sealed: bytes, *, final: bool
) -> bytes:
    if counter >= _MAX_SEGMENTS:
        msg = "the sealed data has more segments than the format allows: bytes were appended"
        raise IntegrityError(msg)
    if len(sealed) >= _TAG:
        try:
            return aead.decrypt(_nonce(prefix, counter, final=final), sealed, header)
        except InvalidTag:
            pass
    raise IntegrityError(_failure(aead, header, prefix, counter, sealed, final=final))


def _failure(
    aead: AESGCM, header: bytes, prefix: bytes, counter: int, sealed: bytes, *, final: bool
) -> str:
    """Say why segment ``counter`` did not open (checked, never guessed)."""
    discard = "discard anything already read from it"
    if len(sealed) < _TAG:  # only a final segment can be this short
        if not sealed:
            return "the sealed data is cut short: it ends right after its header"
        return f"the sealed data is cut short inside segment {counter}; {discard}"
    if _opens(aead, header, prefix, counter, sealed, final=not final):
        if final:
            return (
                f"the sealed data is cut short: segment {counter} opens but is not the final "
                f"one, so segments are missing after it; {discard}"
            )
        return f"bytes were added to the sealed data after its final segment {counter}; {discard}"
    if counter == 0:
        return "the sealed data does not open: the passphrase is wrong, or the data was altered"
    return (
        f"segment {counter} of the sealed data was altered, reordered, cut short or added to "
        f"(the passphrase is right: the segments before it opened); {discard}"
    )


def _opens(
    aead: AESGCM, header: bytes, prefix: bytes, counter: int, sealed: bytes, *, final: bool
) -> bool:
    try:
        aead.decrypt(_nonce(prefix, counter, final=final), sealed, header)
    except InvalidTag:
        return False
    return True


def _open_source(source: Path) -> BinaryIO:
    try:
        return source.open("rb")
    except OSError as exc:
        msg = f"cannot open {source.name!r} to read: {exc.strerror or type(exc).__name__}"
        raise ValidationError(msg) from exc


def _read(handle: BinaryIO, source: Path) -> Iterator[bytes]:
    while True:
        try:
            block: bytes = handle.read(_READ)
        except OSError as exc:
            msg = f"reading {source.name!r} failed: {exc.strerror or type(exc).__name__}"
            raise StorageError(msg) from exc
        if not block:
            return
        yield block


def _write_atomically(target: Path, pieces: Iterator[bytes]) -> None:
    folder = target.parent
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        msg = (
            f"cannot create a temporary file beside {target.name!r}: "
            f"{exc.strerror or type(exc).__name__}"
        )
        raise StorageError(msg) from exc
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            for piece in pieces:
                _write(out, piece, target)
            _write(out, b"", target, sync=True)
        try:
            temporary.replace(target)
        except OSError as exc:
            msg = f"cannot put {target.name!r} in place: {exc.strerror or type(exc).__name__}"
            raise StorageError(msg) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _sync_folder(folder)


def _write(out: BinaryIO, piece: bytes, target: Path, *, sync: bool = False) -> None:
    try:
        out.write(piece)
        if sync:
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        msg = f"writing {target.name!r} failed: {exc.strerror or type(exc).__name__}"
        raise StorageError(msg) from exc


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows (POSIX folders)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
