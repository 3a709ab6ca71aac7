"""The start/stop protocol shared by the test helpers that are also context managers."""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

A = TypeVar("A", bound="Activation")


class Activation:
    """``with helper:`` is ``helper.start()`` then ``helper.stop()``, even on error."""

    def start(self: A) -> A:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: A) -> A:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        self.stop()
