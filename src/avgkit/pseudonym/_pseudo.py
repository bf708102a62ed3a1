"""Normalisation, keyed pseudonyms (HMAC-SHA-256) and reversible tokens (AES-SIV) (private)."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from avgkit import _validators
from avgkit.errors import IntegrityError, ValidationError
from avgkit.pseudonym._keys import KEY_ID_PATTERN, KeyRing, PseudonymKey, TokenKey

__all__ = [
    "PSEUDONYM_VERSION",
    "TOKEN_VERSION",
    "Pseudonymiser",
    "Tokeniser",
    "ValueKind",
    "normalise",
    "normalise_email",
    "normalise_phone",
]

PSEUDONYM_VERSION: Final = "ps1"
"""The version tag of the pseudonym text form ``ps1.<key id>.<domain tag>.<digest>``.

The domain tag is 8 hex digits, the digest 32 (see :class:`Pseudonymiser`)."""
TOKEN_VERSION: Final = "tk1"  # noqa: S105 - a format tag, not a secret
"""The version tag of the token text form ``tk1.<key id>.<base64url>``."""

_DIGEST_BYTES: Final = 16  # 128 bits of HMAC-SHA-256 (RFC 2104 allows truncation to >= 80)
_DIGEST_HEX: Final = 2 * _DIGEST_BYTES
_PS_DOMAIN: Final = b"avgkit.ps1\x00"
_PS_TAG: Final = b"avgkit.ps-domain\x00"  # keyed input of the domain tag; never a ps1 message
_TAG_BYTES: Final = 4
_TAG_HEX: Final = 2 * _TAG_BYTES
_HEX: Final = "0123456789abcdef"
_TK_DOMAIN: Final = b"avgkit.tk1"
_MAX_VALUE: Final = 10_000
_SHA256_BLOCK: Final = 64
_CACHE_LIMIT: Final = 256  # cached (domain, kind) plans and HMAC states per pseudonymiser
_CHUNK: Final = 4096  # values checked and hashed together by pseudonymise_many


class ValueKind(enum.StrEnum):
    """How a value is normalised before it is pseudonymised or tokenised.

    The kind is part of the keyed input, so an e-mail pseudonym never equals a text
    pseudonym of the same characters.

    .. versionadded:: 0.1.0
    """

    TEXT = "text"
    """Unicode NFC, surrounding white space removed; otherwise exact."""
    EMAIL = "email"
    """Unicode NFC, white space removed, lower-cased (``" Anna@X.NL "`` = ``"anna@x.nl"``)."""
    PHONE = "phone"
    """E.164 (``"06-12 34 56 78"`` = ``"+31612345678"``); Dutch and Belgian national forms."""

    @classmethod
    def for_category(cls, category: str) -> ValueKind:
        """The kind for a DPV personal-data category (``EmailAddress`` -> ``EMAIL``)."""
        if category == "EmailAddress":
            return cls.EMAIL
        if category in {"TelephoneNumber", "CellPhoneNumber"}:
            return cls.PHONE
        return cls.TEXT


def _text(value: object, what: str) -> str:
    if type(value) is str and value.isascii() and len(value) <= _MAX_VALUE:
        stripped = value.strip()  # the common case: nothing to normalise, nothing to refuse
        if stripped:
            return stripped
    if not isinstance(value, str):
        msg = f"{what} must be a string, got {type(value).__name__}"
        raise ValidationError(msg)
    if len(value) > _MAX_VALUE:
        msg = f"{what} is {len(value)} characters long; at most {_MAX_VALUE} are accepted"
        raise ValidationError(msg)
    stripped = value.strip()
    if not stripped:
        msg = f"{what} is empty or blank; there is nothing to pseudonymise"
        raise ValidationError(msg)
    if not stripped.isascii():
        stripped = unicodedata.normalize("NFC", stripped)
    return stripped


def _normalise_text(value: object) -> str:
    return _text(value, "a text value")


_ASCII_HIDDEN: Final = re.compile(r"[\x00-\x20\x7f]")
# Deleting every printable ASCII character but "@" and the space from an ASCII address leaves
# exactly b"@" when it has one "@", no space and no control character (no hidden character);
# from a " "-joined batch of n addresses, "@ " * (n - 1) + "@".
_EMAIL_BODY: Final = bytes(range(0x21, 0x7F)).replace(b"@", b"")
_AT: Final = ord("@")


def normalise_email(value: object) -> str:
    """Return an e-mail address in the form pseudonyms are made of.

    White space around it is removed, it is put in Unicode NFC and lower-cased. (The local
    part is case-sensitive in theory, never in practice; domains are not IDNA-converted.)

    Raises:
        ValidationError: not a string, or not one ``@`` between two non-empty parts; the
            message never repeats the value.

    .. versionadded:: 0.1.0
    """
    if type(value) is str and len(value) <= _MAX_VALUE:
        # Nearly every address: two C-level checks that accept exactly what the full
        # checks below accept. They pass only if the lower-cased text is ASCII; the one
        # other character whose lower case is ASCII, the Kelvin sign, NFC makes a "K".
        text = value.strip().lower()
        data = text.encode()
        if data.translate(None, _EMAIL_BODY) == b"@" and data[0] != _AT and data[-1] != _AT:
            return text
    text = _text(value, "an e-mail address").lower()
    local, at, domain = text.partition("@")
    # Any white space (tabs too) or invisible format character (a zero-width space pasted
    # along) inside the address would give the same person a second pseudonym.
    if text.isascii():  # nearly every address: one C-level scan, no per-character Python
        hidden = _ASCII_HIDDEN.search(text) is not None
    else:
        hidden = any(c.isspace() or unicodedata.category(c) in {"Cf", "Cc"} for c in text)
    if not at or not local or not domain or "@" in domain or hidden:
        msg = (
            "an e-mail address must be one local part, '@' and a domain, without spaces "
            "or invisible characters"
        )
        raise ValidationError(msg)
    return text


_PHONE_NOISE: Final = re.compile(r"[\s\-./()]")
_COUNTRY_CODES: Final = {"NL": "31", "BE": "32"}
PHONE_COUNTRIES: Final = frozenset(_COUNTRY_CODES)
"""The countries whose national phone numbers :func:`normalise_phone` reads."""
# Digits after the country code: NL numbers have 9, BE landlines 8 and BE mobiles 9.
_NATIONAL_LENGTHS: Final = {"31": (9,), "32": (8, 9)}
_E164_MIN, _E164_MAX = 7, 15


def normalise_phone(value: object, *, default_country: str = "NL") -> str:
    """Return a phone number in E.164 (``+31612345678``).

    Accepts ``+31 6 1234 5678``, ``0031 6-12345678``, ``+31 (0)6 12345678`` and national
    forms (``06 12345678``) read as numbers of ``default_country`` (``"NL"`` or ``"BE"``).
    Dutch (+31) and Belgian (+32) numbers are checked for their length; other country
    codes are accepted as 7 to 15 digits.

    Raises:
        ValidationError: not a phone number in one of those forms; the message never
            repeats the value.

    .. versionadded:: 0.1.0
    """
    if not isinstance(default_country, str) or default_country not in _COUNTRY_CODES:
        msg = f"default_country must be one of {sorted(_COUNTRY_CODES)}"
        raise ValidationError(msg)
    text = _text(value, "a phone number").replace("(0)", "")
    text = _PHONE_NOISE.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("0"):
        digits = _COUNTRY_CODES[default_country] + text[1:]
    else:
        msg = (
            "a phone number must start with '+', '00' or a national '0' "
            f"(read as {default_country}), e.g. '+31 6 12345678'"
        )
        raise ValidationError(msg)
    if not (digits.isascii() and digits.isdigit()):
        msg = "a phone number may hold only digits, spaces, '+', '-', '.', '/' and parentheses"
        raise ValidationError(msg)
    cc = digits[:2]
    lengths = _NATIONAL_LENGTHS.get(cc)
    if lengths is not None:
        national = digits[2:]
        if national.startswith("0") and len(national) - 1 in lengths:
            national = national[1:]  # "+31 06 ..." written with the trunk zero
        if len(national) not in lengths or national.startswith("0"):
            msg = (
                f"a +{cc} phone number has {' or '.join(map(str, lengths))} digits after "
                f"the country code; this one has {len(national)}"
            )
            raise ValidationError(msg)
        return f"+{cc}{national}"
    if not _E164_MIN <= len(digits) <= _E164_MAX:
        msg = f"an E.164 phone number has {_E164_MIN} to {_E164_MAX} digits after '+'"
        raise ValidationError(msg)
    return "+" + digits


def normalise(value: object, kind: ValueKind | str, *, default_country: str = "NL") -> str:
    """Normalise ``value`` as its ``kind`` says (see :class:`ValueKind`).

    .. versionadded:: 0.1.0
    """
    kind = _kind(kind)
    if kind is ValueKind.EMAIL:
        return normalise_email(value)
    if kind is ValueKind.PHONE:
        return normalise_phone(value, default_country=default_country)
    return _normalise_text(value)


def _kind(kind: object) -> ValueKind:
    try:
        return ValueKind(str(kind)) if isinstance(kind, str) else ValueKind(repr(kind))
    except ValueError:
        msg = f"the value kind is unknown; use one of {[k.value for k in ValueKind]}"
        raise ValidationError(msg) from None


def _domain(domain: object) -> str:
    return _validators.key(domain, "pseudonym domain")


def _normaliser(kind: ValueKind, default_country: str) -> Callable[[object], str]:
    if kind is ValueKind.EMAIL:
        return normalise_email
    if kind is ValueKind.PHONE:
        return lambda value: normalise_phone(value, default_country=default_country)
    return _normalise_text


def _bulk_ascii(chunk: list[Any], kind: ValueKind) -> list[str] | None:
    """The normalised values of an all-ASCII batch of text or e-mail values, or None.

    The checks run over the whole batch in a few C-level passes and accept exactly what the
    per-value normalisers accept; None (not a string, not ASCII, too long, or refused) sends
    the batch to the per-value path, which says what is wrong and where.
    """
    try:
        joined = "".join(chunk)
    except TypeError:
        return None
    if not chunk or not joined.isascii() or max(map(len, chunk)) > _MAX_VALUE:
        return None
    stripped = list(map(str.strip, chunk))
    if kind is ValueKind.TEXT:
        return stripped if all(stripped) else None
    lowered = list(map(str.lower, stripped))
    joined = " ".join(lowered)
    if (
        joined.encode("ascii").translate(None, _EMAIL_BODY) != b"@ " * (len(chunk) - 1) + b"@"
        or joined[0] == "@"
        or joined[-1] == "@"
        or " @" in joined
        or "@ " in joined
    ):
        return None
    return lowered


def _split(text: object, version: str, what: str, form: str) -> list[str]:
    """Split ``version.<key id>.<rest of form>`` into the key id and the rest."""
    if not isinstance(text, str):
        msg = f"{what} must be a string, got {type(text).__name__}"
        raise ValidationError(msg)
    parts = text.split(".")
    if (
        len(parts) != form.count(".") + 3
        or parts[0] != version
        or not KEY_ID_PATTERN.match(parts[1])
    ):
        msg = f"this is not an avgkit {what}: expected '{version}.<key id>.{form}'"
        raise ValidationError(msg)
    return parts[1:]


_EMAIL: Final = ValueKind.EMAIL
_TEXT: Final = ValueKind.TEXT
_Plan = tuple[Callable[[], Any], Callable[[], Any], str, Callable[[object], str], ValueKind]
"""Copiers of the primed inner and outer HMAC states, the head, the normaliser, the kind."""


def _normalise_each(chunk: list[Any], norm: Callable[[object], str], start: int) -> list[str]:
    """Normalise one value at a time; a refusal names the value's position in the batch."""
    out: list[str] = []
    for position, value in enumerate(chunk, start):
        try:
            out.append(norm(value))
        except ValidationError as exc:
            msg = f"value {position} (counting from 0): {exc}"
            raise ValidationError(msg) from None
    return out


