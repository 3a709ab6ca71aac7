from __future__ import annotations

import pytest

from benchmarks.wrk import WrkResult, median, parse_wrk

OUTPUT = """Running 3s test @ http://127.0.0.1:8000/bench/plain/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.01ms  412.00us   9.80ms   90.00%
    Req/Sec     3.64k   120.00     3.90k    70.00%
  Latency Distribution
     50%  850.00us
     75%    1.10ms
     90%    1.40ms
     99%    3.28ms
  10911 requests in 3.00s, 5.10MB read
Requests/sec:   3636.52
Transfer/sec:      1.70MB
"""


def test_parse_wrk_reads_throughput_and_percentiles_in_ms() -> None:
    assert parse_wrk(OUTPUT) == WrkResult(3636.52, 0.85, 3.28, requests=10911)


def test_parse_wrk_refuses_a_run_with_error_responses() -> None:
    bad = OUTPUT.replace("Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec")
    with pytest.raises(ValueError, match="wrk saw errors"):
        parse_wrk(bad)


def test_parse_wrk_refuses_unparseable_output() -> None:
    with pytest.raises(ValueError, match="unparseable"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_median_takes_each_figure_separately() -> None:
    runs = [
        WrkResult(100, 3.0, 9.0, 10, 700.0),
        WrkResult(300, 1.0, 5.0, 30, 500.0),
        WrkResult(200, 2.0, 1.0, 20, 900.0),
    ]
    assert median(runs) == WrkResult(200, 2.0, 5.0, 60, 700.0)


def test_median_has_no_cpu_figure_unless_every_round_measured_it() -> None:
    runs = [WrkResult(100, 3.0, 9.0, 10, 700.0), WrkResult(300, 1.0, 5.0, 30, None)]
    assert median(runs).cpu_us is None


def test_figures_show_cpu_per_request_when_measured() -> None:
    assert WrkResult(1000, 1.0, 2.0).figures() == "1000 req/s, p50 1.00 ms, p99 2.00 ms"
    assert WrkResult(1000, 1.0, 2.0, 5, 812.4).figures().endswith(", 812 µs CPU/req")
