from __future__ import annotations

from pathlib import Path

from benchmarks.report import Report, Row, write_markdown


def test_findings_are_separate_blocks_after_the_table(tmp_path: Path) -> None:
    report = Report()
    report.add(Row("4", "full stack", "1 req/s", passed=False))
    report.findings += ["### 1. first\n\n- a", "### 4. second\n\n- b"]
    out = tmp_path / "performance.md"
    write_markdown(out, report, [("cores", "2")], "python -m benchmarks", "method")
    text = out.read_text()
    assert "| 4 | full stack | 1 req/s | — | — | — | FAIL |" in text
    assert "- a\n\n### 4. second" in text
