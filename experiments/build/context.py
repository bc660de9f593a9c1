"""The build's context: the engine's Context plus the CIFAR-10 data a stage reads, and the
options the last build remembered (so `invoke status` and `invoke report` need none)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from experiments.core import paths
from experiments.engine.errors import UserError
from experiments.engine.io import read_json
from experiments.engine.paths import build_file
from experiments.build.overrides import apply_overrides, changed_values, parse_set, user_models
from experiments.engine.pipeline import Context
from experiments.training.profiles import load_profile


@dataclass
class BuildContext(Context):
    data_dir: str | None = None
    test_dir: str | None = None  # a held-out test split given with --test
    budget: str | None = None  # --budget as given ("90m"); the plan it bought (experiments/build/planning.py)
    plan: dict | None = None
    stage_names: tuple[str, ...] = ()  # the stage table's names, in order (what a plan prices)
    _prepared: tuple | None = None  # (split.json's stat, the data it describes)
    _settled: dict = field(default_factory=dict)  # stage -> seconds in this build (None: up to date)

    def __getstate__(self):
        """Sent to a worker without the cached split (it reloads it from the results folder)."""
        return {**self.__dict__, "_prepared": None}

    @property
    def prepared(self):
        """The data stage's split, loaded once and again whenever the data stage rewrites it."""
        split = self.results / paths.SPLIT
        stamp = (split.stat().st_mtime_ns, split.stat().st_size) if split.exists() else None
        if self._prepared is None or self._prepared[0] != stamp:
            from experiments.training.data import load_prepared
            self._prepared = (stamp, load_prepared(self.results / paths.DATA))
        return self._prepared[1]

    def estimate(self, stage: str) -> float | None:
        """A first build's estimate of a stage's time: under a budget the plan's price, else its training
        counted (experiments/build/estimate.py); None where it has none (the estimate never stops a build)."""
        if self.plan is not None:
            return self.plan["stage_seconds"].get(stage)
        from experiments.build.planning import estimate_seconds
        try:
            return estimate_seconds(self, stage)
        except Exception:  # noqa: BLE001 (a missing or unreadable file: no estimate)
            return None

    def settled(self, stage: str, seconds: float | None) -> None:
        """Under a budget, the plan redone with what this build has measured so far: a step whose
        stages have not started is dropped when the study no longer fits (or bought when it now does)."""
        if self.plan is None:
            return
        from experiments.build.budget import EVIDENCE
        from experiments.build.planning import replan, save_plan
        self._settled[stage] = seconds
        if seconds is None:  # up to date: nothing was measured, and a rerun of a finished plan must not move it
            return
        try:
            new = replan(self, self.plan, self._settled)
        except UserError:  # even the steps under way no longer fit: they finish, the build says so at the end
            return
        names = {k: EVIDENCE[k - 1][0] for k in range(1, len(EVIDENCE) + 1)}
        change = {"after": stage, "total_minutes": new["total_minutes"],
                  "dropped": [names[k] for k in sorted(set(self.plan["bought"]) - set(new["bought"]))],
                  "bought": [names[k] for k in sorted(set(new["bought"]) - set(self.plan["bought"]))]}
        if new["regime"] != self.plan["regime"]:
            change["regime"] = {"from": self.plan["regime"], "to": new["regime"]}
            print(f"budget: the finals and the ablation now train the {new['regime']['size']} widths for "
                  f"{new['regime']['epochs']} epochs (planned {self.plan['regime']['epochs']}) after {stage}", flush=True)
        for word in ("dropped", "bought"):
            if change[word]:
                print(f"budget: {word} {'step' if len(change[word]) == 1 else 'steps'} {', '.join(change[word])} after {stage} "
                      f"(the study now prices at {new['total_minutes']:g} of {new['budget_minutes']:g} minutes)",
                      flush=True)
        if change["dropped"] or change["bought"] or "regime" in change:  # the report says how the plan moved
            new = {**new, "changes": [*new.get("changes", []), change]}
        self.plan, self.profile = new, new["profile"]
        save_plan(self, new)

    def at(self, rel) -> Path:
        """A folder of the results layout (experiments/core/paths.py) under this build's results."""
        return self.results / rel

    def remembered(self) -> dict:
        return {**super().remembered(), "data_dir": self.data_dir, "test_dir": self.test_dir, "budget": self.budget}


def make_context(profile: str, data_dir: str | None, device: str, results: str, report_dir: str,
                 settings: dict, test_dir: str | None = None, sets: tuple = (),
                 budget: str | None = None) -> BuildContext:
    """The build's context; under a budget, experiments/build/commands.py lays the plan over its profile."""
    if test_dir and not Path(test_dir).is_dir():
        raise UserError(f"test folder not found: {test_dir}")
    settings = {**settings, "changes": []}
    return BuildContext(profile_name=profile, profile=user_profile(profile, settings, sets), device=device,
                        results=Path(results), report_dir=Path(report_dir), settings=settings, data_dir=data_dir,
                        test_dir=test_dir, budget=budget)


def user_profile(name: str, settings: dict, sets: tuple = ()) -> dict:
    """The named profile with the settings file's [profile.*] and [models.*] tables and each
    `--set section.key=value` laid over it; records what changed in settings["changes"]."""
    where = "cnn-report.toml"
    profile = apply_overrides(load_profile(name), settings.get("profile_overrides", {}), where)
    for expression in sets:
        profile = apply_overrides(profile, parse_set(expression), f"--set {expression}")
    models = user_models(settings.get("models", {}), where)
    profile["models"] = {**profile["models"], **models}
    given = [settings.get("profile_overrides", {})] + [parse_set(e) for e in sets]
    # what a --budget plan keeps as the user set it ("section.key" -> value)
    settings["pinned"] = {f"{section}.{key}": value for table in given for section, values in table.items()
                          if isinstance(values, dict) for key, value in values.items()}
    settings["changes"] = changed_values(settings.get("profile_overrides", {})) + \
        [change for e in sets for change in changed_values(parse_set(e))] + [f"models.{n} (added)" for n in models]
    return profile


def last_build(results: str, required: bool = True) -> dict:
    """profile/data/device of the last build on this results folder, and the settings given on its
    command line (`given`)."""
    path = build_file(Path(results))
    if not path.exists():
        if required:
            raise UserError(f"no build in {results}/ yet: run `invoke all` first")
        return {"given": {}}
    last = read_json(path)
    return {**last, "given": last.get("settings", {}).get("command_line", {})}
