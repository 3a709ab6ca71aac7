"""docs/statistics.md: the opening example runs and prints what its comments say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "statistics.md"


def test_opening_example_matches_its_comments() -> None:
    block = DOC.read_text().split("```python")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(block, namespace)
    r = namespace["result"]
    f, b = r.frequentist, r.bayesian
    assert f"{f.lift:+.1%} [{f.ci_low:+.1%}, {f.ci_high:+.1%}]" in block.replace(" %", "%")
    assert f"# {f.p_value:.4f}, {r.significant}" in block
    assert f"# {b.chance_to_win:.3f}, {b.risk:.5f}" in block
    srm = namespace["srm_p_value"]([10_000, 10_050], [50, 50])
    assert re.search(rf"srm_p_value\(\[10_000, 10_050\], \[50, 50\]\)\s+# {srm:.2f}:", block)
