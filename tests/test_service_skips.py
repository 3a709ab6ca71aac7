"""A missing service skips (off CI) or fails (CI) with a message that points somewhere real."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests import conftest

ROOT = Path(__file__).resolve().parent.parent


def _closed_port() -> int:
    # Bind and release: nothing listens on the port right after.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_skip_message_names_a_file_and_section_that_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conftest, "ON_CI", False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        conftest.require_service("Redis", "127.0.0.1", _closed_port())
    message = str(skipped.value)
    assert message.startswith("SKIPPED LOUDLY: Redis is not reachable on 127.0.0.1:")
    match = re.search(r'see "([^"]+)" in (\S+\.md)', message)
    assert match, message
    section, doc = match.groups()
    assert (ROOT / doc).is_file()
    assert f"## {section}\n" in (ROOT / doc).read_text()


def test_on_ci_a_missing_service_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "ON_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true: services are mandatory"):
        conftest.require_service("Redis", "127.0.0.1", _closed_port())


def test_no_test_points_to_a_missing_markdown_file() -> None:
    for path in (ROOT / "tests").rglob("*.py"):
        for name in re.findall(r"\b([\w./-]+\.md)\b", path.read_text()):
            candidates = [ROOT / name, ROOT / "docs" / name, path.parent / name]
            assert any(c.is_file() for c in candidates), f"{path} mentions missing {name}"
