"""Settings a user owns: [profile.SECTION] tables and --set override the chosen profile, checked
against it with types; [models.NAME] adds an architecture a search may name; every change is
listed for the title block, and a mistake is one line naming the key."""
import pytest

from experiments.build.commands import Options, context, run_all
from experiments.engine.errors import UserError
from experiments.engine.io import read_json
from experiments.studies.search import rule_text

MINE = '''
[profile.final]
epochs = 2

[profile.search.candidates]
dense = ["dense-s", "mine"]

[models.mine]
family = "dense"
widths = [16, 32, 32]
hidden = 64
'''


def _ctx(tmp_path, text, sets=(), data=None):
    config = tmp_path / "cnn-report.toml"
    config.write_text(text)
    return context(Options("smoke", data, "cpu", str(tmp_path / "results"), str(tmp_path / "report"),
                           config=str(config), sets=tuple(sets)))


def test_a_settings_file_changes_the_profile_adds_an_architecture_and_lists_both_changes(tmp_path):
    ctx = _ctx(tmp_path, MINE)
    assert ctx.profile["final"]["epochs"] == 2 and ctx.profile["search"]["candidates"]["dense"] == ["dense-s", "mine"]
    assert ctx.profile["models"]["mine"]["widths"] == [16, 32, 32]
    assert "final.epochs = 2" in ctx.settings["changes"] and "models.mine (added)" in ctx.settings["changes"]


def test_set_on_the_command_line_overrides_the_file(tmp_path):
    ctx = _ctx(tmp_path, MINE, sets=("final.epochs=3", "train.tta=flip"))
    assert ctx.profile["final"]["epochs"] == 3 and ctx.profile["train"]["tta"] == "flip"
    assert "final.epochs = 3" in ctx.settings["changes"]


@pytest.mark.parametrize("text, says", [
    ("[profile.final]\nepocs = 2\n", "unknown key profile.final.epocs"),
    ("[profile.final]\nepochs = \"ten\"\n", "profile.final.epochs = 'ten': expected a number"),
    ("[profile.finale]\nepochs = 2\n", "unknown key profile.finale"),
    ("[profile.data]\ntrain_limit = \"all\"\n", "profile.data.train_limit = 'all': expected a number"),
    ("[models.dense-m]\nfamily = \"dense\"\nwidths = [8]\n", "would replace a built-in architecture"),
    ("[models.tiny]\nwidths = [8]\n", "needs at least family and widths"),
    ("[models.tiny]\nfamily = \"gap\"\nwidths = [8, 0]\n", "[models.tiny]: model config: widths must be"),
    ("[models.tiny]\nfamily = \"gap\"\nwidths = 8\n", "[models.tiny]: model config: widths must be"),
    ("[models.tiny]\nfamily = \"dense\"\nwidths = [8]\nhidden = 6.5\n", "hidden must be a positive whole"),
    ("[prfile]\nx = 1\n", "unknown table(s) ['prfile']"),
])
def test_a_mistyped_key_or_a_wrong_type_is_one_line_naming_it(tmp_path, text, says):
    with pytest.raises(UserError) as err:
        _ctx(tmp_path, text)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_minimal_architecture_is_completed_with_the_model_defaults_where_it_is_read(tmp_path):
    """A [models.NAME] table with family and widths only: every key the built-in candidates carry
    (the stem the search table prints, say) is there, with the model defaults."""
    from experiments.training.models import CANDIDATES, DEFAULTS
    ctx = _ctx(tmp_path, '[models.bare]\nfamily = "gap"\nwidths = [8, 16]\n')
    bare = ctx.profile["models"]["bare"]
    optional = {"mlpconv", "residual"}  # the gap family's elements: absent means off
    assert set(CANDIDATES["gap-s"]) - optional <= set(bare), "every key a built-in candidate has"
    assert bare["stem"] == DEFAULTS["stem"] and bare["stem_kernel"] == DEFAULTS["stem_kernel"]
    assert bare["widths"] == [8, 16], "what the user gave is kept"


def test_a_malformed_set_is_one_line(tmp_path):
    with pytest.raises(UserError, match="write section.key=value"):
        _ctx(tmp_path, "", sets=("epochs10",))


def test_the_smoke_search_trains_the_users_architecture_by_its_name(tmp_path, cifar_root):
    ctx = _ctx(tmp_path, MINE, data=str(cifar_root))
    run_all(ctx, only={"data", "search-dense"})
    search = read_json(ctx.results / "search" / "dense" / "search.json")
    mine = next(c for c in search["candidates"] if c["name"] == "mine")
    assert mine["trained"] and mine["model"]["widths"] == [16, 32, 32] and search["final_budget"]["epochs"] == 2
    assert "final training (2 epochs on " in search["rule"], "the recorded rule names the final's epochs"


def test_the_search_rule_counts_one_epoch_in_the_singular():
    assert "(1 epoch on 45,000 images) fits 1.5 minutes" in rule_text(1, 45_000, 1.5)
    assert "(8 epochs on 4,000 images) fits unlimited time" in rule_text(8, 4000, None)
