"""Thread affinity: catch, loudly, an object that must stay on its event loop's thread being used
from another one (a sync kopf handler runs in a thread pool; ``asyncio.to_thread``; a callback of a
library's own thread).

The store and the work queue are plain dicts, sets and ``asyncio.Event``s: not thread-safe, and an
``asyncio.Event`` set from a foreign thread does not even wake the loop. Rather than locks that
would hide the mistake, each such object binds itself to the first thread that touches it and
refuses every other.
"""

from __future__ import annotations

import threading


class ThreadAffinity:
    """Binds to the first thread that calls :meth:`check`; ``check`` from any other thread raises
    ``RuntimeError`` naming both. The fast path is one ``threading.get_ident()`` comparison."""

    __slots__ = ("_lock", "_owner", "_owner_name", "what")

    def __init__(self, what: str = "this object") -> None:
        self.what = what
        self._owner: int | None = None
        self._owner_name = ""
        self._lock = threading.Lock()

    @property
    def owner(self) -> int | None:
        """The ``threading.get_ident()`` of the owning thread; None until the first ``check``."""
        return self._owner

    def check(self) -> None:
        if threading.get_ident() != self._owner:
            self._bind_or_raise()

    def _bind_or_raise(self) -> None:
        ident = threading.get_ident()
        with self._lock:  # two threads racing to be first: exactly one wins, the other is refused
            if self._owner is None:
                self._owner = ident
                self._owner_name = threading.current_thread().name
                return
            if self._owner == ident:
                return
        raise RuntimeError(
            f"{self.what} belongs to thread {self._owner_name!r} (ident {self._owner}) and must only be "
            f"used from it, but was used from thread {threading.current_thread().name!r} (ident {ident})"
        )
