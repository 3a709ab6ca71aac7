"""docs/code-experiments.md: its ``python`` blocks run, in order, as one script."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_experiments.testing import isolated_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "code-experiments.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    with isolated_registry():
        yield


@pytest.mark.django_db
def test_the_documented_examples_run() -> None:
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 6
    namespace: dict[str, Any] = {"__name__": "code_experiments_doc"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{DOC.name} block {number}", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples
