"""Running one stage: its output teed to its log, its outputs checked, any failure turned into
one line naming the stage and the log (the traceback goes to the log). This is the part an
executor may run elsewhere (experiments/engine/executors.py)."""
from __future__ import annotations

import contextlib
import io
import sys
import time
import traceback

from experiments.engine.errors import UserError, one_line
from experiments.engine.paths import log_path


class _Tee(io.TextIOBase):
    """Write to the console and to a stage's log file."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for s in self.streams:
            s.write(text)
            s.flush()
        return len(text)


def execute_stage(stage, ctx) -> float:
    """Run one stage; return its wall time in seconds."""
    log = log_path(ctx.results, stage.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(log, "w") as handle:
        try:
            with contextlib.redirect_stdout(_Tee(sys.stdout, handle)):
                stage.run(ctx)
        except KeyboardInterrupt:  # no record: the next build reruns (and resumes) this stage
            handle.write("interrupted\n")
            raise
        except UserError as err:
            traceback.print_exc(file=handle)
            raise UserError(f"stage {stage.name}: {one_line(err)} (log: {log})") from None
        except Exception as err:  # any other failure: one line here, the traceback in the log
            traceback.print_exc(file=handle)
            raise UserError(f"stage {stage.name} failed: {type(err).__name__}: {one_line(err)} "
                            f"(log: {log})") from None
    missing = [o for o in stage.outs if not ctx.out(o).exists()]
    if missing:
        raise UserError(f"stage {stage.name} finished without writing {missing[0]} (log: {log})")
    return round(time.time() - t0, 2)
