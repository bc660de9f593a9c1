"""The smoke build the end-to-end and Ray tests share: its settings and its context."""


SMOKE_SETTINGS = """
[models.mini-dense]
family = "dense"
widths = [8, 16]
[models.mini-gap]
family = "gap"
widths = [8, 16]
[profile.search.candidates]
dense = ["dense-s", "mini-dense"]
gap = ["gap-s", "mini-gap"]
"""


def smoke_context(cifar_root, root):
    """The smoke build's context under `root`, with SMOKE_SETTINGS as its settings file."""
    from experiments.build.commands import Options, context
    (root / "cnn-report.toml").write_text(SMOKE_SETTINGS)
    return context(Options("smoke", str(cifar_root), "cpu", str(root / "results"), str(root / "report"),
                           config=str(root / "cnn-report.toml")))
