"""How the report prints numbers: one set of formatters for the sentences (wording, map findings)
and the template (as Jinja filters). A None or NaN prints as MISSING, never as "None" or "nan"."""
from __future__ import annotations

from experiments.core.names import CELLS
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
def pvalue(p) -> str:
    """A p-value, the same in a sentence and in a table ("0.0045")."""
    return f"{p:.2g}" if is_number(p) else MISSING


FILTERS = {"pct": lambda x, d=1: pct(x, d), "pts": pts, "pp": pp, "dec": dec, "num": num, "sci": sci, "mega": mega,
           "tta": tta, "pvalue": pvalue}


def runs_text(v: dict) -> str:
    """The training runs an effect rests on: "3 seeds" (paired) or "2 runs with it against 3 without"."""
    if v.get("unit") == "run":
        return f"{plural(v['n_on'], 'run')} with it against {v['n_off']} without"
    return plural(v["n"], "seed")


def rung_plan(rung: dict) -> str:
    """How many runs each cell has on a rung: "3 seeds", "bn and bn-dropout 3 seeds, the others 1",
    "bn only, 1 seed"."""
    counts = {c["cell"]: len(c.get("seeds", rung["seeds"])) for c in rung["cells"]}
    plural = lambda n: f"{n} seed{'s' if n != 1 else ''}"  # noqa: E731
    if len(counts) < len(CELLS):
        return f"{' and '.join(counts)} only, {plural(max(counts.values()))}"
    if len(set(counts.values())) == 1:
        return plural(next(iter(counts.values())))
    most = max(counts.values())
    return (f"{' and '.join(c for c, n in counts.items() if n == most)} {plural(most)}, "
            f"the others {min(counts.values())}")
