"""Pseudonymisation and anonymisation: keys, pseudonyms, tokens, generalisers, shredding.

Visitors' data is "on loan". What this module offers, from the weakest protection to the
strongest:

* **Keyed pseudonyms** (:class:`Pseudonymiser`): HMAC-SHA-256 under a secret key, with a
  domain per use (an e-mail pseudonym for ``"audience_analysis"`` differs from one for
  ``"crm_export"``) and per-kind normalisation (e-mail case, phone numbers to E.164). A
  plain hash of an e-mail address is reversed by hashing a list of addresses; a keyed one
  is not, as long as the key stays apart from the data.
* **Reversible tokens** (:class:`Tokeniser`): deterministic AES-SIV, for hosts that must look
  the value up again.
* **Generalisers**: birth date to year or age band, postcode to PC4, IP address to network,
  e-mail address to domain, amounts to bands.
* **The record anonymiser** (:class:`RecordAnonymiser`): the inventory's treatment of every
  field, in one call.
* **Crypto-shredding** (:meth:`Pseudonyms.seal`, :meth:`Pseudonyms.shred`): data sealed
  with a per-subject key becomes unreadable for good, in every backup too, once the key is
  shredded.
* **k-anonymity** (:func:`k_anonymity`): the smallest group in an analysis extract.
* **Passphrase sealing** (:func:`seal_file`, :func:`seal_bytes`, :func:`seal_stream` and
  their ``open_*`` twins): an export or a file handed to a third party, sealed with scrypt
  and AES-256-GCM under a passphrase agreed with the recipient.

Keys are objects avgkit makes (:meth:`PseudonymKey.generate`); there is no default key.
:class:`KeyRing` holds them oldest first: the newest makes values, the older ones verify,
and values can be moved to the newest (:meth:`Pseudonymiser.repseudonymise`). In a
:class:`~avgkit.Kit`, ``kit.pseudonyms`` (a :class:`Pseudonyms`) keeps keys in the store
set's :class:`~avgkit.storage.KeyStore`.

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   Passphrase sealing.
"""

from avgkit.errors import ShreddedKeyError
from avgkit.pseudonym._anonymise import KAnonymityReport, KGroup, RecordAnonymiser, k_anonymity
from avgkit.pseudonym._generalise import (
    AGE_BANDS,
    AMOUNT_BANDS,
    GENERALISERS,
    AgeBands,
    AmountBands,
    Generaliser,
    IpPrefix,
    birth_year,
    email_domain,
    postcode_area,
)
from avgkit.pseudonym._keys import (
    KeyEncryptionKey,
    KeyKind,
    KeyRing,
    PseudonymKey,
    StoredKey,
    SubjectKey,
    TokenKey,
)
from avgkit.pseudonym._options import PseudonymOptions
from avgkit.pseudonym._pseudo import (
    PSEUDONYM_VERSION,
    TOKEN_VERSION,
    Pseudonymiser,
    Tokeniser,
    ValueKind,
    normalise,
    normalise_email,
    normalise_phone,
)
from avgkit.pseudonym._sealing import (
    SEALED_VERSION,
    SealCost,
    is_sealed,
    open_bytes,
    open_file,
    open_stream,
    seal_bytes,
    seal_file,
    seal_stream,
)
from avgkit.pseudonym._service import SEAL_VERSION, Pseudonyms

__all__ = [
    "AGE_BANDS",
    "AMOUNT_BANDS",
    "GENERALISERS",
    "PSEUDONYM_VERSION",
    "SEALED_VERSION",
    "SEAL_VERSION",
    "TOKEN_VERSION",
    "AgeBands",
    "AmountBands",
    "Generaliser",
    "IpPrefix",
    "KAnonymityReport",
    "KGroup",
    "KeyEncryptionKey",
    "KeyKind",
    "KeyRing",
    "PseudonymKey",
    "PseudonymOptions",
    "Pseudonymiser",
    "Pseudonyms",
    "RecordAnonymiser",
    "SealCost",
    "ShreddedKeyError",
    "StoredKey",
    "SubjectKey",
    "TokenKey",
    "Tokeniser",
    "ValueKind",
    "birth_year",
    "email_domain",
    "is_sealed",
    "k_anonymity",
    "normalise",
    "normalise_email",
    "normalise_phone",
    "open_bytes",
    "open_file",
    "open_stream",
    "postcode_area",
    "seal_bytes",
    "seal_file",
    "seal_stream",
]
