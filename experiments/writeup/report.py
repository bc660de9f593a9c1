"""The report: a context built only from results files, one Jinja2 template, HTML + PDF.

`render(results, report_dir, settings)` reads the JSON/PNG files the stages wrote, renders
`templates/report.html.j2` (StrictUndefined: a missing value fails the build instead of
printing blank) and writes report.html and report.pdf atomically with WeasyPrint.
"""
from __future__ import annotations

import base64
import traceback
from pathlib import Path

from experiments.core import paths
from experiments.core.names import CELLS, FAMILIES, MAP_KINDS, stage_group
from experiments.engine.cache import code_digests, read_records
from experiments.engine.errors import UserError
from experiments.engine.io import atomic_write, read_json
from experiments.engine.paths import REPO, build_file
from experiments.engine.provenance import summarize as summarize_provenance
from experiments.stats import wilson_interval
from experiments.writeup.budget_wording import alternatives
from experiments.writeup.choices import validation_choices
from experiments.writeup.citations import CITATIONS, cite, number_citations
from experiments.writeup.figure_wording import lowest_confidence
from experiments.writeup.formats import FILTERS
from experiments.writeup.map_findings import measures_findings
from experiments.writeup.reflection import read_reflection, reflection_facts
from experiments.writeup.shown_figures import feature_map_note, filter_change_sentence, shown_maps_sentences
from experiments.writeup.summary import map_brief, order_item, summary_items
from experiments.writeup.wording import family_verdicts

TEMPLATES = REPO / "templates"
STUDENT_PLACEHOLDER = "[Student name — set report.student in cnn-report.toml or pass --student]"


# ---------------------------------------------------------------- reading results

class Results:
    """Typed access to the results folder; a missing file is a UserError naming it."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def json(self, rel: str):
        path = self.root / rel
        if not path.exists():
            raise UserError(f"report needs {path}, which no stage has written (run `invoke all`)")
        return read_json(path)

    def figure(self, rel: str) -> str:
        """The PNG as a data: URI, so report.html is one self-contained file that still shows its
        figures when it is sent or moved."""
        path = self.root / rel
        if not path.exists():
            raise UserError(f"report needs the figure {path}, which no stage has written (run `invoke all`)")
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")



def family_context(res: Results, family: str) -> dict:
    """One family's results, and the verdicts computed from them (experiments.writeup.wording.family_verdicts)."""
    final_dir, interp = paths.final(family), paths.interpret(family)
    features = res.json(f"{interp}/features.json")
    gabor = res.json(f"{interp}/gabor.json")
    context = {
        "name": family,
        "arch": res.json(f"{final_dir}/arch.json"),
        "search": res.json(paths.search(family) / "search.json"),
        "levers": res.json(paths.levers(family) / "levers.json"),
        "ablation": res.json(paths.summary(family) / "summary.json"),
        "curves_png": res.figure(paths.summary(family) / "curves.png"),
        "ladder_png": res.figure(paths.summary(family) / "ladder.png"),
        "final": res.json(f"{final_dir}/metrics.json"),
        "loss_png": res.figure(f"{final_dir}/loss.png"),
        "features": features,
        "layers": [{**layer, "maps_png": res.figure(f"{interp}/{layer['feature_maps']}"),
                    "filters_png": res.figure(f"{interp}/{layer['filters']}"), "maps_note": feature_map_note(layer),
                    "change_text": filter_change_sentence(layer)} for layer in features["layers"]],
        "gabor": gabor,
        "gabor_png": res.figure(f"{interp}/gabor.png"),
        "gabor_filters_png": res.figure(f"{interp}/filters_effective.png"),
        # the untrained control's figure (features stages before it did not draw one)
        "gabor_filters_init_png": res.figure(f"{interp}/{gabor['filters_init']}") if "filters_init" in gabor else None,
        "cam": res.json(f"{interp}/cam.json"),
        "cam_png": {g: res.figure(f"{interp}/cam_{g}.png") for g in ("correct", "incorrect")},
        "saliency": res.json(f"{interp}/saliency.json"),
        "saliency_png": {g: res.figure(f"{interp}/saliency_{g}.png") for g in ("correct", "incorrect")},
    }
    classes = res.json(paths.SELECTION).get("classes", [])
    context["shown_text"] = {kind: shown_maps_sentences(context[kind], classes) for kind in ("cam", "saliency")}
    return {**context, "verdicts": family_verdicts(context)}


def untrusted_maps_said(measures: dict, families: list[dict], classes: list[str]) -> dict:
    """The shown maps' sentences again for a method that did not pass its sanity check on a network."""
    for f in families:
        for kind in MAP_KINDS:
            if measures["findings"][kind]["families"][f["name"]]["sanity"]["word"] != "passes":
                f["shown_text"][kind] = shown_maps_sentences(f[kind], classes, trusted=False)
    return measures


