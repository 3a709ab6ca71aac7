from __future__ import annotations

from benchmarks import bench_stack, stack_rows
from benchmarks.run import ALL_SECTIONS, default_output


def test_cookie_header_sends_back_every_cookie_of_a_first_response() -> None:
    set_cookies = [
        "dwf_bench_1=True; expires=Fri, 01 Jan 2027 00:00:00 GMT; Max-Age=2592000; Path=/",
        "dwf_bench_2=False; Path=/",
        'gb_visitor="ab:1x:sig"; HttpOnly; Path=/; SameSite=Lax',
    ]
    assert bench_stack.cookie_header(set_cookies) == (
        'dwf_bench_1=True; dwf_bench_2=False; gb_visitor="ab:1x:sig"'
    )


def test_variants_reads_the_pages_markup() -> None:
    body = "<h1>Landing</h1><p class='bench_1'>control</p><p class='bench_2'>candidate</p>"
    assert bench_stack.variants(body) == [("bench_1", "control"), ("bench_2", "candidate")]


def test_every_round_measures_every_target_with_the_contender_order_rotated() -> None:
    first, second = bench_stack._order(0), bench_stack._order(1)
    assert sorted(first) == sorted(second) == sorted(stack_rows.targets())
    assert first != second
    # One page and visitor kind stays together, so the contenders compared run back to back.
    assert [k[1:] for k in first] == [k[1:] for k in second]


def test_the_no_events_diagnosis_sends_dnt_to_the_store_none_server() -> None:
    diagnosis = bench_stack.CONTENDERS[stack_rows.NO_EVENTS]
    assert diagnosis.server == bench_stack.CONTENDERS["none"].server
    assert diagnosis.header == "DNT: 1"


def test_safe_drops_the_brokers_credentials() -> None:
    assert bench_stack._safe("amqp://guest:pw@127.0.0.1:5672/h1") == "amqp://127.0.0.1:5672/h1"


def test_the_realistic_page_lives_under_each_contenders_page() -> None:
    assert bench_stack.page_path("waffle", "trivial") == "/bench/waffle/"
    assert bench_stack.page_path("redis", "realistic") == "/bench/experiments/realistic/"


def test_a_partial_run_leaves_the_full_report_alone() -> None:
    assert default_output("4") == "-"
    assert default_output(ALL_SECTIONS).endswith("docs/performance.md")
