"""The interpret tests' shared fixture: two toy networks and the images they were shown."""
import pytest
import torch

from experiments.interpret.selection import select_images
from tests.interpret.test_interpret_toys import ToyNet

CLASSES = [f"class{i}" for i in range(10)]
PARAMS = {"n_correct": 2, "n_incorrect": 2}


@pytest.fixture(scope="module")
def selected():
    torch.manual_seed(0)
    models = {"gap": ToyNet("gap", seed=1), "dense": ToyNet("dense", seed=2)}
    images, labels = torch.rand(40, 3, 32, 32), torch.arange(40) % 10
    sel = select_images(models, images, labels, PARAMS["n_correct"], PARAMS["n_incorrect"])
    idx = [it["index"] for it in sel["items"]]
    return models, images[idx], labels[idx], sel
