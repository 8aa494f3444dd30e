"""Typed errors of the Kubernetes API: the one place that reads HTTP status codes.

Every call in ``kube/`` turns the client library's ``ApiException`` into one of these, so the
layers above decide on what happened (gone, changed meanwhile, already there), never on numbers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from kubernetes_asyncio.client.exceptions import ApiException

__all__ = [
    "AlreadyExists",
    "ApiError",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "api_errors",
    "translate",
]


class ApiError(Exception):
    """The API server refused a request; ``status`` and ``reason`` as it said them."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    """404: the object (or its namespace) does not exist."""


class Conflict(ApiError):
    """409: the object changed since the resourceVersion the request was based on."""


class AlreadyExists(Conflict):
    """409 AlreadyExists: a create found an object of that name."""


class Gone(ApiError):
    """410: a list continuation or watch resourceVersion is too old; start over."""


class Forbidden(ApiError):
    """403: RBAC does not allow the call."""


class Invalid(ApiError):
    """422: the object fails validation (schema, CEL rules, immutability)."""


_BY_STATUS: dict[int, type[ApiError]] = {403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone, 422: Invalid}


def translate(error: ApiException) -> ApiError:
    """The typed error of an ``ApiException``, with the server's reason and message."""
    status = int(error.status or 0)
    reason, message = str(error.reason or ""), ""
    try:
        body = json.loads(error.body) if error.body else {}
    except (TypeError, ValueError):
        body = {}
    if isinstance(body, dict):
        reason = str(body.get("reason") or reason)
        message = str(body.get("message") or "")
    if status == 409 and reason == "AlreadyExists":
        return AlreadyExists(status, reason, message)
    return _BY_STATUS.get(status, ApiError)(status, reason, message)


@contextlib.contextmanager
def api_errors() -> Iterator[None]:
    """Raise the typed error instead of the client library's exception."""
    try:
        yield
    except ApiException as error:
        raise translate(error) from error
