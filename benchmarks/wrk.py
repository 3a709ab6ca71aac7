"""wrk: run it bounded in time against a loopback URL, parse its report, take medians."""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int = 0
    #: The server's worker CPU time per request (µs), when measured (benchmarks/proc_cpu.py).
    cpu_us: float | None = None

    def figures(self) -> str:
        text = f"{self.rps:.0f} req/s, p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"
        return text if self.cpu_us is None else f"{text}, {self.cpu_us:.0f} µs CPU/req"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if match is None:
        raise ValueError(f"unparseable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests = re.search(r"^\s*(\d+) requests in", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if rps is None or p50 is None or p99 is None or requests is None:
        raise ValueError(f"unparseable wrk output:\n{output}")
    if re.search(r"Non-2xx or 3xx responses", output):
        raise ValueError(f"wrk saw errors:\n{output}")
    return WrkResult(
        float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), int(requests.group(1))
    )


def median(results: Sequence[WrkResult]) -> WrkResult:
    """Each figure's median over the rounds (taken separately, as each is reported)."""
    cpu = [r.cpu_us for r in results if r.cpu_us is not None]
    return WrkResult(
        statistics.median(r.rps for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.requests for r in results),
        statistics.median(cpu) if len(cpu) == len(results) else None,
    )


def run(
    url: str,
    connections: int,
    seconds: int,
    cookie: str | None = None,
    header: str | None = None,
) -> WrkResult:
    """One wrk round: one thread, ``connections`` connections, ``seconds`` (whole) long."""
    headers = [f"Cookie: {cookie}"] if cookie else []
    if header:
        headers.append(header)
    out = subprocess.run(
        [
            "wrk",
            *("-t1", f"-c{connections}", f"-d{seconds}s", "--latency"),
            *(arg for h in headers for arg in ("-H", h)),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"wrk {url} exited {out.returncode}: {out.stderr.strip()[-300:]}")
    return parse_wrk(out.stdout)
