"""Where anchors go: a file appended to, or any callable (private; see :mod:`avgkit.audit`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from avgkit.audit._chain import AuditAnchor
from avgkit.errors import IntegrityError, StorageError, ValidationError

__all__ = ["AnchorFile", "AnchorSink"]

AnchorSink = Callable[[AuditAnchor], None]
"""Anything that takes an anchor and keeps it where the database's writer cannot change it.

An :class:`AnchorFile`, or a function of your own (mail it to the DPO, post it to a
write-once bucket, print it in the register).
"""


class AnchorFile:
    """An :data:`AnchorSink` that appends each anchor as one line to a file; and reads them.

    Put the file where the account that writes the database cannot change it (another
    machine's mount, a file the database user may only append to, ``chattr +a``). Each
    anchor is one ``write`` of one line on a descriptor opened with ``O_APPEND``, flushed
    to disk before the call returns; the file is created readable by its owner only.
    Iterating gives the anchors back in the order they were written.

    Args:
        path: the file (its folder must exist).

    .. versionadded:: 0.2.0
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self.path = Path(path)
        except TypeError:
            msg = f"an anchor file is a path, got {type(path).__name__}"
            raise ValidationError(msg) from None
        if "\x00" in str(self.path):
            msg = "the anchor file's path holds a NUL character"
            raise ValidationError(msg)

    def __repr__(self) -> str:
        return f"AnchorFile({self.path.name!r})"

    def __call__(self, anchor: AuditAnchor) -> None:
        """Append ``anchor`` as one line, and flush it to disk."""
        line = f"{anchor}\n".encode("ascii")
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError as exc:
            msg = (
                f"cannot append the audit anchor of entry {anchor.seq} to {self.path.name} "
                f"({type(exc).__name__}: {exc.strerror}); check the path and its permissions"
            )
            raise StorageError(msg) from None

    def __iter__(self) -> Iterator[AuditAnchor]:
        """The anchors in the file, oldest first (none if the file does not exist yet).

        Raises:
            IntegrityError: a line is not an anchor (the file was edited).
        """
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            msg = f"cannot read the anchor file {self.path.name} ({type(exc).__name__})"
            raise StorageError(msg) from None
        with handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    anchor = AuditAnchor.parse(raw.decode("ascii"))
                except (UnicodeDecodeError, ValidationError):
                    msg = f"line {number} of the anchor file {self.path.name} is not an anchor"
                    raise IntegrityError(msg) from None
                yield anchor
