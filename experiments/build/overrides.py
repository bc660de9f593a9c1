"""A user's own settings for the build: `[profile.SECTION]` tables and `--set section.key=value`
override any key of the chosen profile, and `[models.NAME]` tables add architectures a search may
name. Each value is checked against the profile's own (same type; a number where a number is), so
a typo or a wrong type is one line naming the key, the value and what was expected."""
from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from experiments.engine.errors import UserError
from experiments.training.models import CANDIDATES, complete_model_config

KINDS = ((bool, "true or false"), ((int, float), "a number"), (str, "a string"), (list, "a list"), (dict, "a table"))


def _kind(value) -> str | None:
    for types, name in KINDS:
        if isinstance(value, types) and (types is bool or not isinstance(value, bool)):
            return name
    return None


def _merge(current, given, path: str, where: str):
    """`given` laid over `current`, checked key by key against it."""
    if isinstance(current, dict) and isinstance(given, dict):
        if not current:  # a free-form table (ablation.overrides, models): taken as given
            return given
        out = dict(current)
        for key, value in given.items():
            if key not in current:
                known = ", ".join(sorted(current)) or "none"
                raise UserError(f"{where}: unknown key {path}.{key}; known keys of {path}: {known}")
            out[key] = _merge(current[key], value, f"{path}.{key}", where)
        return out
    expected = _kind(current)
    if current is None:  # an optional number (train_limit, say): a number or nothing
        if given is not None and _kind(given) != "a number":
            raise UserError(f"{where}: {path} = {given!r}: expected a number")
        return given
    if _kind(given) != expected:
        raise UserError(f"{where}: {path} = {given!r}: expected {expected} (the profile has {current!r})")
    return given


def apply_overrides(profile: dict, overrides: dict, where: str) -> dict:
    """The profile with `overrides` ({section: {key: value}}, nested as the profile is) laid over it."""
    return _merge(profile, overrides, "profile", where) if overrides else profile


def parse_set(expression: str) -> dict:
    """'final.epochs=10' -> {"final": {"epochs": 10}}; the value is read as TOML (10, 0.5, true,
    [1, 2], "text"), and as a plain string when it is not TOML."""
    path, sep, text = expression.partition("=")
    keys = [k.strip() for k in path.split(".")]
    if not sep or len(keys) < 2 or not all(keys):
        raise UserError(f"--set {expression!r}: write section.key=value, e.g. final.epochs=10")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    for key in reversed(keys):
        value = {key: value}
    return value


def user_models(table: dict, where: str) -> dict:
    """`[models.NAME]` tables, each completed with the model defaults (experiments/training/models.py's
    DEFAULTS) here, once: the search's records, the report and every stage see the same full config."""
    out = {}
    for name, cfg in table.items():
        if name in CANDIDATES:
            raise UserError(f"{where}: [models.{name}] would replace a built-in architecture; choose another name")
        if not isinstance(cfg, dict) or "family" not in cfg or "widths" not in cfg:
            raise UserError(f"{where}: [models.{name}] needs at least family and widths")
        try:
            out[name] = complete_model_config({**cfg, "batchnorm": True, "dropout": 0.0})
        except UserError as err:
            raise UserError(f"{where}: [models.{name}]: {err}") from None
    return out


def changed_values(overrides: dict, prefix: str = "") -> list[str]:
    """'final.epochs = 10' for every value given, for the title block."""
    out = []
    for key, value in overrides.items():
        name = f"{prefix}.{key}" if prefix else key
        out += changed_values(value, name) if isinstance(value, dict) else [f"{name} = {value!r}"]
    return out
