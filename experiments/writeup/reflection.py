"""Problem 6's text: the user's own reflection (three parts), or the numbers of the data audit the
draft reflection argues from."""
from __future__ import annotations

import re
from pathlib import Path

from experiments.engine.errors import UserError
from experiments.writeup.choices import family_runs_verdict
from experiments.writeup.citations import CITATIONS
from experiments.writeup.verdicts import duplicates_verdict

DEFAULT_PARTS = ("Something technical about datasets", "A harm associated with data, and a remedy", "A question")


def read_reflection(path: str) -> list[dict]:
    """A user's Problem 6 text: plain text or markdown in three parts, either each starting with a
    `## ` heading (paragraphs under it separated by blank lines), or, without headings, exactly
    three paragraphs separated by blank lines. A leading `# ` title line is ignored."""
    lines = Path(path).read_text().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    preamble, *sections = re.split(r"^## ", "\n".join(lines), flags=re.M)
    if sections:
        if preamble.strip():
            raise UserError(f"{path}: text before the first '## ' heading; start each of the three parts with one")
        parts = [{"heading": heading.strip(), "paragraphs": _paragraphs(body)}
                 for heading, _, body in (section.partition("\n") for section in sections)]
        found = len(parts)
    else:
        paragraphs = _paragraphs(preamble)
        parts = [{"heading": h, "paragraphs": [p]} for h, p in zip(DEFAULT_PARTS, paragraphs)]
        found = len(paragraphs)
    if found != 3:
        raise UserError(f"{path}: expected three parts, each starting with a '## ' heading "
                        f"(or three paragraphs separated by blank lines); found {found}")
    return parts


def _paragraphs(text: str) -> list[str]:
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text) if block.strip()]


def reflection_facts(audit: dict, families: list[dict]) -> dict:
    """The audit's numbers the draft reflection argues from: near-duplicate rates, and how far
    each final validation accuracy could fall if every near-duplicated validation image had been
    answered right only because its twin was in the training set."""
    pairs = {d["pair"]: d for d in audit["duplicates"]}
    val = pairs["validation vs train"]
    rate = val["near_rate"]
    duplicates = duplicates_verdict(rate, {f["name"]: f["final"]["val_acc"] for f in families},
                                    family_runs_verdict(families))
    return {"val": val, "test": pairs.get("test vs train"), "within": pairs.get("within train"),
            "rate": rate, "worst_acc": duplicates["worst_acc"], "max_drop": duplicates["max_drop"],
            "duplicates": duplicates, "vs_cifair": rate / CITATIONS["cifair"]["rate"]}
