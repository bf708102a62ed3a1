"""Keyed pseudonyms of e-mail addresses: avgkit against hmac.digest and presidio's hash.

Run: ``.venv/bin/python benchmarks/pseudonyms.py`` (200,000 addresses; ``--values 2000`` for a
smoke run). Everything is measured in the same run on the same values; each figure is the
best of ``--repeat`` rounds. It prints throughput and the ratios

* avgkit ``pseudonymise_many`` / ``hmac.digest`` (the target is at least 0.7: avgkit also
  normalises every address, adds the domain and formats the
  ``ps1.<key id>.<domain tag>.<digest>`` text);
* avgkit / presidio-anonymizer's ``hash`` operator (salted SHA-256, not a keyed MAC).

presidio-anonymizer is not an avgkit dependency; install it for this comparison only::

    .venv/bin/pip install presidio-anonymizer

Without it that comparison is skipped with a message.
"""

from __future__ import annotations

import argparse
import hmac
import random
import sys
import time
from collections.abc import Callable, Sequence

from avgkit.pseudonym import KeyRing, Pseudonymiser, PseudonymKey

TARGET = 0.7


def make_values(n: int, seed: int = 5) -> list[str]:
    """Synthetic, varied e-mail addresses (some upper case, some with surrounding spaces)."""
    rng = random.Random(seed)
    domains = ["example.nl", "Example.BE", "mail.example.org", "voorbeeld.nl", "test.example"]
    out = []
    for i in range(n):
        local = f"visitor.{i}.{rng.randrange(10**6):06d}"
        if i % 7 == 0:
            local = local.title()
        address = f"{local}@{rng.choice(domains)}"
        out.append(f" {address} " if i % 11 == 0 else address)
    return out


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """The shortest wall time of ``repeat`` runs of ``work``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def presidio_hash() -> Callable[[str], str] | None:
    """presidio-anonymizer's hash operator with a fixed salt, or None when not installed."""
    try:
        from presidio_anonymizer.operators import Hash  # noqa: PLC0415
    except ImportError:
        return None
    operator = Hash()
    params = {"hash_type": "sha256", "salt": b"avgkit-benchmark-salt-32-bytes!!"}
    return lambda value: operator.operate(value, params)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=200_000, help="how many addresses")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best counts")
    args = parser.parse_args(argv)

    values = make_values(args.values)
    key = PseudonymKey.generate()
    pseudonymiser = Pseudonymiser(KeyRing([key]))
    material = key.material
    n = len(values)

    def baseline() -> list[bytes]:
        digest = hmac.digest
        return [digest(material, value.encode(), "sha256") for value in values]

    def avgkit_many() -> list[str]:
        return pseudonymiser.pseudonymise_many(values, domain="audience_analysis", kind="email")

    def avgkit_each() -> list[str]:
        make = pseudonymiser.pseudonym
        return [make(value, domain="audience_analysis", kind="email") for value in values]

    t_base = best_of(args.repeat, baseline)
    t_many = best_of(args.repeat, avgkit_many)
    t_each = best_of(args.repeat, avgkit_each)
    print(f"{n:,} e-mail addresses, best of {args.repeat} rounds")
    print(f"  hmac.digest (raw values)          {n / t_base:>12,.0f} /s")
    print(f"  avgkit pseudonymise_many          {n / t_many:>12,.0f} /s")
    print(f"  avgkit pseudonym() per call       {n / t_each:>12,.0f} /s")
    ratio = t_base / t_many
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"ratio avgkit batch / hmac.digest:   {ratio:.2f}  ({verdict} the {TARGET} target)")
    print(f"ratio avgkit per call / hmac.digest: {t_base / t_each:.2f}")

    operate = presidio_hash()
    if operate is None:
        print(
            "presidio comparison skipped: presidio-anonymizer is not installed "
            "(.venv/bin/pip install presidio-anonymizer)"
        )
        return 0

    def presidio() -> list[str]:
        return [operate(value) for value in values]

    t_presidio = best_of(args.repeat, presidio)
    print(f"  presidio hash operator (sha256)   {n / t_presidio:>12,.0f} /s")
    print(f"ratio avgkit batch / presidio hash: {t_presidio / t_many:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
