"""The user's settings: the [report] table of cnn-report.toml and the command line's overrides."""
from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from pathlib import Path

from experiments.engine.cache import file_digest
from experiments.engine.errors import UserError

CONFIG_FILE = "cnn-report.toml"
DEFAULT_SETTINGS = {
    "title": "Homework: Convolutional Neural Networks",
    "course": "Deep Learning",
    "instructor": "John Lipor",
    "student": None,
    "reflection": None,
    "notebook": None,  # the course's Conv2DTester.ipynb: Problem 1 shows its output (experiments/studies/notebook.py)
}

TABLES = ("report", "profile", "models")  # what cnn-report.toml may hold


def load_settings(config_file: str | Path = CONFIG_FILE, **overrides) -> dict:
    """[report] table of cnn-report.toml (if present) with command-line overrides on top; its
    [profile.SECTION] and [models.NAME] tables are kept as given ("profile_overrides", "models":
    experiments/build/overrides.py checks them against the profile). The overrides actually given
    are kept under "command_line" (the build remembers them, so `invoke status` and `invoke report`
    need not repeat them)."""
    settings = {**DEFAULT_SETTINGS, "profile_overrides": {}, "models": {}, "changes": []}
    path = Path(config_file)
    if path.exists():
        try:
            document = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise UserError(f"{path}: not valid TOML ({err})") from None
        unknown_tables = set(document) - set(TABLES)
        if unknown_tables:
            raise UserError(f"{path}: unknown table(s) {sorted(unknown_tables)}; known: {', '.join(TABLES)}")
        settings.update(profile_overrides=document.get("profile", {}), models=document.get("models", {}))
        table = document.get("report", {})
        unknown = set(table) - set(DEFAULT_SETTINGS)
        if unknown:
            raise UserError(f"{path}: unknown [report] key(s) {sorted(unknown)}; known: {sorted(DEFAULT_SETTINGS)}")
        settings.update(table)
    given = {k: v for k, v in overrides.items() if v}
    settings.update(given)
    settings["command_line"] = given
    for key in ("reflection", "notebook"):
        if settings[key] and not Path(settings[key]).is_file():
            raise UserError(f"{key} file not found: {settings[key]}")
    return settings


def settings_digest(settings: dict) -> dict:
    """What of the settings the report depends on (a reflection file and a notebook by their content)."""
    out = {k: v for k, v in settings.items() if k not in ("reflection", "notebook", "command_line")}
    for key in ("reflection", "notebook"):
        if settings.get(key):
            out[f"{key}_sha"] = file_digest(settings[key])
    return out


