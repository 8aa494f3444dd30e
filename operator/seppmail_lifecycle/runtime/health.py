"""The process's health endpoint, served from start to exit, on the leader and on a standby.

``GET <path>`` answers 200 with a JSON report (version, role, and on the leader the engine's
queue, timers, objects and counters), or 500 with the error when the engine has died, so the
kubelet restarts the pod. A standby replica is healthy: it waits for the lease.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

logger = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, url: str, report: Callable[[], dict[str, Any]]) -> None:
        """``url``: where to listen, e.g. ``http://0.0.0.0:8080/healthz``; ``report`` raises when unhealthy."""
        parts = urlsplit(url)
        self.host = parts.hostname or "0.0.0.0"
        self.port = parts.port or 8080
        self.path = parts.path or "/healthz"
        self.report = report
        self._runner: web.AppRunner | None = None

    async def _answer(self, _: web.Request) -> web.Response:
        try:
            body = self.report()
        except Exception as error:
            return web.json_response({"error": f"{type(error).__name__}: {error}"}, status=500)
        return web.json_response(body, dumps=lambda value: json.dumps(value, default=str))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self.path, self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        logger.debug("health endpoint on http://%s:%d%s", self.host, self.port, self.path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
