"""Threads for a run on a shared machine (experiments/engine/threads.py)."""
import os
import subprocess
import sys

import pytest
import torch

from experiments.engine import threads


@pytest.fixture
def keep_threads(monkeypatch):
    monkeypatch.delenv("CNN_REPORT_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    threads.pin(None)
    torch.set_num_threads(before)


def test_a_busy_process_is_seen_as_busy_cores():
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<3: pass"])
    try:
        busy = threads.busy_elsewhere(sample_seconds=1.0)
    finally:
        spin.kill()
    if busy is None:
        pytest.skip("no /proc/stat here")
    assert busy >= 0.6, f"a spinning process keeps about one core busy, measured {busy:.2f}"


def test_a_run_keeps_a_thread_per_core_on_a_busy_machine_and_says_why_it_will_be_slow(keep_threads, monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 1.8)
    said = []
    record = threads.threads_for_run("gap-plain", said.append)
    assert record == {"threads": 2, "busy_elsewhere": 1.8} and torch.get_num_threads() == 2
    assert len(said) == 1 and "gap-plain" in said[0] and "1.8" in said[0]
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 0.1)
    said.clear()
    assert threads.threads_for_run("gap-plain", said.append)["busy_elsewhere"] == 0.1 and not said


def test_a_pinned_or_user_count_is_used_as_it_is(keep_threads, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: None)
    monkeypatch.setenv("CNN_REPORT_THREADS", "1")
    assert threads.threads_for_run(log=print)["threads"] == 1 == torch.get_num_threads() == threads.cores_alone()
    monkeypatch.delenv("CNN_REPORT_THREADS")
    threads.pin(3)
    assert threads.threads_for_run(log=print)["threads"] == 3 and threads.cores_alone() == 3


def test_waiting_threads_sleep_unless_the_user_says_otherwise():
    code = "import os, experiments; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "OMP_WAIT_POLICY": "ACTIVE"})
    assert out.stdout.strip() == "ACTIVE"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == "PASSIVE"
