"""Where the build engine keeps its own files: the repository it hashes, and the `.pipeline`
folder under a results folder (stage records, logs, the lock, the last build's options)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
META = ".pipeline"


def meta_dir(results: Path) -> Path:
    return Path(results) / META


def record_path(results: Path, stage: str) -> Path:
    return meta_dir(results) / f"{stage}.json"


def log_path(results: Path, stage: str) -> Path:
    return meta_dir(results) / "logs" / f"{stage}.log"


def build_file(results: Path) -> Path:
    """The options of the last build (so `invoke status` and `invoke report` need none)."""
    return meta_dir(results) / "build.json"


def lock_file(results: Path) -> Path:
    return meta_dir(results) / "lock"
