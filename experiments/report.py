"""The report: a context built only from results files, one Jinja2 template, HTML + PDF.

`render(results, report_dir, settings)` reads the JSON/PNG files the stages wrote, renders
`templates/report.html.j2` (StrictUndefined: a missing value fails the build instead of
printing blank) and writes report.html and report.pdf atomically with WeasyPrint.
"""
from __future__ import annotations

import base64
import hashlib
import re
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

from experiments.errors import UserError
from experiments.io import atomic_write, read_json
from experiments.map_findings import measures_findings
from experiments.provenance import summarize as summarize_provenance
from experiments.stages import CELLS, FAMILIES, STAGES
from experiments.verdicts import duplicates_verdict, is_number
from experiments.wording import MISSING, family_verdicts, lowest_confidence

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
CONFIG_FILE = "cnn-report.toml"
DEFAULT_SETTINGS = {
    "title": "Homework: Convolutional Neural Networks",
    "course": "Deep Learning",
    "instructor": "John Lipor",
    "student": None,
    "reflection": None,
}
STUDENT_PLACEHOLDER = "[Student name — set report.student in cnn-report.toml or pass --student]"
# Published figures the report quotes: not measured here, so each is printed with its citation
# and listed under References, the only numbers in the report that no stage wrote.
CITATIONS = {
    "cifair": {"ref": "Barz, B. & Denzler, J. (2020). Do We Train on Test Data? Purging CIFAR of Near-Duplicates. "
                      "Journal of Imaging 6(6), 41.",
               "rate": 0.033},  # CIFAR-10 test images with a near-duplicate in the training set
    "cifar101": {"ref": "Recht, B., Roelofs, R., Schmidt, L. & Shankar, V. (2018). Do CIFAR-10 Classifiers "
                        "Generalize to CIFAR-10? arXiv:1806.00451.",
                 "drop": "4 to 10 percentage points"},  # its abstract: "a large drop in accuracy (4% to 10%)"
    "imagenetv2": {"ref": "Recht, B., Roelofs, R., Schmidt, L. & Shankar, V. (2019). Do ImageNet Classifiers "
                          "Generalize to ImageNet? ICML 2019."},
    "ppa": {"ref": "Hardt, M. & Recht, B. (2022). Patterns, Predictions, and Actions: Foundations of Machine "
                   "Learning, Chapter 8 (Datasets). Princeton University Press; mlstory.org."},
}


# ---------------------------------------------------------------- settings

def load_settings(config_file: str | Path = CONFIG_FILE, **overrides) -> dict:
    """[report] table of cnn-report.toml (if present) with command-line overrides on top.
    The overrides actually given are kept under "command_line" (the build remembers them, so
    `invoke status` and `invoke report` need not repeat them)."""
    settings = dict(DEFAULT_SETTINGS)
    path = Path(config_file)
    if path.exists():
        try:
            table = tomllib.loads(path.read_text()).get("report", {})
        except tomllib.TOMLDecodeError as err:
            raise UserError(f"{path}: not valid TOML ({err})") from None
        unknown = set(table) - set(DEFAULT_SETTINGS)
        if unknown:
            raise UserError(f"{path}: unknown [report] key(s) {sorted(unknown)}; known: {sorted(DEFAULT_SETTINGS)}")
        settings.update(table)
    given = {k: v for k, v in overrides.items() if v}
    settings.update(given)
    settings["command_line"] = given
    if settings["reflection"] and not Path(settings["reflection"]).is_file():
        raise UserError(f"reflection file not found: {settings['reflection']}")
    return settings


def settings_digest(settings: dict) -> dict:
    """What of the settings the report depends on (a reflection file by its content)."""
    out = {k: v for k, v in settings.items() if k not in ("reflection", "command_line")}
    if settings.get("reflection"):
        out["reflection_sha"] = hashlib.sha256(Path(settings["reflection"]).read_bytes()).hexdigest()[:16]
    return out


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

    def record(self, stage: str) -> dict | None:
        """The pipeline's record of a stage's last successful run, None if it never ran."""
        path = self.root / ".pipeline" / f"{stage}.json"
        return read_json(path) if path.exists() else None


def family_context(res: Results, family: str) -> dict:
    """One family's results, and the verdicts computed from them (experiments.wording.family_verdicts)."""
    final_dir = f"final/{family}-final"
    interp = f"interpret/{family}"
    features = res.json(f"{interp}/features.json")
    context = {
        "name": family,
        "arch": res.json(f"{final_dir}/arch.json"),
        "search": res.json(f"search/{family}/search.json"),
        "levers": res.json(f"levers/{family}/levers.json"),
        "ablation": res.json(f"ablation/{family}-summary/summary.json"),
        "curves_png": res.figure(f"ablation/{family}-summary/curves.png"),
        "ladder_png": res.figure(f"ablation/{family}-summary/ladder.png"),
        "final": res.json(f"{final_dir}/metrics.json"),
        "loss_png": res.figure(f"{final_dir}/loss.png"),
        "features": features,
        "layers": [{**layer, "maps_png": res.figure(f"{interp}/{layer['feature_maps']}"),
                    "filters_png": res.figure(f"{interp}/{layer['filters']}")} for layer in features["layers"]],
        "gabor": res.json(f"{interp}/gabor.json"),
        "gabor_png": res.figure(f"{interp}/gabor.png"),
        "cam": res.json(f"{interp}/cam.json"),
        "cam_png": {g: res.figure(f"{interp}/cam_{g}.png") for g in ("correct", "incorrect")},
        "saliency": res.json(f"{interp}/saliency.json"),
        "saliency_png": {g: res.figure(f"{interp}/saliency_{g}.png") for g in ("correct", "incorrect")},
    }
    return {**context, "verdicts": family_verdicts(context)}


