"""docs/testing.md: its ``python`` blocks, joined, are a pytest module that passes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_the_documented_examples_pass(run_inner: Any) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
    module = "\n\n".join(blocks)
    tests = len(re.findall(r"^\s*def test_", module, flags=re.M))
    assert tests >= 10
    result = run_inner(test_doc_examples=module)
    result.assert_outcomes(passed=tests)
