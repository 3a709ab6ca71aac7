"""CPU time of a server's worker processes, from /proc (Linux), to divide by requests served.

On a shared machine, requests/s follows the share of the cores the workers get; the CPU time
each request costs the workers does much less, so it is reported beside requests/s.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (a gunicorn master's workers)."""
    out = []
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:  # field 4, ppid
                out.append(int(entry.name))
    return sorted(out)


def cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU seconds of these processes (all their threads); None without /proc."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is None:
            return None
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15: utime, stime
    return total / _TICK
