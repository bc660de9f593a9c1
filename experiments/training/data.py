"""CIFAR-10 data: find it, decode it once into a cache, split it, draw stratified subsets
(augmentation is the recipe's, experiments/training/recipe.py).

Images are kept as uint8 arrays (N, 32, 32, 3); models take float images in [0, 1] and
normalise inside, so the same arrays serve training, evaluation and the figures.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from experiments.engine.errors import UserError
from experiments.engine.io import atomic_write, read_json, write_json

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
# Where `--data` is looked for when not given, in order (then torchvision's download).
DEFAULT_DATA_DIRS = ("data/cifar10", "../shared/data/cifar10")
TORCHVISION_ROOT = "data/torchvision"
IMAGE_FOLDER = "ImageFolder (image files in class folders)"
TORCHVISION = "torchvision CIFAR10 (python batches)"


@dataclass
class Dataset:
    """Decoded images: uint8 (N, 32, 32, 3) and int64 labels; test is None when absent."""
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray | None
    test_y: np.ndarray | None
    classes: list[str]
    source: str                    # what it is ("ImageFolder", "torchvision CIFAR10"), never a path
    fingerprint: str               # digest of its content: names the data without naming the machine
    cache_file: str | None = None  # the decoded arrays on disk, when cached


@dataclass
class Prepared:
    """The split the experiments use (written by the data stage)."""
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray | None
    test_y: np.ndarray | None
    classes: list[str]
    mean: list[float]
    std: list[float]
    source: str
    fingerprint: str


# ---------------------------------------------------------------- locating and reading

def resolve_data_dir(data_dir: str | None) -> str | None:
    """The folder to read, or None meaning 'use torchvision's download'."""
    if data_dir:
        if not Path(data_dir).is_dir():
            raise UserError(f"data folder not found: {data_dir}")
        return str(data_dir)
    candidates = [os.environ.get("CIFAR10_DIR", ""), *DEFAULT_DATA_DIRS]
    for cand in candidates:
        if cand and Path(cand).is_dir():
            return cand
    return None


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_classes(names: list[str], where: Path | str) -> None:
    """CIFAR-10's ten class names, exactly (in any order on disk)."""
    if sorted(names) != sorted(CIFAR10_CLASSES):
        extra = sorted(set(names) - set(CIFAR10_CLASSES))
        missing = sorted(set(CIFAR10_CLASSES) - set(names))
        raise UserError(f"{where}: classes differ from CIFAR-10's (unexpected: {extra or 'none'}; "
                        f"missing: {missing or 'none'})")


def list_image_folder(root: Path) -> list[tuple[Path, int]]:
    """(file, label) pairs of a folder of class folders, labels in CIFAR-10's order."""
    folders = _class_folders(root)
    if not folders:
        raise UserError(f"{root}: expected class folders (e.g. {root}/cat/*.png) or a train/ folder, found none")
    check_classes([f.name for f in folders], root)
    items = []
    for folder in folders:
        label = CIFAR10_CLASSES.index(folder.name)
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise UserError(f"{folder}: no images (expected *.png)")
        items += [(f, label) for f in files]
    return items


