"""The report: a context built only from results files, one Jinja2 template, HTML + PDF.

`render(results, report_dir, settings)` reads the JSON/PNG files the stages wrote, renders
`templates/report.html.j2` (StrictUndefined: a missing value fails the build instead of
printing blank) and writes report.html and report.pdf atomically with WeasyPrint.
"""
from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import platform
import re
import subprocess
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

from experiments.errors import UserError
from experiments.io import atomic_write, read_json
from experiments.stages import CELLS, FAMILIES, STAGES

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
# Published numbers the reflection compares ours with (not measured here, so not in a results file).
LITERATURE = {
    "cifair_rate": 0.033,
    "cifair": "Barz & Denzler (2020), “Do we train on test data? Purging CIFAR of near-duplicates”",
    "cifar101_drop": "roughly 4 to 10 percentage points",
    "cifar101": "Recht et al. (2019), CIFAR-10.1",
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
        path = self.root / rel
        if not path.exists():
            raise UserError(f"report needs the figure {path}, which no stage has written (run `invoke all`)")
        return path.resolve().as_uri()


def family_context(res: Results, family: str) -> dict:
    final_dir = f"final/{family}-final"
    interp = f"interpret/{family}"
    features = res.json(f"{interp}/features.json")
    return {
        "name": family,
        "arch": res.json(f"{final_dir}/arch.json"),
        "search": res.json(f"search/{family}/search.json"),
        "ablation": res.json(f"ablation/{family}-summary/summary.json"),
        "curves_png": res.figure(f"ablation/{family}-summary/curves.png"),
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


def run_facts(res: Results, families: list[dict]) -> dict:
    build = res.json(".pipeline/build.json")
    versions = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "numpy", "weasyprint", "jinja2", "matplotlib"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    final = families[-1]["final"]
    seconds = recorded_seconds(res.root)
    trained = training_seconds(res, families)
    # a rebuild reuses finished training runs, so its wall time can be far below what the
    # results cost: the build's total counts each stage at the larger of the two
    total = sum(max(sec, trained.get(name, 0.0)) for name, sec in seconds.items())
    return {"profile": build["profile"], "device": final.get("device", build["device"]),
            "precision": final.get("precision", "float32"),
            "date": datetime.date.today().isoformat(), "commit": git_commit(), "versions": versions,
            "stage_seconds": seconds, "training_seconds": trained, "total_minutes": total / 60}


def training_seconds(res: Results, families: list[dict]) -> dict[str, float]:
    """Training wall time behind each training stage's results, as its runs recorded it."""
    out = {}
    for f in families:
        out[f"search-{f['name']}"] = sum(c["seconds"] for c in f["search"]["candidates"])
        for cell in CELLS:
            rec = res.json(f"ablation/{f['name']}-{cell}/cell.json")
            out[f"ablation-{f['name']}-{cell}"] = rec["seconds"] + rec.get("sweep_seconds", 0.0)
        out[f"final-{f['name']}"] = f["final"]["seconds"]
    return out


def recorded_seconds(results: Path) -> dict[str, float]:
    """Wall seconds of each stage's last successful run, from the pipeline's records, in table order."""
    records = {s.name: Path(results) / ".pipeline" / f"{s.name}.json" for s in STAGES}
    return {name: read_json(path)["seconds"] for name, path in records.items() if path.exists()}


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (sha or "unknown") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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
    accs = {f["name"]: f["final"]["val_acc"] for f in families}
    worst = {name: max(0.0, acc - rate) / (1 - rate) if rate < 1 else 0.0 for name, acc in accs.items()}
    return {"val": val, "test": pairs.get("test vs train"), "within": pairs.get("within train"),
            "rate": rate, "worst_acc": worst, "max_drop": {name: accs[name] - worst[name] for name in accs},
            "vs_cifair": rate / LITERATURE["cifair_rate"], "literature": LITERATURE}


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
        "audit": audit,
        "duplicates_png": res.figure("audit/duplicates.png"),
        "reflection": reflection_facts(audit, families),
        "user_reflection": read_reflection(settings["reflection"]) if settings.get("reflection") else None,
    }


def _environment():
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    env.filters["pct"] = lambda x, d=1: f"{100 * x:.{d}f}%"
    env.filters["pts"] = lambda x, d=1: f"{100 * x:+.{d}f}"
    env.filters["num"] = lambda x: f"{x:,}"
    env.filters["sci"] = lambda x: f"{x:.1e}"
    env.filters["mega"] = lambda x: f"{x / 1e6:.2f} M"
    return env


def render_html(results: Path, settings: dict) -> str:
    """The report as HTML (figures referenced by file:// URIs)."""
    import jinja2

    context = build_context(Path(results), settings)
    try:
        return _environment().get_template("report.html.j2").render(**context)
    except jinja2.UndefinedError as err:
        raise UserError(f"report template uses a value the results do not have: {err}") from None


def render(results: Path, report_dir: Path, settings: dict) -> Path:
    """Render report.html and report.pdf into report_dir from the files under `results`; returns the
    PDF path."""
    from weasyprint import CSS, HTML

    html = render_html(results, settings)
    report_dir = Path(report_dir)
    atomic_write(report_dir / "report.html", lambda tmp: Path(tmp).write_text(html))
    css = CSS(filename=str(TEMPLATES / "report.css"))
    pdf = report_dir / "report.pdf"
    atomic_write(pdf, lambda tmp: HTML(string=html, base_url=str(TEMPLATES)).write_pdf(tmp, stylesheets=[css]))
    return pdf
