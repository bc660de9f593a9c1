"""Threads for a run on a shared machine (experiments/engine/threads.py)."""
import os
import subprocess
import sys
import time

import pytest
import torch

from experiments.engine import threads
from experiments.engine.errors import UserError


@pytest.fixture
def keep_threads(monkeypatch):
    monkeypatch.delenv("CNN_REPORT_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    threads.pin(None)
    torch.set_num_threads(before)


def test_the_load_from_elsewhere_is_the_machines_busy_time_less_this_processs_own(monkeypatch):
    machine, own = iter([(100.0, 400.0), (106.0, 408.0)]), iter([50.0, 54.0])  # 4 s of 8 spent here
    monkeypatch.setattr(threads, "_cpu_seconds", lambda: next(machine))
    monkeypatch.setattr(threads, "_own_seconds", lambda: next(own))
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    # 6 busy CPU seconds over 8 (2 cores, 4 s), 4 of them this process's: half a core elsewhere
    assert threads.LoadMeter().busy_elsewhere() == 0.5


def test_a_busy_process_is_seen_as_busy_cores():
    if threads._cpu_seconds() is None:
        pytest.skip("no /proc/stat here")
    meter = threads.LoadMeter()
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<3: pass"])
    try:
        time.sleep(1.5)
        busy = meter.busy_elsewhere()
    finally:
        spin.kill()
    assert busy >= 0.6, f"a spinning process keeps about one core busy, measured {busy:.2f}"


def test_a_run_on_a_busy_machine_says_why_it_is_slow_once(monkeypatch):
    meter, said = threads.LoadMeter(), []
    monkeypatch.setattr(meter, "busy_elsewhere", lambda: 1.8)
    meter.say_once("gap-plain", 2, said.append)
    meter.say_once("gap-plain", 2, said.append)
    assert len(said) == 1 and "gap-plain" in said[0] and "1.8" in said[0] and "2 thread" in said[0]
    quiet, said = threads.LoadMeter(), []
    monkeypatch.setattr(quiet, "busy_elsewhere", lambda: 0.1)
    quiet.say_once("gap-plain", 2, said.append)
    assert not said


def test_a_run_on_a_quiet_machine_keeps_a_thread_per_core(keep_threads, monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "others_busy", lambda: 0.1)
    assert threads.threads_for_run() == 2 == torch.get_num_threads()


@pytest.mark.parametrize("busy, expected", [(0.0, 4), (0.5, 4), (0.8, 3), (1.0, 3), (1.7, 3), (1.8, 2), (2.9, 1), (6.0, 1)])
def test_a_run_takes_one_thread_per_core_the_others_leave_it(keep_threads, monkeypatch, busy, expected):
    """Beside a process keeping one of two cores busy, two threads ran an epoch 4.1x slower than alone
    (one waits for the shared core at every barrier); one thread on the free core is the fair 2x."""
    monkeypatch.setattr(threads, "cores", lambda: 4)
    assert threads.fair_threads(busy) == expected


def test_the_threads_follow_the_load_from_one_epoch_to_the_next(keep_threads, monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "others_busy", lambda: 0.0)
    rule = threads.FairThreads()
    assert rule.threads == 2
    monkeypatch.setattr(threads.LoadMeter, "busy_elsewhere", lambda self: 1.0)
    assert rule.after_epoch() == 1 == torch.get_num_threads() and rule.first == 2
    monkeypatch.setattr(threads.LoadMeter, "busy_elsewhere", lambda self: 0.0)
    assert rule.after_epoch() == 2


def test_a_pinned_or_user_count_is_used_as_it_is(keep_threads, monkeypatch):
    monkeypatch.setenv("CNN_REPORT_THREADS", "1")
    assert threads.threads_for_run() == 1 == torch.get_num_threads() == threads.cores_alone()
    monkeypatch.delenv("CNN_REPORT_THREADS")
    threads.pin(3)
    assert threads.threads_for_run() == 3 and threads.cores_alone() == 3


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_thread_count_that_is_not_a_count_is_one_clear_message(keep_threads, monkeypatch, value):
    monkeypatch.setenv("CNN_REPORT_THREADS", value)
    with pytest.raises(UserError, match="CNN_REPORT_THREADS"):
        threads.cores_alone()
    monkeypatch.delenv("CNN_REPORT_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")  # OpenMP's nested form: not ours to refuse
    assert threads.user_threads() is None


def test_waiting_threads_sleep_unless_the_user_says_otherwise():
    code = "import os, experiments; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "OMP_WAIT_POLICY": "ACTIVE"})
    assert out.stdout.strip() == "ACTIVE"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == "PASSIVE"
