"""Problem 1 with the course's own tester: execute the student's Conv2DTester.ipynb against this
project's `mytorch` (nbclient, a fresh Python kernel in the notebook's folder) and record what each
code cell printed, returned or raised, so the report shows the notebook's output, failures included.

A failing cell is recorded with its error and the cells after it still run (as "Run all" with
errors allowed would), so one broken check does not hide the others.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from experiments.engine.errors import UserError
from experiments.engine.paths import REPO

CELL_TIMEOUT_S = 600
MAX_OUTPUT_CHARS = 4000  # one output's text in the report; the rest is said to be cut
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def read_notebook(path: str | Path):
    """The notebook at `path` (nbformat 4), or one clear error naming the file."""
    import nbformat
    path = Path(path)
    if not path.is_file():
        raise UserError(f"notebook not found: {path}")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, or not a notebook
        raise UserError(f"{path}: not a Jupyter notebook ({type(err).__name__}: {err})") from None


def _clip(text: str) -> str:
    text = ANSI.sub("", text)
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n[... {len(text) - MAX_OUTPUT_CHARS:,} more characters not shown]"


def cell_outputs(cell) -> list[dict]:
    """A code cell's outputs as the report shows them: text (streams, results, displays' plain text),
    images (PNG, base64) and errors (name, value, traceback without terminal colours)."""
    out = []
    for o in cell.get("outputs", []):
        kind = o.get("output_type")
        if kind == "stream":
            out.append({"type": "text", "text": _clip(o.get("text", ""))})
        elif kind == "error":
            out.append({"type": "error", "ename": o.get("ename", ""), "evalue": ANSI.sub("", o.get("evalue", "")),
                        "traceback": _clip("\n".join(o.get("traceback", [])))})
        elif kind in ("execute_result", "display_data"):
            data = o.get("data", {})
            if "image/png" in data:
                out.append({"type": "image", "png": data["image/png"].replace("\n", "")})
            elif "text/plain" in data:
                out.append({"type": "text", "text": _clip(data["text/plain"])})
    # consecutive stream pieces read as one block
    merged: list[dict] = []
    for o in out:
        if merged and o["type"] == merged[-1]["type"] == "text":
            merged[-1]["text"] += o["text"]
        else:
            merged.append(o)
    return merged


def run_notebook(path: str | Path) -> dict:
    """Execute the notebook in its folder with this repository first on the kernel's import path (so
    `import mytorch` is the code under test) and return notebook.json's record: the file, the
    kernel, seconds, and per code cell its source, status ("ok", "error", "not run") and outputs."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path).resolve()
    nb = read_notebook(path)
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env_path) if p)
    start = time.monotonic()
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    stopped = None
    try:
        client.execute()
    except (CellTimeoutError, DeadKernelError) as err:  # recorded: the cells after it did not run
        stopped = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    except Exception as err:  # no kernel to start, most often
        raise UserError(f"could not execute {path.name}: {type(err).__name__}: {err} (executing a notebook needs "
                        "ipykernel, installed with this project)") from None
    finally:
        if env_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_path
    cells = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code" and c.source.strip()):
        outputs = cell_outputs(cell)
        ran = cell.get("execution_count") is not None
        status = "error" if any(o["type"] == "error" for o in outputs) else "ok" if ran else "not run"
        cells.append({"index": i + 1, "source": cell.source, "status": status, "outputs": outputs})
    return {"given": True, "name": path.name, "kernel": "python3", "seconds": round(time.monotonic() - start, 1),
            "cells": cells, "n_failed": sum(c["status"] == "error" for c in cells),
            "n_not_run": sum(c["status"] == "not run" for c in cells), "stopped": stopped}


NOT_GIVEN = {"given": False}
