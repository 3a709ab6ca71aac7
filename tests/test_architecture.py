"""docs/architecture.md maps every module of the package, and nothing that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "django_experiments"


def test_the_module_map_matches_the_code() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## Module map", 1)[1]
    documented = set(re.findall(r"^\| `([\w/]+\.py)` \|", table, re.M))
    actual = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
        and not (path.name == "__init__.py" and path.parent != PACKAGE)
    }
    assert sorted(actual - documented) == [], "modules missing from docs/architecture.md"
    assert sorted(documented - actual) == [], "docs/architecture.md names modules that are gone"
