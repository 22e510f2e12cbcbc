"""Events of an object that come while our own write of it is under way.

The watch often brings a write back before the write's own answer, that is before the version
the write made is known. Such events are kept until the answer; the writer then drops its echo
and acts on anything else (someone's change in between, or a write that failed). The applier
holds a workspace's children, the status cache its status (core/applier.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")  # what is being written
E = TypeVar("E")  # what is kept of an event that came meanwhile


@dataclass
class WriteHold(Generic[K, E]):
    writing: set[K] = field(default_factory=set)
    held: dict[K, list[E]] = field(default_factory=dict)

    def begin(self, keys: Iterable[K]) -> None:
        self.writing.update(keys)

    def hold(self, key: K, event: E) -> bool:
        """Keep `event` if `key` is being written. True: held."""
        if key not in self.writing:
            return False
        self.held.setdefault(key, []).append(event)
        return True

    def end(self, keys: Iterable[K]) -> list[E]:
        """The write answered (or failed): what came meanwhile, in order of arrival per key."""
        came: list[E] = []
        for key in keys:
            self.writing.discard(key)
            came.extend(self.held.pop(key, ()))
        return came

    @property
    def idle(self) -> bool:
        """Nothing being written, nothing kept (a workspace at rest costs nothing here)."""
        return not self.writing and not self.held
