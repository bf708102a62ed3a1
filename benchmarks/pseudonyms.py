"""Keyed pseudonyms of e-mail addresses: avgkit against hmac.digest and presidio's hash.

Run: ``.venv/bin/python benchmarks/pseudonyms.py`` (200,000 addresses; ``--values 2000`` for a
smoke run). Everything is measured in the same run on the same values: after a warm-up the
sides take turns, round by round, for ``--repeat`` rounds; each figure is the best round (the
median is printed too). It prints throughput and the ratios

* avgkit ``pseudonymise_many`` / ``hmac.digest`` (the target is at least 0.7: avgkit also
  normalises every address, adds the domain and formats the
  ``ps1.<key id>.<domain tag>.<digest>`` text);
* avgkit / presidio-anonymizer's ``hash`` operator (salted SHA-256, not a keyed MAC): in bulk
  at least 1.0, one call at a time at least 0.9.

presidio-anonymizer is not an avgkit dependency; install it for this comparison only::

    .venv/bin/pip install presidio-anonymizer

Without it that comparison is skipped with a message.
"""

from __future__ import annotations

import argparse
import hmac
import random
import statistics
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


def take_turns(repeat: int, sides: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Wall times of each side, one warm-up run each, then ``repeat`` rounds taking turns.

    Taking turns spreads a busy machine's slow moments over every side alike.
    """
    for work in sides.values():
        work()
    spent: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(max(1, repeat)):
        for name, work in sides.items():
            start = time.perf_counter()
            work()
            spent[name].append(time.perf_counter() - start)
    return spent


def presidio_hash() -> Callable[[str], str] | None:
    """presidio-anonymizer's hash operator with a fixed salt, or None when not installed."""
    try:
        from presidio_anonymizer.operators import Hash  # noqa: PLC0415
    except ImportError:
        return None
    operator = Hash()
    params = {"hash_type": "sha256", "salt": b"avgkit-benchmark-salt-32-bytes!!"}
    return lambda value: operator.operate(value, params)


def rounds_of(count: int, repeat: int) -> dict[str, list[float]]:
    """Seconds of every round of each side over ``count`` addresses (``presidio`` if installed)."""
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

    if avgkit_many() != avgkit_each():
        msg = "pseudonymise_many and pseudonym() give different pseudonyms"
        raise Disagreement(msg)
    sides: dict[str, Callable[[], object]] = {
        "hmac": baseline,
        "many": avgkit_many,
        "each": avgkit_each,
    }
    operate = presidio_hash()
    if operate is not None:
        sides["presidio"] = lambda: [operate(value) for value in values]
    return take_turns(repeat, sides)


def timings(count: int, repeat: int) -> dict[str, float]:
    """Best seconds of each side over ``count`` addresses (``presidio`` only if installed)."""
    return {name: min(spent) for name, spent in rounds_of(count, repeat).items()}


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
            "none",
            size,
            "addresses",
            speed["many"],
            speed["hmac"],
            ratio_at_least(TARGET),
        ),
        compare(
            "pseudonyms",
            "keyed pseudonym per call vs hmac.digest",
            "none",
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
                "none",
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
                backend="none",
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
    spent = rounds_of(n, args.repeat)
    best = {name: min(times) for name, times in spent.items()}
    print(f"{n:,} e-mail addresses, {args.repeat} rounds taking turns; best (median)")
    labels = {
        "hmac": "hmac.digest (raw values)",
        "many": "avgkit pseudonymise_many",
        "each": "avgkit pseudonym() per call",
        "presidio": "presidio hash operator (sha256)",
    }
    for name, label in labels.items():
        if name in spent:
            median = statistics.median(spent[name])
            print(f"  {label:<34}{n / best[name]:>12,.0f} /s  ({n / median:,.0f} /s)")
    t_base, t_many, t_each = best["hmac"], best["many"], best["each"]
    ratio = t_base / t_many
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"ratio avgkit batch / hmac.digest:   {ratio:.2f}  ({verdict} the {TARGET} target)")
    print(f"ratio avgkit per call / hmac.digest: {t_base / t_each:.2f}")

    if "presidio" not in best:
        print(
            f"presidio comparison skipped: presidio-anonymizer is not installed ({HOW_TO_PRESIDIO})"
        )
        return 0
    t_presidio = best["presidio"]
    for what, spent_side, goal in (
        ("batch", t_many, PRESIDIO_TARGET),
        ("per call", t_each, PRESIDIO_SINGLE_TARGET),
    ):
        ratio = t_presidio / spent_side
        verdict = "meets" if ratio >= goal else "MISSES"
        label = f"ratio avgkit {what} / presidio hash:"
        print(f"{label} {ratio:.2f}  ({verdict} the {goal} target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