def measures_context(res: Results) -> dict:
    """Problems 4-5 over many images: interpret/measures.json, its findings
    (experiments.writeup.map_findings.measures_findings) and the mean-map figures."""
    measures = res.json(paths.MEASURES)
    findings = measures_findings(measures)
    for found in findings.values():
        for r in found["families"].values():
            r["brief"] = map_brief(r, measures["centre_area"])
    return {**measures, "findings": findings,
            "mean_maps_png": {kind: res.figure(paths.INTERPRET / name) for kind, name in measures["mean_maps"].items()}}


def heldout_context(heldout: dict, families: list[dict], n_val: int) -> dict:
    """The finals on the held-out test split (numbers from test/test.json) and, beside them, their
    validation accuracy, each with its 95% Wilson interval."""
    rows = {}
    for f in families:
        val = {"accuracy": f["final"]["val_acc"], "n": n_val, "correct": round(f["final"]["val_acc"] * n_val)}
        test = heldout["finals"].get(f["name"])
        rows[f["name"]] = {"val": {**val, "interval": wilson_interval(val["correct"], n_val)},
                           "test": test and {**test, "interval": wilson_interval(test["correct"], test["n"])}}
    return {**heldout, "rows": rows}


def run_facts(res: Results, families: list[dict]) -> dict:
    """How the results were made, as the stages recorded it when they ran (not as this machine is
    now): commits, libraries, hardware, times."""
    build = read_json(build_file(res.root))
    records = read_records(res.root)
    # the report stage's own record is of the previous render: it made none of the results
    made = summarize_provenance({k: v for k, v in records.items() if k != "report"},
                                tuple(f"final-{f['name']}" for f in families))
    seconds = {name: rec["seconds"] for name, rec in records.items() if rec}
    trained = training_seconds(res, families)
    # a rebuild reuses finished training runs, so its wall time can be far below what the
    # results cost: the build's total counts each stage at the larger of the two
    total = sum(max(sec, trained.get(name, 0.0)) for name, sec in seconds.items())
    # the threads each final run used (older runs did not record it: the stage's)
    ran = [str(f["final"]["threads"]) for f in families if f["final"].get("threads")]
    threads = list(dict.fromkeys(ran)) if len(ran) == len(families) else made["threads"]
    return {"profile": build["profile"], **made, "threads": threads,
            "stage_seconds": seconds, "training_seconds": trained, "total_minutes": total / 60}


def planned_changes(plan: dict) -> list[str]:
    """What a budget's plan changed of the profile ('final.epochs = 8', the search's candidates by name only)."""
    base, planned = plan["base_profile"], plan["profile"]
    return [f"{section}.{key}" + ("" if key in ("candidates", "overrides") else f" = {value!r}")
            for section, values in planned.items() if isinstance(values, dict)
            for key, value in values.items() if base.get(section, {}).get(key) != value]


def training_seconds(res: Results, families: list[dict]) -> dict[str, float]:
    """Training wall time behind each training stage's results, as its runs recorded it."""
    out = {}
    for f in families:
        # a candidate the probe left untrained has no seconds
        out[f"search-{f['name']}"] = sum(c["seconds"] or 0.0 for c in f["search"]["candidates"])
        for cell in CELLS:
            out[f"ablation-{f['name']}-{cell}"] = res.json(paths.cell(f["name"], cell) / "cell.json")["seconds"]
        out[f"final-{f['name']}"] = f["final"]["seconds"]
        full = res.json(paths.full_rung(f["name"]) / "full.json")  # its best cell's first run is the final's
        out[f"ablation-{f['name']}-full"] = sum(r["seconds"] for r in full["cells"].values()) - f["final"]["seconds"]
    return out


def lever_step(steps: list[dict]) -> dict | None:
    """The plan's step that buys the lever study (by the kinds of stage it changes, not by its numeral)."""
    return next((s for s in steps if "levers" in s.get("kinds", ())), None)


def budget_context(res: Results) -> dict | None:
    """What a --budget build planned and bought (budget/plan.json), beside the minutes each part of
    the study measured (the stage records); None for a build without a budget."""
    plan_file = res.root / paths.BUDGET / "plan.json"
    if not plan_file.exists():
        return None
    plan = read_json(plan_file)
    speed_file = res.root / paths.BUDGET / "speed.json"
    measured = {name: rec.get("seconds") or 0.0 for name, rec in read_records(res.root).items()}
    # planned: the plan before its first stage (a replanned one prices each stage done at what it took,
    # so it would only repeat the measurement); None where a plan from before that record has none
    first = plan.get("first")
    groups: dict[str, dict] = {}
    for stage in plan["stage_seconds"]:
        group = groups.setdefault(stage_group(stage), {"planned": 0.0 if first else None, "measured": 0.0})
        if first:
            group["planned"] += first["stage_seconds"].get(stage, 0.0) / 60
        group["measured"] += measured.get(stage, 0.0) / 60
    return {"minutes": plan["budget_minutes"], "regime": plan["regime"], "rule": plan["regime_rule"],
            "changed": planned_changes(plan),
            "steps": plan["steps"], "lever_step": lever_step(plan["steps"]), "planned": first and first["total_minutes"], "changes": plan.get("changes"),
            "groups": [{"name": name, **g} for name, g in groups.items() if max(g["planned"] or 0, g["measured"]) >= 0.05],
            "measured": sum(measured.get(s, 0.0) for s in plan["stage_seconds"]) / 60,
            "gflops": 1 / plan["seconds_per_gflop"], "alternatives": alternatives(plan) if "other_order" in plan else [],
            "cpu_flags": read_json(speed_file).get("cpu_flags") if speed_file.exists() else None}


