"""Fixtures shared by every test module (written once per test session, treat them as read-only).

- `cifar_root`: a tiny generated CIFAR-like ImageFolder, `root/train/<cifar class>/*.png` (32x32 RGB,
  50 per class: enough for the smoke profile's 400 + 100 split) and `root/test/` (5 per class).
- `fake_results`: a complete results folder written by hand (tests/fake_results.py), for the report.
- `smoke_build`: the whole smoke build on `cifar_root` through the function `invoke all` calls, with a
  user's minimal architecture in each family's search (built once: the end-to-end tests read it, and
  the Ray test compares its own build with it). Returns (context, stages run).
- `pinned_threads`: CNN_REPORT_THREADS set for the test. A run picks its threads by the machine's
  load, and another thread count sums floats in another order: every test that compares the
  numbers of two trainings pins them, so that it holds on a busy machine as alone (issue 44).
"""
from __future__ import annotations

import pytest

# a Ray task that trains is given TRAIN_CPUS CPUs and uses as many threads: a local build pinned to
# the same count computes the same numbers
from experiments.engine.executors import TRAIN_CPUS

PINNED_THREADS = str(TRAIN_CPUS)


@pytest.fixture
def pinned_threads(monkeypatch):
    monkeypatch.setenv("CNN_REPORT_THREADS", PINNED_THREADS)


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory):
    from tests.imagegen import write_cifar_root
    return write_cifar_root(tmp_path_factory.mktemp("cifar") / "cifar10", n_train=50, n_test=5)


@pytest.fixture(scope="session")
def fake_results(tmp_path_factory):
    from tests.fake_results import write_fake_results
    return write_fake_results(tmp_path_factory.mktemp("fake") / "results")


@pytest.fixture(scope="session")
def smoke_build(cifar_root, tmp_path_factory):
    from experiments.build.commands import run_all
    from tests.smoke import smoke_context
    ctx = smoke_context(cifar_root, tmp_path_factory.mktemp("e2e"))
    with pytest.MonkeyPatch.context() as patch:  # the Ray test compares its numbers
        patch.setenv("CNN_REPORT_THREADS", PINNED_THREADS)
        return ctx, run_all(ctx)
