"""How the report prints numbers: one set of formatters for the sentences (wording, map findings)
and the template (as Jinja filters). A None or NaN prints as MISSING, never as "None" or "nan"."""
from __future__ import annotations

from experiments.stats import is_number

MISSING = "not recorded"


def pts(x, digits: int = 1) -> str:
    """A fraction as signed percentage points ("+1.2")."""
    return f"{100 * x:+.{digits}f}" if is_number(x) else MISSING


def pct(x, digits: int = 0) -> str:
    """A fraction as a percentage ("93.7%")."""
    return f"{100 * x:.{digits}f}%" if is_number(x) else MISSING


def pp(x, digits: int = 1) -> str:
    """A fraction as a bare percentage number ("93.7"), for table cells under a % heading."""
    return f"{100 * x:.{digits}f}" if is_number(x) else MISSING


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 seed', '3 seeds' (`many` where the plural is not word + s)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def dec(x, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if is_number(x) else MISSING


def num(x) -> str:
    """An integer with thousands separators ("45,000")."""
    return f"{x:,}" if is_number(x) else MISSING


def span(v: dict, fmt) -> str:
    """A verdict's 95% interval, "low to high", each end printed by fmt."""
    return f"{fmt(v['low'])} to {fmt(v['high'])}"


def sci(x) -> str:
    return f"{x:.1e}" if is_number(x) else MISSING


def mega(x) -> str:
    return f"{x / 1e6:.2f} M" if is_number(x) else MISSING


TTA_WORDS = {"flip": "flip", "flip-translate": "flip and 1-pixel translation"}


def tta(mode) -> str:
    """A test-time augmentation as the report names it."""
    return TTA_WORDS.get(mode, MISSING)


# the template's filters: {{ acc | pct(1) }}; pct's default there is one decimal
FILTERS = {"pct": lambda x, d=1: pct(x, d), "pts": pts, "pp": pp, "dec": dec, "num": num, "sci": sci, "mega": mega, "tta": tta}
