"""Issue 44 on a finished smoke build: every module of experiments/ and mytorch/ rewritten from its
syntax tree (ast.unparse: comments gone, layout changed) leaves every stage up to date and every
run's identity as it was, while one statement added to the training recipe reruns the finals.
The rewritten code is a copy of the repository's, which the build hashes in its place."""
import ast
import shutil

import pytest

import experiments.engine.cache as cache
from experiments.build.commands import status
from experiments.engine.io import read_json
from experiments.training import identity

pytestmark = pytest.mark.slow

RECIPE = "experiments/training/recipe.py"


@pytest.fixture
def rewritten(smoke_build, tmp_path, monkeypatch):
    """(the smoke build's context, a copy of the repository's code with every module rewritten by
    ast.unparse, which the build now hashes)."""
    copy = tmp_path / "repo"
    for folder in ("experiments", "mytorch", "templates"):
        shutil.copytree(cache.REPO / folder, copy / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for path in [*copy.glob("experiments/**/*.py"), *copy.glob("mytorch/**/*.py")]:
        path.write_text(ast.unparse(ast.parse(path.read_text())) + "\n")
    monkeypatch.setattr(cache, "REPO", copy)
    return smoke_build[0], copy


def _final_code(ctx, family: str) -> str:
    return read_json(ctx.results / "final" / f"{family}-final" / "config.json")["code"]


def test_code_rewritten_from_its_syntax_tree_lists_no_stage_to_run(rewritten):
    ctx, copy = rewritten
    assert "#" not in (copy / RECIPE).read_text(), "the rewrite dropped the comments"
    assert [(name, why) for name, why in status(ctx) if why] == []
    assert identity.code_digest() == _final_code(ctx, "gap"), "a run keeps its identity"


def test_one_statement_added_to_the_recipe_reruns_the_finals(rewritten):
    ctx, copy = rewritten
    (copy / RECIPE).write_text((copy / RECIPE).read_text() + "\nRECIPE_EDITED = True\n")
    reasons = dict(status(ctx))
    for family in ("dense", "gap"):
        assert reasons[f"final-{family}"] == f"code changed: {RECIPE}"
        assert identity.code_digest() != _final_code(ctx, family), "the final retrains, not reuses"
