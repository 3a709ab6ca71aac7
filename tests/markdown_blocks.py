"""Fenced code blocks that a Markdown file marks for its tests with an HTML comment.

A marked block is ``<!-- name -->``, optional blank lines, then a fenced block: the comment is
invisible on GitHub and the block stays an ordinary example for the reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MARKED = re.compile(
    r"^<!-- (?P<name>[\w:.-]+) -->\n\s*\n?^```(?P<lang>\w*)\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    name: str
    lang: str
    code: str


def marked_blocks(path: Path, prefix: str) -> dict[str, Block]:
    """Blocks whose marker starts with ``prefix:``, by the rest of the marker."""
    blocks: dict[str, Block] = {}
    for match in MARKED.finditer(path.read_text()):
        name = match["name"]
        if not name.startswith(f"{prefix}:"):
            continue
        key = name[len(prefix) + 1 :]
        assert key not in blocks, f"{path}: the marker {name} is used twice"
        blocks[key] = Block(key, match["lang"], match["code"])
    return blocks
