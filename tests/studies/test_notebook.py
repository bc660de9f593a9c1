"""Problem 1 with the course's notebook: it runs against this mytorch, every cell's output is kept, and a
failing cell is shown failed with its error while the cells after it still run."""
import json
import shutil

import nbformat
import pytest

from experiments.engine.errors import UserError
from experiments.studies.notebook import run_notebook
from experiments.writeup.report import render_html
from experiments.writeup.settings import load_settings


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Conv2D tester")]
                                  + [nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    (folder / "helper.py").write_text("ANSWER = 42\n")  # a file beside the notebook, as a course ships them
    path = _notebook(folder / "Conv2DTester.ipynb",
                     "import numpy as np\nfrom mytorch.conv import Conv2D\nfrom helper import ANSWER\nprint('imported', ANSWER)",
                     "layer = Conv2D(3, 4, 3)\nlayer.forward(np.zeros((1, 3, 5, 5))).shape",
                     "raise AssertionError('dLdW mismatch in case 3')",
                     "print('after the failure')")
    return run_notebook(path)


def test_the_notebook_runs_against_this_mytorch_and_keeps_each_cells_output(record):
    assert record["given"] and record["name"] == "Conv2DTester.ipynb" and len(record["cells"]) == 4
    first, second = record["cells"][:2]
    assert first["status"] == "ok" and first["outputs"] == [{"type": "text", "text": "imported 42\n"}]
    assert second["outputs"] == [{"type": "text", "text": "(1, 4, 3, 3)"}], "the returned value, as text"


def test_a_failing_cell_is_recorded_with_its_error_and_the_rest_still_run(record):
    failed, after = record["cells"][2:]
    assert failed["status"] == "error" and record["n_failed"] == 1
    error = failed["outputs"][0]
    assert error["ename"] == "AssertionError" and "dLdW mismatch in case 3" in error["evalue"]
    assert "\x1b[" not in error["traceback"], "terminal colours stripped"
    assert after["status"] == "ok" and after["outputs"][0]["text"] == "after the failure\n"


def test_the_report_shows_the_notebook_and_its_failure_or_says_it_shows_the_projects_tester(record, fake_results,
                                                                                             tmp_path):
    results = shutil.copytree(fake_results, tmp_path / "results")
    settings = load_settings(tmp_path / "absent.toml")
    assert "no course notebook was given" in render_html(results, settings)
    (results / "conv" / "notebook.json").write_text(json.dumps(record))
    page = render_html(results, settings)
    assert "Conv2DTester.ipynb" in page and "1 cell failed" in page and "In [3]: failed" in page
    assert "AssertionError: dLdW mismatch in case 3" in page and "after the failure" in page
    assert "The course&#39;s Conv2DTester.ipynb ran 4 code cells against it: 1 FAILED." in page, "the answers say so"
    assert "no course notebook was given" not in page


def test_a_missing_or_malformed_notebook_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="notebook file not found"):
        load_settings(tmp_path / "absent.toml", notebook=str(tmp_path / "nope.ipynb"))
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not a Jupyter notebook"):
        run_notebook(bad)
