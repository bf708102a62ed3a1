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
from pathlib import Path
from typing import Any

from avgkit.pseudonym import KeyRing, Pseudonymiser, PseudonymKey

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Disagreement, Row, compare, rate, ratio_at_least

TARGET = 0.7
PRESIDIO_TARGET = 1.0
"""In bulk at least as fast as presidio's (unkeyed) hash operator."""
PRESIDIO_SINGLE_TARGET = 0.9
"""One call at a time at least 0.9 times presidio's hash operator."""
HOW_TO_PRESIDIO = ".venv/bin/pip install presidio-anonymizer"


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


def timings(count: int, repeat: int) -> dict[str, float]:
    """Best seconds of each side over ``count`` addresses (``presidio`` only if installed)."""
    values = make_values(count)
    key = PseudonymKey.generate()
    pseudonymiser = Pseudonymiser(KeyRing([key]))
    material = key.material

    def baseline() -> list[bytes]:
        digest = hmac.digest
        return [digest(material, value.encode(), "sha256") for value in values]

    def avgkit_many() -> list[str]:
        return pseudonymiser.pseudonymise_many(values, domain="audience_analysis", kind="email")

    def avgkit_each() -> list[str]:
        make = pseudonymiser.pseudonym
        return [make(value, domain="audience_analysis", kind="email") for value in values]

    if avgkit_many()[:50] != avgkit_each()[:50]:
        msg = "pseudonymise_many and pseudonym() give different pseudonyms"
        raise Disagreement(msg)
    found = {
        "hmac": best_of(repeat, baseline),
        "many": best_of(repeat, avgkit_many),
        "each": best_of(repeat, avgkit_each),
    }
    operate = presidio_hash()
    if operate is not None:
        found["presidio"] = best_of(repeat, lambda: [operate(value) for value in values])
    return found


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's rows: ``size`` addresses against hmac.digest and presidio's hash."""
    del postgres
    found = timings(size, rounds or 5)
    speed = {name: rate(size / spent, "values") for name, spent in found.items()}
    rows = [
        compare(
            "pseudonyms",
            "keyed pseudonyms in bulk vs hmac.digest",
            "-",
            size,
            "addresses",
            speed["many"],
            speed["hmac"],
            ratio_at_least(TARGET),
        ),
        compare(
            "pseudonyms",
            "keyed pseudonym per call vs hmac.digest",
            "-",
            size,
            "addresses",
            speed["each"],
            speed["hmac"],
        ),
    ]
    for side, goal in (("many", PRESIDIO_TARGET), ("each", PRESIDIO_SINGLE_TARGET)):
        operation = "keyed pseudonyms in bulk" if side == "many" else "keyed pseudonym per call"
        operation += " vs presidio hash"
        if "presidio" in speed:
            row = compare(
                "pseudonyms",
                operation,
                "-",
                size,
                "addresses",
                speed[side],
                speed["presidio"],
                ratio_at_least(goal),
            )
        else:
            row = Row(
                benchmark="pseudonyms",
                operation=operation,
                backend="-",
                size=size,
                of="addresses",
                avgkit=speed[side],
                goal=ratio_at_least(goal),
                skipped=f"presidio-anonymizer is not installed ({HOW_TO_PRESIDIO})",
            )
        rows.append(row)
    print(f"{size:,} e-mail addresses measured", file=out or sys.stdout)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=200_000, help="how many addresses")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best counts")
    args = parser.parse_args(argv)

    n = args.values
    found = timings(n, args.repeat)
    t_base, t_many, t_each = found["hmac"], found["many"], found["each"]
    print(f"{n:,} e-mail addresses, best of {args.repeat} rounds")
    print(f"  hmac.digest (raw values)          {n / t_base:>12,.0f} /s")
    print(f"  avgkit pseudonymise_many          {n / t_many:>12,.0f} /s")
    print(f"  avgkit pseudonym() per call       {n / t_each:>12,.0f} /s")
    ratio = t_base / t_many
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"ratio avgkit batch / hmac.digest:   {ratio:.2f}  ({verdict} the {TARGET} target)")
    print(f"ratio avgkit per call / hmac.digest: {t_base / t_each:.2f}")

    if "presidio" not in found:
        print(
            f"presidio comparison skipped: presidio-anonymizer is not installed ({HOW_TO_PRESIDIO})"
        )
        return 0
    t_presidio = found["presidio"]
    print(f"  presidio hash operator (sha256)   {n / t_presidio:>12,.0f} /s")
    print(f"ratio avgkit batch / presidio hash: {t_presidio / t_many:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