def decode_images(files: list[Path]) -> np.ndarray:
    """uint8 (N, 32, 32, 3); names the file that cannot be read or has the wrong size."""
    from PIL import Image, UnidentifiedImageError

    out = np.empty((len(files), 32, 32, 3), dtype=np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise UserError(f"unreadable image {path}: {err}") from None
        if arr.shape != (32, 32, 3):
            raise UserError(f"image {path} is {arr.shape[1]}x{arr.shape[0]}, expected 32x32")
        out[i] = arr
    return out


def content_key(files: list[Path]) -> str:
    """sha256 over every file's relative name and bytes: the cache key of a folder."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.parent.name}/{f.name}\0".encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:20]


def _folder_layout(root: Path) -> tuple[Path, Path | None]:
    """(train folder, test folder or None) of an ImageFolder root."""
    if (root / "train").is_dir():
        test = root / "test"
        return root / "train", (test if test.is_dir() else None)
    return root, None


def load_image_folder(root: str | Path, cache_dir: Path, decode: bool = True) -> Dataset | None:
    """Decode an ImageFolder root once; later calls with unchanged content load the cache (with
    `decode` False: the cache, or None where there is none to load, decoding nothing)."""
    root = Path(root)
    if (root / "cifar-10-batches-py").is_dir():
        return load_torchvision(root, download=False)
    train_dir, test_dir = _folder_layout(root)
    train_items = list_image_folder(train_dir)
    test_items = list_image_folder(test_dir) if test_dir else []
    files = [f for f, _ in train_items + test_items]
    key = content_key(files)
    cache = Path(cache_dir) / f"cifar10-{key}.npz"
    if cache.exists():
        try:
            return load_cache(cache, IMAGE_FOLDER, key)
        except UserError:
            pass  # a damaged cache is rebuilt, not trusted
    if not decode:
        return None
    arrays = {"train_x": decode_images([f for f, _ in train_items]),
              "train_y": np.array([y for _, y in train_items], dtype=np.int64)}
    if test_items:
        arrays["test_x"] = decode_images([f for f, _ in test_items])
        arrays["test_y"] = np.array([y for _, y in test_items], dtype=np.int64)
    atomic_write(cache, lambda tmp: _savez(tmp, arrays))
    return _dataset_from_arrays(arrays, IMAGE_FOLDER, key, cache)


def _savez(path: str, arrays: dict) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a name
        np.savez(f, **arrays)


def _dataset_from_arrays(arrays: dict, source: str, fingerprint: str, cache: Path | None = None) -> Dataset:
    return Dataset(arrays["train_x"], arrays["train_y"], arrays.get("test_x"), arrays.get("test_y"),
                   list(CIFAR10_CLASSES), source, fingerprint, cache and str(Path(cache).resolve()))


def load_cache(cache_file: str | Path, source: str, fingerprint: str) -> Dataset:
    """The arrays a previous decode cached; a missing or damaged cache is a clear error."""
    try:
        with np.load(cache_file) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as err:
        raise UserError(f"decoded-data cache {cache_file} is missing or damaged ({err}); "
                        "rerun the data stage") from None
    return _dataset_from_arrays(arrays, source, fingerprint, Path(cache_file))


def load_torchvision(root: str | Path, download: bool = True) -> Dataset:
    """torchvision's CIFAR10 (python pickles), downloading when allowed and online."""
    from torchvision.datasets import CIFAR10

    root = Path(root)
    try:
        train = CIFAR10(str(root), train=True, download=download)
        test = CIFAR10(str(root), train=False, download=download)
    except (RuntimeError, OSError) as err:
        raise UserError(f"could not load or download CIFAR-10 into {root}: {err}; "
                        "pass --data DIR with a local copy") from None
    check_classes(list(train.classes), root)
    arrays = [np.asarray(train.data), np.asarray(train.targets, dtype=np.int64),
              np.asarray(test.data), np.asarray(test.targets, dtype=np.int64)]
    digest = hashlib.sha256()
    for arr in arrays:
        digest.update(np.ascontiguousarray(arr).tobytes())
    return Dataset(*arrays, list(train.classes), TORCHVISION, digest.hexdigest()[:20],
                   str((root / "cifar-10-batches-py").resolve()))


def load_dataset(data_dir: str | None, cache_dir: Path) -> Dataset:
    resolved = resolve_data_dir(data_dir)
    if resolved is None:
        return load_torchvision(TORCHVISION_ROOT, download=True)
    return load_image_folder(resolved, cache_dir)


# ---------------------------------------------------------------- the split

def stratified_split(labels: np.ndarray, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices), val_size spread evenly over classes, fixed by seed."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = np.full(len(classes), val_size // len(classes))
    per_class[: val_size % len(classes)] += 1
    val = []
    for c, k in zip(classes, per_class):
        idx = np.flatnonzero(labels == c)
        if k >= len(idx):
            raise UserError(f"class {c} has {len(idx)} images, too few for a validation share of {k}")
        val.append(rng.permutation(idx)[:k])
    val = np.sort(np.concatenate(val))
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


def stratified_subset(indices: np.ndarray, labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """At most `limit` of `indices`, keeping class proportions (all when limit is None)."""
    if limit is None or limit >= len(indices):
        return indices
    _, keep = stratified_split(labels[indices], limit, seed)
    return np.sort(indices[keep])


def subset(data: Prepared, limit: int | None, seed: int = 0) -> Prepared:
    """The same stratified training subset for every run that asks for `limit` images."""
    keep = stratified_subset(np.arange(len(data.train_y)), data.train_y, limit, seed)
    return replace(data, train_x=data.train_x[keep], train_y=data.train_y[keep])


def prepare_data(data_dir: str | None, out_dir: Path, cache_dir: Path, params: dict) -> dict:
    """The data stage: decode (or load the cache), split, record the split and statistics."""
    ds = load_dataset(data_dir, Path(cache_dir))
    train_idx, val_idx = stratified_split(ds.train_y, params["val_size"], params["seed"])
    train_idx = stratified_subset(train_idx, ds.train_y, params["train_limit"], params["seed"])
    val_idx = stratified_subset(val_idx, ds.train_y, params["val_limit"], params["seed"])
    pixels = ds.train_x[train_idx].reshape(-1, 3).astype(np.float64) / 255.0
    record = {
        "classes": ds.classes, "source": ds.source, "fingerprint": ds.fingerprint,
        # where this machine found it: for reloading only, never printed (the report names the data
        # by source and fingerprint)
        "data_dir": data_dir and str(Path(data_dir).resolve()),
        # relative to the results folder when the cache is inside it, so a moved results folder still reads
        "cache_file": _relative_to(ds.cache_file, Path(out_dir).parent), "seed": params["seed"],
        "n_train": int(len(train_idx)), "n_val": int(len(val_idx)),
        "n_test": int(0 if ds.test_x is None else len(ds.test_x)),
        "mean": pixels.mean(0).round(6).tolist(), "std": pixels.std(0).round(6).tolist(),
        "train_idx": train_idx.tolist(), "val_idx": val_idx.tolist(),
    }
    write_json(Path(out_dir) / "split.json", record)
    return record


def _relative_to(path: str | None, root: Path) -> str | None:
    """`path` relative to `root` when it lies inside it, else absolute."""
    if path is None:
        return None
    path, root = Path(path).resolve(), root.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def load_prepared(data_out_dir: Path) -> Prepared:
    """The split written by `prepare_data` (reads the decode cache, so it is fast)."""
    rec = read_json(Path(data_out_dir) / "split.json")
    cache = str(Path(data_out_dir).parent / rec["cache_file"])  # an absolute path stays as it is
    ds = load_torchvision(Path(cache).parent, download=False) if cache.endswith("cifar-10-batches-py") \
        else load_cache(cache, rec["source"], rec["fingerprint"])
    tr, va = np.array(rec["train_idx"]), np.array(rec["val_idx"])
    return Prepared(ds.train_x[tr], ds.train_y[tr], ds.train_x[va], ds.train_y[va],
                    ds.test_x, ds.test_y, rec["classes"], rec["mean"], rec["std"], rec["source"], rec["fingerprint"])


def data_fingerprint(data_dir: str | None) -> str:
    """Cheap identity of the data folder (names, sizes, mtimes) so a pipeline notices edits."""
    resolved = resolve_data_dir(data_dir)
    if resolved is None:
        return "torchvision"
    resolved = Path(resolved).resolve()  # walked as an absolute path: `../data` and `/abs/data` hash alike
    h = hashlib.sha256(str(resolved).encode())
    for dirpath, dirnames, filenames in os.walk(resolved):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]
