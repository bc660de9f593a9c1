"""The user's settings: the [report] table of cnn-report.toml and the command line's overrides."""
from __future__ import annotations

import hashlib

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from pathlib import Path

from experiments.engine.errors import UserError

CONFIG_FILE = "cnn-report.toml"
DEFAULT_SETTINGS = {
    "title": "Homework: Convolutional Neural Networks",
    "course": "Deep Learning",
    "instructor": "John Lipor",
    "student": None,
    "reflection": None,
}

def load_settings(config_file: str | Path = CONFIG_FILE, **overrides) -> dict:
    """[report] table of cnn-report.toml (if present) with command-line overrides on top.
    The overrides actually given are kept under "command_line" (the build remembers them, so
    `invoke status` and `invoke report` need not repeat them)."""
    settings = dict(DEFAULT_SETTINGS)
    path = Path(config_file)
    if path.exists():
        try:
            table = tomllib.loads(path.read_text()).get("report", {})
        except tomllib.TOMLDecodeError as err:
            raise UserError(f"{path}: not valid TOML ({err})") from None
        unknown = set(table) - set(DEFAULT_SETTINGS)
        if unknown:
            raise UserError(f"{path}: unknown [report] key(s) {sorted(unknown)}; known: {sorted(DEFAULT_SETTINGS)}")
        settings.update(table)
    given = {k: v for k, v in overrides.items() if v}
    settings.update(given)
    settings["command_line"] = given
    if settings["reflection"] and not Path(settings["reflection"]).is_file():
        raise UserError(f"reflection file not found: {settings['reflection']}")
    return settings


def settings_digest(settings: dict) -> dict:
    """What of the settings the report depends on (a reflection file by its content)."""
    out = {k: v for k, v in settings.items() if k not in ("reflection", "command_line")}
    if settings.get("reflection"):
        out["reflection_sha"] = hashlib.sha256(Path(settings["reflection"]).read_bytes()).hexdigest()[:16]
    return out


