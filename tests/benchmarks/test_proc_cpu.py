from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks import proc_cpu


def test_children_lists_the_processes_a_process_started() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in proc_cpu.children(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_cpu_seconds_counts_the_work_a_process_does() -> None:
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.process_time() + 0.3\n"
            "while time.process_time() < end: pass\ntime.sleep(30)",
        ]
    )
    try:
        deadline = time.monotonic() + 20
        spent = 0.0
        while time.monotonic() < deadline:
            spent = proc_cpu.cpu_seconds([busy.pid]) or 0.0
            if spent >= 0.3:
                break
            time.sleep(0.05)
        assert 0.3 <= spent < 5
    finally:
        busy.kill()
        busy.wait()


def test_cpu_seconds_of_a_gone_process_is_unknown() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert proc_cpu.cpu_seconds([gone.pid]) is None
