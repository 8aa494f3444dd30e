"""Hostile input the API server accepts (it cannot know): each object is reported by a condition
with a precise reason, nothing crashes, and a valid tenant in the same namespace keeps its
deadlines to the second. (What the API server refuses, naming the field, is the corpus in
``tests/manifests.py``, run by tests/e2e/test_crds.py and the unit tests.)"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests import manifests
from tests.conftest import kubectl_error
from tests.e2e.conftest import StartOperator
from tests.kube import apply, condition, get, phase, refusal, wait_for
from tests.reliability.conftest import Report

pytestmark = pytest.mark.e2e

POLICY = {
    "autoDeploy": {"every": "1s", "offset": "0s"},
    "dns": {"verify": False},
    "license": {"minimumGrace": "3s", "freeze": "60s", "remindersFull": ["2s"], "mxChangeNotice": "1s"},
}
ON_TIME = timedelta(seconds=1.5)


def _reasons(body: dict[str, Any] | None) -> set[str]:
    return {c["reason"] for c in ((body or {}).get("status") or {}).get("conditions", [])}


def _product(name: str, *requires: str) -> dict[str, Any]:
    spec = {"displayName": name, "requires": list(requires), "billing": {"type": "recurring"}}
    return manifests.obj("Product", name, spec)


def _confirmed(plane: ControlPlane, namespace: str, name: str) -> bool:
    return ((get(plane, "domains.lifecycle", namespace, name) or {}).get("status") or {}).get("phase") not in (
        None,
        "ordered",
    )


def _period(plane: ControlPlane, namespace: str, name: str) -> str | None:
    return ((get(plane, "licenses.lifecycle", namespace, name) or {}).get("status") or {}).get("period")


def test_accepted_nonsense_is_reported_by_conditions_while_others_keep_their_deadlines(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, report: Report
) -> None:
    start_operator(POLICY)
    suffix = uuid.uuid4().hex[:6]
    loop_a, loop_b, needy = f"loop-a-{suffix}", f"loop-b-{suffix}", f"needy-{suffix}"
    expires = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    steady = [
        manifests.tenant("steady"),
        manifests.domain("steady"),
        manifests.service("steady-sign", "steady", "sign-only", users=3),
        manifests.license("steady", "steady", expires.isoformat().replace("+00:00", "Z")),
    ]
    hostile: dict[tuple[str, str], tuple[dict[str, Any], str]] = {
        ("products.lifecycle", loop_a): (_product(loop_a, loop_b), "RequirementCycle"),
        ("products.lifecycle", loop_b): (_product(loop_b, loop_a), "RequirementCycle"),
        ("products.lifecycle", needy): (_product(needy, "never-created"), "RequiredProductMissing"),
        ("domains.lifecycle", "orphan"): (manifests.domain("orphan", "no-such-tenant"), "TenantNotFound"),
        ("services.lifecycle", "stray"): (manifests.service("stray", "no-such-domain", "sign-only"), "DomainNotFound"),
        ("services.lifecycle", "unknown-product"): (
            manifests.service("unknown-product", "steady", "no-such-product"),
            "ProductNotFound",
        ),
        # Another tenant ordering the steady tenant's domain name later: refused, never deployed.
        ("domains.lifecycle", "squatter"): (
            manifests.domain("squatter", "squatting", domain_name="steady.test"),
            "DomainConflict",
        ),
        ("payments.lifecycle", "for-nothing"): (
            manifests.payment("for-nothing", "no-such-invoice", "10.00"),
            "InvoiceNotFound",
        ),
    }
    garbage = {"lifecycle.seppmail.cloud/expedite-removal": "maybe", "lifecycle.seppmail.cloud/refresh": "\u2603" * 40}
    try:
        apply(catalogue, namespace, *steady, manifests.tenant("squatting"))
        # A claim is older by its creation second (then by uid): the squatter comes a second later.
        wait_for("the steady domain confirmed", lambda: _confirmed(catalogue, namespace, "steady"))
        time.sleep(1.1)
        apply(catalogue, namespace, *(body for body, _ in hostile.values()))
        for resource, name in (("domains.lifecycle", "steady"), ("services.lifecycle", "steady-sign")):
            catalogue.kubectl("annotate", "-n", namespace, resource, name, *(f"{k}={v}" for k, v in garbage.items()))

        # A status written by hand that no operator would write is refused, naming the field.
        refused = catalogue.kubectl(
            "patch",
            "-n",
            namespace,
            "services.lifecycle",
            "steady-sign",
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status": {"phase": "hacked"}}',
            check=False,
        )
        assert "status.phase" in kubectl_error(refused)

        # And all the while, every manifest the API server refuses is tried, naming its field.
        for case in manifests.INVALID:
            assert case.field in refusal(catalogue, namespace, case.manifest()), case.id
        for update in manifests.FORBIDDEN_UPDATES:
            first, second = update.manifests()
            first["metadata"]["name"] = second["metadata"]["name"] = f"forbidden-{update.id}"
            apply(catalogue, namespace, first)
            assert update.message in refusal(catalogue, namespace, second), update.id

        for (resource, name), (_, reason) in hostile.items():
            scope = "" if resource == "products.lifecycle" else namespace

            def reported(r: str = resource, n: str = name, s: str = scope, why: str = reason) -> bool:
                return why in _reasons(get(catalogue, r, s, n))

            wait_for(f"{name}: {reason}", reported, timeout=20)

        # Meanwhile the steady tenant provisions and its license keeps its deadlines.
        wait_for("the steady license frozen", lambda: _period(catalogue, namespace, "steady") == "Freeze", timeout=30)
        history = get(catalogue, "licenses.lifecycle", namespace, "steady")["status"]["history"]
        at = {h["to"]: datetime.fromisoformat(h["at"].replace("Z", "+00:00")) for h in history}
        due = {"Grace": expires, "Freeze": expires + timedelta(seconds=3)}
        late = {to: (at[to], when) for to, when in due.items() if abs(at[to] - when) >= ON_TIME}
        assert late == {}
        domain = get(catalogue, "domains.lifecycle", namespace, "steady")
        assert domain["status"]["phase"] == "provisioned"
        assert get(catalogue, "domains.lifecycle", namespace, "squatter")["status"].get("phase") in (None, "ordered")
    finally:
        catalogue.kubectl("delete", "products.lifecycle", loop_a, loop_b, needy, "--wait=false", check=False)
    report.add("hostile objects the API server accepts, each reported by a condition", len(hostile) + len(garbage))
    report.add("hostile manifests the API server refuses, naming the field", len(manifests.INVALID) + 1)
    report.add("forbidden updates the API server refuses", len(manifests.FORBIDDEN_UPDATES))
    report.add("license transitions off time beside hostile input", len(late))


def test_a_status_written_by_someone_else_is_taken_as_written_and_reported(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator, report: Report
) -> None:
    start_operator(POLICY)
    apply(catalogue, namespace, manifests.tenant("edited"), manifests.domain("edited"))
    wait_for(
        "the domain provisioned", lambda: phase(catalogue, "domains.lifecycle", namespace, "edited") == "provisioned"
    )
    domain = get(catalogue, "domains.lifecycle", namespace, "edited")
    # The operator's own status writes carry its field manager: what tells them from anyone else's.
    shown = catalogue.kubectl(
        "get", "-n", namespace, "domains.lifecycle", "edited", "-o", "json", "--show-managed-fields"
    ).stdout
    managed = json.loads(shown)["metadata"]["managedFields"]
    writers = {e["manager"] for e in managed if e.get("subresource") == "status"}
    assert writers == {"seppmail-lifecycle"}
    assert condition(domain, "StatusEdited") is None

    # A cluster admin (who may) writes a status the schema accepts but the operator never wrote.
    catalogue.kubectl(
        "patch",
        "-n",
        namespace,
        "domains.lifecycle",
        "edited",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"lastServiceNumber": 41}}',
    )
    report.add("hostile: statuses written by others, reported")

    def reported() -> Any:
        return condition(get(catalogue, "domains.lifecycle", namespace, "edited"), "StatusEdited")

    reported_edit = wait_for("the edit reported", reported)
    edited = get(catalogue, "domains.lifecycle", namespace, "edited")
    assert (reported_edit["status"], reported_edit["reason"]) == ("True", "WrittenByAnotherManager")
    assert reported_edit["message"].startswith("status.lastServiceNumber written by 'kubectl-patch' at ")
    assert "domains/status" in reported_edit["message"]
    assert condition(edited, "Ready")["status"] == "True"  # nothing else about the domain changed
    # Taken as written (it may be a repair): the next service is numbered after it.
    apply(catalogue, namespace, manifests.service("edited-sign", "edited", "sign-only"))
    numbered = wait_for(
        "the next service numbered",
        lambda: ((get(catalogue, "services.lifecycle", namespace, "edited-sign") or {}).get("status") or {}).get(
            "number"
        ),
    )
    assert numbered == 42
    # Writing 42 took the edited field over: the report goes with it.
    wait_for("the report cleared", lambda: reported() is None)
