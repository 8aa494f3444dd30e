"""Reading the real cluster from tests: get objects as JSON and wait for conditions (bounded)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

from seppmail_lifecycle.devcluster.controlplane import ControlPlane

T = TypeVar("T")
Body = dict[str, Any]


def get(plane: ControlPlane, resource: str, namespace: str | None = None, name: str | None = None) -> Any:
    args = ["get", resource, "-o", "json"]
    if name:
        args.insert(2, name)
    if namespace:
        args += ["-n", namespace]
    result = plane.kubectl(*args, check=False)
    if result.returncode != 0:
        if "NotFound" in result.stderr:
            return None
        raise RuntimeError(result.stderr)
    return json.loads(result.stdout)


def items(plane: ControlPlane, resource: str, namespace: str, selector: str | None = None) -> list[Body]:
    args = ["get", resource, "-n", namespace, "-o", "json", *(["-l", selector] if selector else [])]
    found: list[Body] = json.loads(plane.kubectl(*args).stdout)["items"]
    return found


def apply(plane: ControlPlane, namespace: str, *docs: Body, kubeconfig: Any = None) -> None:
    plane.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(docs), kubeconfig=kubeconfig)


def refusal(plane: ControlPlane, namespace: str, doc: Body) -> str:
    """What the API server answers to ``kubectl apply`` of ``doc``, which it must refuse."""
    result = plane.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(doc), check=False)
    assert result.returncode != 0, f"kubectl unexpectedly succeeded: {result.stdout}"
    return result.stderr


def merge_patch(plane: ControlPlane, namespace: str, resource: str, name: str, change: Body) -> None:
    """`kubectl patch --type=merge` of ``change`` into the object, as a partner edits one."""
    plane.kubectl("patch", resource, name, "-n", namespace, "--type=merge", "-p", json.dumps(change))


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.25) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def phase(plane: ControlPlane, resource: str, namespace: str, name: str) -> str | None:
    body = get(plane, resource, namespace, name)
    return None if body is None else (body.get("status") or {}).get("phase")


def condition(body: Body, type_: str) -> Body | None:
    for cond in (body.get("status") or {}).get("conditions") or []:
        if cond["type"] == type_:
            found: Body = cond
            return found
    return None


def events_for(plane: ControlPlane, namespace: str, name: str) -> list[Body]:
    result = plane.kubectl(
        "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}", "-o", "json"
    )
    found: list[Body] = json.loads(result.stdout)["items"]
    return found


def transition_events(plane: ControlPlane, namespace: str, name: str, last: str) -> str:
    """The messages of an object's events, once one of them shows the transition ``last``
    (events are posted a moment after their transitions, merged per object while they wait)."""
    messages = wait_for(
        f"an event of {name} with {last!r}",
        lambda: (m := [e["message"] for e in events_for(plane, namespace, name)]) and any(last in x for x in m) and m,
    )
    return "\n".join(messages)


def all_phases(plane: ControlPlane, namespace: str, resource: str) -> dict[str, str | None]:
    return {i["metadata"]["name"]: (i.get("status") or {}).get("phase") for i in items(plane, resource, namespace)}


def wait_phases(plane: ControlPlane, namespace: str, resource: str, expected: str, timeout: float = 30) -> None:
    """Wait until there are objects of ``resource`` in ``namespace`` and every one is in ``expected``."""
    wait_for(
        f"every {resource} {expected}",
        lambda: (p := all_phases(plane, namespace, resource)) and all(v == expected for v in p.values()) and p,
        timeout,
    )


def deploy_request_completed(plane: ControlPlane, namespace: str, name: str, timeout: float = 30.0) -> Body:
    """Wait until the DeployRequest ``name`` is Completed; return it."""
    return wait_for(
        f"DeployRequest {name} completed",
        lambda: (
            (r := get(plane, "deployrequests.lifecycle", namespace, name))
            and (r.get("status") or {}).get("phase") == "Completed"
            and r
        ),
        timeout=timeout,
    )
