"""The process's HTTP endpoints, served from start to exit, on the leader and on a standby: the
health report (``--liveness``) and the Prometheus metrics (``--metrics``), each on its own port.

The health ``GET <path>`` answers 200 with a JSON report (version, role, and on the leader the
engine's queue, timers, objects and counters), or 500 with the error when the engine has died, so
the kubelet restarts the pod. A standby replica is healthy: it waits for the lease. The metrics
``GET <path>`` answers the registry in Prometheus' text format (a standby: its version and
``seppmail_lifecycle_leader 0``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CollectorRegistry

from seppmail_lifecycle.runtime.metrics import CONTENT_TYPE, exposition

logger = logging.getLogger(__name__)


class Endpoint:
    def __init__(self, url: str, answer: Callable[[], web.Response], default_path: str) -> None:
        """``url``: where to listen, e.g. ``http://0.0.0.0:8080/healthz``; ``answer``: the response to a GET."""
        parts = urlsplit(url)
        self.host = parts.hostname or "0.0.0.0"
        self.port = parts.port or 8080
        self.path = parts.path or default_path
        self.answer = answer
        self._runner: web.AppRunner | None = None

    async def _get(self, _: web.Request) -> web.Response:
        return self.answer()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self.path, self._get)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        logger.debug("serving http://%s:%d%s", self.host, self.port, self.path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def health_endpoint(url: str, report: Callable[[], dict[str, Any]]) -> Endpoint:
    """``report`` raises when unhealthy."""

    def answer() -> web.Response:
        try:
            body = report()
        except Exception as error:
            return web.json_response({"error": f"{type(error).__name__}: {error}"}, status=500)
        return web.json_response(body, dumps=lambda value: json.dumps(value, default=str))

    return Endpoint(url, answer, "/healthz")


def metrics_endpoint(url: str, registry: CollectorRegistry) -> Endpoint:
    return Endpoint(
        url, lambda: web.Response(body=exposition(registry), headers={"Content-Type": CONTENT_TYPE}), "/metrics"
    )
