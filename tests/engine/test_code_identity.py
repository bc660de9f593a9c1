"""Code is identified by its meaning (issue 44): a Python file's digest is its syntax tree's, less
its docstrings, so a comment, a docstring or a reflow reruns nothing, while a statement does.
Templates and other files are identified by their bytes."""
import ast

from experiments.engine.cache import REPO, source_digest

MODULE = '''"""A module's docstring."""
import math  # a comment


class Scale:
    """A class's docstring."""

    def __init__(self, factor):
        """A method's docstring."""
        self.factor = factor  # another comment

    async def later(self, x):
        "An async function's docstring."
        return x

    def stub(self):
        """Only a docstring: the same as `pass`."""


double = lambda x: 2 * x  # a lambda's body is not a list of statements


def area(r, *, pi=math.pi):
    # a comment where a docstring would be
    return (pi
            * r ** 2)
'''


def _rewritten(source: str) -> str:
    """The module as ast.unparse writes it with every docstring gone: no comments, new layout."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant) \
                and isinstance(node.body[0].value.value, str):
            node.body = node.body[1:] or ([] if isinstance(node, ast.Module) else [ast.Pass()])
    return ast.unparse(tree)


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_module_rewritten_from_its_syntax_tree_without_docstrings_has_the_same_digest(tmp_path):
    rewritten = _rewritten(MODULE)
    assert "#" not in rewritten and "docstring" not in rewritten and rewritten != MODULE
    assert source_digest(_write(tmp_path, "a.py", MODULE)) == \
        source_digest(_write(tmp_path, "b.py", rewritten))


def test_one_added_statement_changes_the_digest(tmp_path):
    statement = "        self.factor = factor"
    edited = MODULE.replace(statement, statement + "\n        x = 1")
    assert source_digest(_write(tmp_path, "a.py", MODULE)) != \
        source_digest(_write(tmp_path, "b.py", edited))


def test_a_string_that_is_not_first_in_its_body_is_code_not_a_docstring(tmp_path):
    edited = MODULE.replace("        return x", "        'a statement'\n        return x")
    assert source_digest(_write(tmp_path, "a.py", MODULE)) != \
        source_digest(_write(tmp_path, "b.py", edited))


def test_a_file_that_is_not_python_is_identified_by_its_bytes(tmp_path):
    html = "<p>{{ accuracy }}</p>"
    assert source_digest(_write(tmp_path, "a.html.j2", html)) == \
        source_digest(_write(tmp_path, "b.html.j2", html))
    assert source_digest(_write(tmp_path, "a.html.j2", html)) != \
        source_digest(_write(tmp_path, "c.html.j2", html.replace("<p>", "<p> ")))


def test_every_module_of_the_project_keeps_its_digest_through_its_syntax_tree(tmp_path):
    """ast.unparse round-trips every module here (f-strings included) to the same digest."""
    for path in sorted(REPO.glob("experiments/**/*.py")) + sorted(REPO.glob("mytorch/**/*.py")):
        copy = _write(tmp_path, "m.py", _rewritten(path.read_text()))
        assert source_digest(copy) == source_digest(path), path
