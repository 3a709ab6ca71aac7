"""The README's code-defined experiment example runs as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django_experiments import unregister

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_class_example_runs(make_experiment: Any) -> None:
    section = README.read_text().split("### Code-defined experiments")[1]
    block = section.split("```python")[1].split("```")[0]
    make_experiment("pill_color", control=1, red=1)
    namespace: dict[str, Any] = {"user": "ann"}
    try:
        exec(block, namespace)
        assert namespace["exp"].run() in ("grey", "crimson")
        assert namespace["experiment"]("pill_color", actor="bot:1").run() == "grey"
    finally:
        unregister("pill_color")
