"""A TCP proxy on loopback between the operator and the API server (TLS passes through untouched),
which the tests use to cut every connection at once (the watches with them) and to refuse new
ones for a while."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator

LOOPBACK = "127.0.0.1"


class CuttingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._refusing = False
        self.cuts = 0
        self._stopped = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def cut(self) -> int:
        """Close every connection now (both ends); the number cut."""
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.cuts += 1
        return len(sockets) // 2

    @contextlib.contextmanager
    def refusing(self) -> Iterator[None]:
        """Every connection cut, and new ones closed at once, for the ``with`` block."""
        self._refusing = True
        self.cut()
        try:
            yield
        finally:
            self._refusing = False

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection((LOOPBACK, self.upstream_port), timeout=5)
            except OSError:
                client.close()  # the API server is down: as it would be without the proxy
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, one: socket.socket, other: socket.socket) -> None:
        pair = {one: other, other: one}
        try:
            while True:
                ready, _, _ = select.select(list(pair), [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._open -= {one, other}
            for sock in (one, other):
                sock.close()
