# noqa: INP001 - a script run by hand, not a package
"""Write avgkit's compact list of the DPV 2.3 personal-data terms from the published CSV.

Usage::

    python tools/dpv_terms.py [../shared/data/dpv-2.3/pd.csv]

Writes ``src/avgkit/data/dpv-pd-2.3.json`` (term, IRI, English label, the broader terms
within the extension and, for the terms DPV marks as special-category personal data, the
Art. 9(1) category avgkit names it by) and
refreshes the ``category`` enum of ``src/avgkit/schemas/inventory.schema.json`` to the same
terms, so editors that read the schema offer every term. ``tests/test_dpv.py`` checks both
files against the CSV; run this again when DPV publishes a new version.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "data" / "dpv-2.3" / "pd.csv"
OUTPUT = ROOT / "src" / "avgkit" / "data" / "dpv-pd-2.3.json"
SCHEMA = ROOT / "src" / "avgkit" / "schemas" / "inventory.schema.json"

PD = "https://w3id.org/dpv/pd#"
SPECIAL = "https://w3id.org/dpv#SpecialCategoryPersonalData"

# The Art. 9(1) category of the DPV terms that head a branch of special-category data; a
# special term below one of them (BloodType below MedicalHealth) belongs to the same category.
# DNACode sits below MedicalHealth in DPV but is genetic data as Art. 4(13) defines it.
ART9_ROOTS = {
    "MedicalHealth": "health",
    "Health": "health",
    "Genetic": "genetic_data",
    "DNACode": "genetic_data",
    "Biometric": "biometric_data",
    "EthnicOrigin": "racial_or_ethnic_origin",
    "Race": "racial_or_ethnic_origin",
    "PoliticalOpinion": "political_opinions",
    "PoliticalAffiliation": "political_opinions",
    "ReligiousBelief": "religious_or_philosophical_beliefs",
    "PhilosophicalBelief": "religious_or_philosophical_beliefs",
    "Religion": "religious_or_philosophical_beliefs",
    "TradeUnionMembership": "trade_union_membership",
    "Sexual": "sex_life_or_orientation",
}


def read_rows(path: Path) -> list[dict[str, str]]:
    """The CSV's rows, in its order."""
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def art9_category(term: str, rows: dict[str, dict[str, str]]) -> str | None:
    """The Art. 9(1) category of a term DPV marks special, found up its broader terms."""
    if SPECIAL not in rows[term]["dpvtype"].split(";"):
        return None
    seen: set[str] = set()
    pending = [term]
    while pending:
        current = pending.pop(0)
        if current in ART9_ROOTS:
            return ART9_ROOTS[current]
        seen.add(current)
        for broader in rows[current]["hasbroader"].split(";"):
            name = broader.removeprefix(PD)
            if broader.startswith(PD) and name in rows and name not in seen:
                pending.append(name)
    msg = f"{term} is special-category data under no known Art. 9 branch; extend ART9_ROOTS"
    raise SystemExit(msg)


def broader(term: str, rows: dict[str, dict[str, str]]) -> list[str]:
    """The term's broader terms within the personal-data extension, in the CSV's order."""
    found = [b.removeprefix(PD) for b in rows[term]["hasbroader"].split(";") if b.startswith(PD)]
    return [name for name in found if name in rows]


def terms(path: Path) -> list[list[object]]:
    """``[term, iri, English label, broader terms, Art. 9 category or None]`` per term."""
    rows = {row["term"]: row for row in read_rows(path) if row["vocab"] == "pd"}
    return [
        [
            term,
            rows[term]["iri"],
            rows[term]["label"],
            broader(term, rows),
            art9_category(term, rows),
        ]
        for term in sorted(rows)
    ]


def main(argv: list[str]) -> int:
    """Write the term list and the schema's enum; return the exit code."""
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_CSV
    listed = terms(source)
    document = {
        "source": "W3C Data Privacy Vocabulary 2.3, personal data extension (pd)",
        "columns": ["term", "iri", "label", "broader", "art9_category"],
        "terms": listed,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in listed)
    head = json.dumps({k: v for k, v in document.items() if k != "terms"}, ensure_ascii=False)
    OUTPUT.write_text(f'{head[:-1]}, "terms": [\n{lines}\n]}}\n', encoding="utf-8")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    schema["$defs"]["field"]["properties"]["category"]["enum"] = [row[0] for row in listed]
    SCHEMA.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(listed)} terms written to {OUTPUT.relative_to(ROOT)} and the schema")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
