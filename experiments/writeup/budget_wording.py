"""What a --budget plan bought and what it did not, in sentences: the finals' regime with the
accuracy recorded builds reached there, the next regime's price, and what the other order (seed
verdicts in the finals' regime before the finals' accuracy) would have bought. Words only: the plan (budget/plan.json)
holds every number."""
from __future__ import annotations


def regime_words(regime: dict) -> str:
    """'the s widths for 8 epochs'."""
    epochs = regime["epochs"]
    return f"the {regime['size']} widths for {epochs} epoch{'s' if epochs != 1 else ''}"


def expected_words(acc) -> str:
    """' (expected 91.7-92.2% validation, from recorded builds)', or nothing where none is recorded
    (budget.EXPECTED_ACCURACY: this project's builds, past them airbench's published curve)."""
    if not acc:
        return ""
    low, high = acc
    span = f"{low:g}%" if low == high else f"{low:g}-{high:g}%"
    return f" (expected {span} validation, from recorded builds)"


def steps_words(names: list[str]) -> str:
    return ", ".join(f"({n})" for n in names)


def alternatives(plan: dict) -> list[str]:
    """Sentences on the choices the plan made: the regime it bought, the next one's price, the other order."""
    out = [f"The finals and every ablation run train {regime_words(plan['regime'])}{expected_words(plan.get('expected_acc'))}."]
    nxt = plan.get("next_regime")
    if nxt:
        out.append(f"The next step up, {regime_words(nxt)}{expected_words(nxt.get('expected_acc'))}, would have "
                   f"needed about {nxt['more_minutes']:g} more minutes here.")
    other = plan.get("other_order")
    if other:
        out.append(f"Buying the verdicts in the finals' regime first, (ii)-(iv), would have trained {regime_words(other['regime'])}"
                   f"{expected_words(other.get('expected_acc'))} with steps {steps_words(other['bought'])}.")
    return out