def measures_context(res: Results) -> dict:
    """Problems 4-5 over many images: interpret/measures.json, its findings
    (experiments.map_findings.measures_findings) and the mean-map figures."""
    measures = res.json("interpret/measures.json")
    return {**measures, "findings": measures_findings(measures),
            "mean_maps_png": {kind: res.figure(f"interpret/{name}") for kind, name in measures["mean_maps"].items()}}


def run_facts(res: Results, families: list[dict]) -> dict:
    """How the results were made, as the stages recorded it when they ran (not as this machine is
    now): commits, libraries, hardware, times."""
    build = res.json(".pipeline/build.json")
    records = {s.name: res.record(s.name) for s in STAGES}
    # the report stage's own record is of the previous render: it made none of the results
    made = summarize_provenance({k: v for k, v in records.items() if k != "report"},
                                tuple(f"final-{f['name']}" for f in families))
    seconds = {name: rec["seconds"] for name, rec in records.items() if rec}
    trained = training_seconds(res, families)
    # a rebuild reuses finished training runs, so its wall time can be far below what the
    # results cost: the build's total counts each stage at the larger of the two
    total = sum(max(sec, trained.get(name, 0.0)) for name, sec in seconds.items())
    return {"profile": build["profile"], **made,
            "stage_seconds": seconds, "training_seconds": trained, "total_minutes": total / 60}


def training_seconds(res: Results, families: list[dict]) -> dict[str, float]:
    """Training wall time behind each training stage's results, as its runs recorded it."""
    out = {}
    for f in families:
        # a candidate the probe left untrained has no seconds
        out[f"search-{f['name']}"] = sum(c["seconds"] or 0.0 for c in f["search"]["candidates"])
        for cell in CELLS:
            out[f"ablation-{f['name']}-{cell}"] = res.json(f"ablation/{f['name']}-{cell}/cell.json")["seconds"]
        out[f"final-{f['name']}"] = f["final"]["seconds"]
        full = res.json(f"ablation/{f['name']}-full/full.json")  # its best cell's first run is the final's
        out[f"ablation-{f['name']}-full"] = sum(r["seconds"] for r in full["cells"].values()) - f["final"]["seconds"]
    return out


# ---------------------------------------------------------------- Problem 6

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
    duplicates = duplicates_verdict(rate, {f["name"]: f["final"]["val_acc"] for f in families})
    return {"val": val, "test": pairs.get("test vs train"), "within": pairs.get("within train"),
            "rate": rate, "worst_acc": duplicates["worst_acc"], "max_drop": duplicates["max_drop"],
            "duplicates": duplicates, "vs_cifair": rate / CITATIONS["cifair"]["rate"]}


# ---------------------------------------------------------------- rendering

def build_context(results: Path, settings: dict) -> dict:
    res = Results(results)
    families = [family_context(res, f) for f in FAMILIES]
    audit = res.json("audit/audit.json")
    selection = res.json("interpret/selection.json")
    return {
        "settings": {**settings, "student": settings.get("student") or STUDENT_PLACEHOLDER,
                     "student_missing": not settings.get("student")},
        "facts": run_facts(res, families),
        "tester": res.json("conv/tester.json"),
        "bench": res.json("conv/bench.json"),
        "split": {k: v for k, v in res.json("data/split.json").items() if not k.endswith("_idx")},
        "families": families,
        "n_shown": {group: sum(item["group"] == group for item in selection["items"])
                    for group in ("correct", "incorrect")},
        "lowest_correct_confidence": lowest_confidence(selection, "correct"),
        "measures": measures_context(res),
        "audit": audit,
        "duplicates_png": res.figure("audit/duplicates.png"),
        "reflection": reflection_facts(audit, families),
        "user_reflection": read_reflection(settings["reflection"]) if settings.get("reflection") else None,
        "citations": CITATIONS,
        "cite_no": {key: i for i, key in enumerate(CITATIONS, 1)},
        # inlined, like the figures: report.html must look the same wherever it is opened
        "css": (TEMPLATES / "report.css").read_text(),
    }


def _environment():
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    # a None or NaN in a results file is printed as missing, never as "None" or "nan"
    env.filters["pct"] = lambda x, d=1: f"{100 * x:.{d}f}%" if is_number(x) else MISSING
    env.filters["pts"] = lambda x, d=1: f"{100 * x:+.{d}f}" if is_number(x) else MISSING
    env.filters["pp"] = lambda x, d=1: f"{100 * x:.{d}f}" if is_number(x) else MISSING
    env.filters["dec"] = lambda x, d=2: f"{x:.{d}f}" if is_number(x) else MISSING
    env.filters["num"] = lambda x: f"{x:,}"
    env.filters["sci"] = lambda x: f"{x:.1e}"
    env.filters["mega"] = lambda x: f"{x / 1e6:.2f} M"
    return env


def render_html(results: Path, settings: dict) -> str:
    """The report as one self-contained HTML page (stylesheet and figures inlined)."""
    import jinja2

    context = build_context(Path(results), settings)
    try:
        return _environment().get_template("report.html.j2").render(**context)
    except jinja2.UndefinedError as err:
        raise UserError(f"report template uses a value the results do not have: {err}") from None


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