class Pseudonymiser:
    r"""Makes keyed pseudonyms: HMAC-SHA-256 under the ring's current key, with a domain.

    The same value, domain and kind always give the same pseudonym under one key, so
    pseudonymised extracts can still be joined; a different domain (``"audience_analysis"``
    vs ``"crm_export"``) gives an unrelated one, so extracts for different purposes cannot be
    linked. Without the key a pseudonym cannot be reversed or recomputed from a guess, unlike
    a plain hash of an e-mail address.

    The text form is ``ps1.<key id>.<domain tag>.<digest>``: the digest is 128 bits of the
    MAC (32 hex digits); the domain tag (8 hex digits) is the first 4 bytes of
    HMAC-SHA-256(key, ``b"avgkit.ps-domain\0" + domain + b"\0" + kind + b"\0"``). The tag
    is the same for every pseudonym of one key, domain and kind and says nothing about the
    value; it lets :meth:`made_here` tell, without the value, whether a pseudonym was made
    for this domain and kind under the current key (the record anonymiser relies on it).
    Changing the text form, or the keyed input, is a breaking change checked by the
    known-answer vectors.

    Args:
        ring: the pseudonym keys; the newest makes new pseudonyms.
        default_country: how national phone numbers are read (``"NL"`` or ``"BE"``).

    .. versionadded:: 0.1.0
    """

    def __init__(self, ring: KeyRing[PseudonymKey], *, default_country: str = "NL") -> None:
        if not isinstance(ring, KeyRing) or not isinstance(ring.current, PseudonymKey):
            msg = "Pseudonymiser needs a KeyRing of PseudonymKey values"
            raise ValidationError(msg)
        normalise_phone("+31612345678", default_country=default_country)  # checks the country
        self._states: dict[tuple[str, bytes], tuple[Any, Any, str]] = {}
        self._plans: dict[tuple[object, object], _Plan] = {}
        self._ring = ring
        self.default_country = default_country

    @property
    def ring(self) -> KeyRing[PseudonymKey]:
        """The pseudonym keys; the newest makes new pseudonyms."""
        return self._ring

    @ring.setter
    def ring(self, ring: KeyRing[PseudonymKey]) -> None:
        if not isinstance(ring, KeyRing) or not isinstance(ring.current, PseudonymKey):
            msg = "Pseudonymiser needs a KeyRing of PseudonymKey values"
            raise ValidationError(msg)
        self._ring = ring
        self._plans.clear()  # the plans hold the current key's HMAC states

    def __repr__(self) -> str:
        return f"Pseudonymiser({self.ring!r})"

    def _prefix(self, domain: object, kind: ValueKind) -> bytes:
        return _PS_DOMAIN + _domain(domain).encode() + b"\x00" + kind.encode() + b"\x00"

    def _hmac_states(self, key: PseudonymKey, prefix: bytes) -> tuple[Any, Any, str]:
        """SHA-256 states after the inner pad plus ``prefix`` and the outer pad, and the head.

        The head is the text every pseudonym for ``prefix`` under ``key`` starts with (all
        but the digest).

        HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) (RFC 2104); keys are at most one
        block (64 bytes), so they are padded, never hashed. Copying these states per value
        computes exactly HMAC-SHA-256 while skipping the key set-up ``hmac.digest`` repeats
        on every call, which is most of the cost for short values such as e-mail addresses.
        """
        found = self._states.get((key.id, prefix))
        if found is None:
            block = key.material.ljust(_SHA256_BLOCK, b"\x00")
            inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
            inner.update(prefix)
            outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
            tag = hmac.digest(key.material, _PS_TAG + prefix[len(_PS_DOMAIN) :], "sha256")
            head = f"{PSEUDONYM_VERSION}.{key.id}.{tag[:_TAG_BYTES].hex()}."
            if len(self._states) >= _CACHE_LIMIT:
                self._states.clear()
            found = self._states[key.id, prefix] = (inner, outer, head)
        return found

    def _make(self, key: PseudonymKey, prefix: bytes, normalised: str) -> str:
        inner, outer, head = self._hmac_states(key, prefix)
        i = inner.copy()
        i.update(normalised.encode())
        o = outer.copy()
        o.update(i.digest())
        digest: bytes = o.digest()
        return head + digest[:_DIGEST_BYTES].hex()

    def _plan(self, domain: object, kind: object) -> _Plan:
        """What a pseudonym for ``domain`` and ``kind`` under the current key needs.

        Cached per (domain, kind) as given, only once both are known to be valid; the ring
        setter empties the cache, so a plan always holds the current key's states.
        """
        checked = _kind(kind)
        inner, outer, head = self._hmac_states(self._ring.current, self._prefix(domain, checked))
        plan = (inner.copy, outer.copy, head, _normaliser(checked, self.default_country), checked)
        try:
            if len(self._plans) >= _CACHE_LIMIT:
                self._plans.clear()
            self._plans[domain, kind] = plan
        except TypeError:  # an unhashable but valid kind (a str subclass): just not cached
            pass
        return plan

    def pseudonym(self, value: str, *, domain: str, kind: ValueKind | str = "text") -> str:
        """Return the pseudonym of ``value`` for ``domain`` under the current key.

        Args:
            value: the personal data (normalised first, per ``kind``).
            domain: what the pseudonym is for, a snake-case key such as the purpose
                (``"audience_analysis"``).
            kind: ``"text"``, ``"email"`` or ``"phone"`` (see :class:`ValueKind`).

        Raises:
            ValidationError: the value, domain or kind is malformed.
        """
        # The hot path of every record the anonymiser writes: one cached plan, no further
        # lookups, the HMAC from the primed states.
        try:
            inner_copy, outer_copy, head, norm, checked = self._plans[domain, kind]
        except (KeyError, TypeError):
            inner_copy, outer_copy, head, norm, checked = self._plan(domain, kind)
        data = None
        # Plain ASCII text and e-mail addresses are normalised and checked inline, by the
        # same rules as normalise_email and _text (a function call is a sizeable part of
        # the cost); anything else, refusals included, goes through the normaliser.
        if type(value) is str and len(value) <= _MAX_VALUE:
            if checked is _EMAIL:
                data = value.strip().lower().encode()
                if data.translate(None, _EMAIL_BODY) != b"@" or data[0] == _AT or data[-1] == _AT:
                    data = None
            elif checked is _TEXT and value.isascii():
                data = value.strip().encode() or None
        if data is None:
            data = norm(value).encode()
        i = inner_copy()
        i.update(data)
        o = outer_copy()
        o.update(i.digest())
        return head + o.hexdigest()[:_DIGEST_HEX]  # type: ignore[no-any-return]

    def pseudonymise_many(
        self, values: Iterable[str], *, domain: str, kind: ValueKind | str = "text"
    ) -> list[str]:
        """Pseudonymise many values at once: :meth:`pseudonym` without per-call overhead.

        Raises:
            ValidationError: a value is malformed (the message gives its position).
        """
        try:
            inner_copy, outer_copy, head, norm, checked = self._plans[domain, kind]
        except (KeyError, TypeError):
            inner_copy, outer_copy, head, norm, checked = self._plan(domain, kind)
        out: list[str] = []
        append = out.append
        source = iter(values)
        start = 0
        while chunk := list(islice(source, _CHUNK)):
            normalised = None if checked is ValueKind.PHONE else _bulk_ascii(chunk, checked)
            if normalised is None:
                normalised = _normalise_each(chunk, norm, start)
            for text in normalised:
                i = inner_copy()
                i.update(text.encode())
                o = outer_copy()
                o.update(i.digest())
                append(head + o.hexdigest()[:_DIGEST_HEX])
            start += len(chunk)
        return out

    def parse(self, pseudonym: str) -> tuple[str, str, str]:
        """Split a pseudonym into its key id, domain tag and digest.

        Raises:
            ValidationError: not in the ``ps1.<key id>.<domain tag>.<digest>`` form.
            IntegrityError: the form is right but the tag is not 8 or the digest not 32 hex
                digits (altered).
        """
        key_id, tag, digest = _split(
            pseudonym, PSEUDONYM_VERSION, "pseudonym", "<domain tag>.<digest>"
        )
        if len(tag) != _TAG_HEX or len(digest) != _DIGEST_HEX or (tag + digest).strip(_HEX):
            msg = (
                f"pseudonym under key {key_id!r} is damaged: it needs a domain tag of "
                f"{_TAG_HEX} and a digest of {_DIGEST_HEX} lower-case hex digits"
            )
            raise IntegrityError(msg)
        return key_id, tag, digest

    def is_pseudonym(self, text: object) -> bool:
        """Whether ``text`` is a well-formed pseudonym under a key of this ring."""
        try:
            key_id, _, _ = self.parse(text)  # type: ignore[arg-type]
        except (ValidationError, IntegrityError):
            return False
        return key_id in self.ring

    def made_here(self, text: object, *, domain: str, kind: ValueKind | str = "text") -> bool:
        """Whether ``text`` is a pseudonym for ``domain`` and ``kind`` under the current key.

        Checked without the value, by the key id and the keyed domain tag: a pseudonym made
        for another domain or kind, under an older key or by another installation is not.
        (Without the value the digest itself cannot be checked; use :meth:`verify` for that.)

        Raises:
            ValidationError: the domain or kind is malformed.
        """
        _, _, head = self._hmac_states(self.ring.current, self._prefix(domain, _kind(kind)))
        if not isinstance(text, str) or not text.startswith(head):
            return False
        try:
            self.parse(text)
        except (ValidationError, IntegrityError):
            return False
        return True

    def matches(
        self, value: str, pseudonym: str, *, domain: str, kind: ValueKind | str = "text"
    ) -> bool:
        """Whether ``pseudonym`` is ``value``'s pseudonym for ``domain``, under any ring key.

        Raises:
            ValidationError: the pseudonym is not in the text form, or the value is bad.
            IntegrityError: the pseudonym's digest is damaged.
            NotFound: the pseudonym names a key this ring does not hold.
        """
        key_id, _, _ = self.parse(pseudonym)
        key = self.ring.get(key_id)
        kind = _kind(kind)
        norm = _normaliser(kind, self.default_country)(value)
        expected = self._make(key, self._prefix(domain, kind), norm)
        return hmac.compare_digest(expected, pseudonym)

    def verify(
        self, value: str, pseudonym: str, *, domain: str, kind: ValueKind | str = "text"
    ) -> None:
        """Raise :class:`~avgkit.errors.IntegrityError` unless :meth:`matches` holds."""
        if not self.matches(value, pseudonym, domain=domain, kind=kind):
            key_id, _, _ = self.parse(pseudonym)
            msg = (
                f"the pseudonym under key {key_id!r} is not the given value's pseudonym for "
                f"domain {domain!r}: it was altered, or belongs to another value or domain"
            )
            raise IntegrityError(msg)

    def is_current(self, pseudonym: str) -> bool:
        """Whether ``pseudonym`` was made under the newest key (no re-pseudonymising due)."""
        return self.parse(pseudonym)[0] == self.ring.current.id

    def repseudonymise(
        self, pseudonym: str, value: str, *, domain: str, kind: ValueKind | str = "text"
    ) -> str:
        """Move a pseudonym made under an older key to the current key.

        A keyed hash cannot be translated without its input, so the value is needed; it is
        checked against the old pseudonym first, so a mix-up cannot rewrite a join key.

        Raises:
            IntegrityError: ``pseudonym`` is not ``value``'s pseudonym for ``domain``.
            NotFound: the old key is not in the ring.
        """
        self.verify(value, pseudonym, domain=domain, kind=kind)
        return self.pseudonym(value, domain=domain, kind=kind)