# ---------------------------------------------------------------- rendering

def build_context(results: Path, settings: dict) -> dict:
    res = Results(results)
    families = [family_context(res, f) for f in FAMILIES]
    audit = res.json(paths.AUDIT / "audit.json")
    selection = res.json(paths.SELECTION)
    heldout = res.json(paths.HELDOUT)
    context = {
        "settings": {**settings, "student": settings.get("student") or STUDENT_PLACEHOLDER,
                     "student_missing": not settings.get("student")},
        "facts": run_facts(res, families),
        "tester": res.json(paths.CONV / "tester.json"),
        "notebook": res.json(paths.CONV / "notebook.json"),
        "bench": res.json(paths.CONV / "bench.json"),
        "split": {k: v for k, v in res.json(paths.SPLIT).items() if not k.endswith("_idx")},
        "heldout": heldout_context(heldout, families, res.json(paths.SPLIT)["n_val"]),
        "budget": budget_context(res),
        "families": families,
        "n_shown": {group: sum(item["group"] == group for item in selection["items"])
                    for group in ("correct", "incorrect")},
        "lowest_correct_confidence": lowest_confidence(selection, "correct"),
        "measures": untrusted_maps_said(measures_context(res), families, selection.get("classes", [])),
        "audit": audit,
        "duplicates_png": res.figure(paths.AUDIT / "duplicates.png"),
        "reflection": reflection_facts(audit, families),
        "user_reflection": read_reflection(settings["reflection"]) if settings.get("reflection") else None,
        "citations": CITATIONS,
        "validation_chose": validation_choices(families),
        # inlined, like the figures: report.html must look the same wherever it is opened
        "css": (TEMPLATES / "report.css").read_text(),
    }
    return {**context, "summary": summary_items(context),
            "family_order": order_item(heldout.get("validation_pair"), families)["text"]}


def _environment():
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    env.filters.update(FILTERS)  # the same formatters as the sentences (experiments/writeup/formats.py)
    env.globals["cite"] = cite  # numbered in order of first citation after rendering
    return env


def render_html(results: Path, settings: dict) -> str:
    """The report as one self-contained HTML page (stylesheet and figures inlined)."""
    import jinja2

    context = build_context(Path(results), settings)
    try:
        return number_citations(_environment().get_template("report.html.j2").render(**context))
    except jinja2.UndefinedError as err:
        raise missing_value_error(err, Path(results)) from None


def missing_value_error(err: Exception, results: Path) -> UserError:
    """What a template's missing value means: results built by code that has changed since (their
    stage records say so), which a rebuild mends; or, where every stage is current, a bug in the
    report, named by its template line."""
    where = template_line(err)
    stale = stale_stages(results)
    if stale:
        return UserError(f"report template ({where}) uses a value the results do not have: {err}; the stages "
                         f"{', '.join(stale)} were built by older code: `invoke status` names the stages to "
                         "rebuild, `invoke all` rebuilds them")
    return UserError(f"report template ({where}) uses a value the results do not have: {err}; every stage's "
                     "results come from the code here, so this is a bug in cnn-report: please report it with "
                     "this line")


def template_line(err: Exception) -> str:
    """'templates/report.html.j2 line N' of the innermost template frame Jinja put in the traceback."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.endswith(".j2")]
    if not frames:
        return "line unknown"
    return f"templates/{Path(frames[-1].filename).name} line {frames[-1].lineno}"


def stale_stages(results: Path) -> list[str]:
    """Stages whose recorded code differs from the code in this checkout."""
    return [name for name, record in read_records(results).items()
            if (code := record.get("parts", {}).get("code")) and code_digests(tuple(code)) != code]


def render(results: Path, report_dir: Path, settings: dict) -> Path:
    """Render report.html and report.pdf into report_dir from the files under `results`; returns the
    PDF path."""
    from weasyprint import HTML

    html = render_html(results, settings)
    report_dir = Path(report_dir)
    atomic_write(report_dir / "report.html", lambda tmp: Path(tmp).write_text(html))
    pdf = report_dir / "report.pdf"
    atomic_write(pdf, lambda tmp: HTML(string=html, base_url=str(TEMPLATES)).write_pdf(tmp))
    return pdf