class Tokeniser:
    """Reversible, deterministic tokens: AES-SIV under the ring's current key.

    For hosts that must look a value up again (a CRM export they re-import): the same value
    and domain give the same token, and :meth:`detokenise` gives the (normalised) value
    back. The domain and kind are authenticated associated data, so a token made for one
    domain does not open under another. Text form: ``tk1.<key id>.<base64url>``.

    Args:
        ring: the token keys; the newest makes new tokens.
        default_country: how national phone numbers are read.

    .. versionadded:: 0.1.0
    """

    def __init__(self, ring: KeyRing[TokenKey], *, default_country: str = "NL") -> None:
        if not isinstance(ring, KeyRing) or not isinstance(ring.current, TokenKey):
            msg = "Tokeniser needs a KeyRing of TokenKey values"
            raise ValidationError(msg)
        normalise_phone("+31612345678", default_country=default_country)
        self.ring = ring
        self.default_country = default_country
        self._ciphers: dict[str, AESSIV] = {}

    def __repr__(self) -> str:
        return f"Tokeniser({self.ring!r})"

    def _cipher(self, key: TokenKey) -> AESSIV:
        cipher = self._ciphers.get(key.id)
        if cipher is None:
            cipher = self._ciphers[key.id] = AESSIV(key.material)
        return cipher

    @staticmethod
    def _aad(domain: str, kind: ValueKind) -> list[bytes]:
        return [_TK_DOMAIN, _domain(domain).encode(), kind.encode()]

    def token(self, value: str, *, domain: str, kind: ValueKind | str = "text") -> str:
        """Return the token of ``value`` for ``domain`` under the current key.

        Raises:
            ValidationError: the value, domain or kind is malformed.
        """
        kind = _kind(kind)
        norm = _normaliser(kind, self.default_country)(value)
        key = self.ring.current
        sealed = self._cipher(key).encrypt(norm.encode(), self._aad(domain, kind))
        text = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")
        return f"{TOKEN_VERSION}.{key.id}.{text}"

    def detokenise(self, token: str, *, domain: str, kind: ValueKind | str = "text") -> str:
        """Return the normalised value a token stands for.

        Raises:
            ValidationError: not in the ``tk1.<key id>.<base64url>`` form.
            NotFound: the token names a key this ring does not hold.
            IntegrityError: the token was altered, or was made for another domain or kind.
        """
        key_id, body = _split(token, TOKEN_VERSION, "token", "<base64url>")
        key = self.ring.get(key_id)
        aad = self._aad(domain, _kind(kind))
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = self._cipher(key).decrypt(sealed, aad)
            return plain.decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError):
            msg = (
                f"the token under key {key_id!r} does not open for domain {domain!r}: it was "
                "altered, or was made for another domain or kind"
            )
            raise IntegrityError(msg) from None

    def retokenise(self, token: str, *, domain: str, kind: ValueKind | str = "text") -> str:
        """Move a token made under an older key to the current key (no value needed)."""
        return self.token(
            self.detokenise(token, domain=domain, kind=kind), domain=domain, kind=kind
        )
