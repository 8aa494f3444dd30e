"""The order lifecycle on the real control plane, with a seconds-scale policy: the examples reach
provisioned; checks hold orders back with the exact reason; deploy requests, RBAC, cancellation,
deletion and an operator restart across a due time behave as the design says."""

from __future__ import annotations

import copy
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests import manifests
from tests.conftest import EXAMPLES_DIR
from tests.e2e.conftest import StartOperator
from tests.kube import (
    apply,
    condition,
    deploy_request_completed,
    events_for,
    get,
    items,
    merge_patch,
    phase,
    transition_events,
    wait_for,
    wait_phases,
)

pytestmark = pytest.mark.e2e

API = "lifecycle.seppmail.cloud/v1alpha1"
# Deploy windows far apart: nothing deploys unless the test asks for it.
# These scenarios are about orders: the partner's DNS records are not checked here (see
# test_partner_actions.py for that).
NO_DNS = {"dns": {"verify": False}}
NO_AUTO_DEPLOY = {"autoDeploy": {"every": "24h", "offset": "0s"}, **NO_DNS}
FAST = {"autoDeploy": {"every": "2s", "offset": "0s"}, "cancellationDelay": "4s", "retention": "1s", **NO_DNS}

Body = dict[str, Any]


def example(filename: str) -> list[Body]:
    return [d for d in yaml.safe_load_all((EXAMPLES_DIR / filename).read_text()) if d]


def by_kind(docs: list[Body], kind: str) -> list[Body]:
    return [d for d in docs if d["kind"] == kind]


def test_examples_reach_provisioned(catalogue: ControlPlane, namespace: str, start_operator: StartOperator) -> None:
    start_operator(FAST)
    catalogue.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES_DIR))
    wait_phases(catalogue, namespace, "domains.lifecycle", "provisioned")
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")

    services = {s["metadata"]["name"]: s for s in items(catalogue, "services.lifecycle", namespace)}
    # The operator booked the base service globex did not declare, owned by its Domain.
    base = services["globex-de-base"]
    assert base["metadata"]["ownerReferences"][0]["kind"] == "Domain"
    for domain, count in (("acme-ch", 3), ("globex-de", 2)):
        numbers = sorted(s["status"]["number"] for s in services.values() if s["spec"]["domainRef"]["name"] == domain)
        assert numbers == list(range(1, count + 1))
    # Billing starts when provisioned and users > 0: not for the operator-booked base (0 users).
    assert services["acme-ch-sign-encrypt"]["status"]["billing"]["start"]
    assert "billing" not in base["status"] or "start" not in base["status"]["billing"]
    assert services["globex-de-sign-only"]["status"]["discount"] == "10 (nfr)"
    for service in services.values():
        assert condition(service, "Ready")["status"] == "True"
        assert service["status"]["id"].startswith("SVC-")
        assert service["status"]["observedGeneration"] == service["metadata"]["generation"]
        assert [h["to"] for h in service["status"]["history"]] == ["confirmed", "provisioning", "provisioned"]

    configmaps = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")
    routing = {cm["data"]["domain"]: cm for cm in configmaps}
    assert set(routing) == {"acme.ch", "globex.de"}
    assert routing["acme.ch"]["data"]["ginaHost"] == "gina.acme.ch"
    assert routing["acme.ch"]["data"]["services"].splitlines() == [
        "acme-ch-base=base",
        "acme-ch-onboarding=onboarding",
        "acme-ch-sign-encrypt=sign-encrypt",
    ]
    assert routing["acme.ch"]["metadata"]["labels"]["lifecycle.seppmail.cloud/tenant"] == "acme"

    tenants = {t["metadata"]["name"]: t["status"] for t in items(catalogue, "tenants.lifecycle", namespace)}
    assert (tenants["acme"]["managedDomains"], tenants["acme"]["totalServices"]) == (1, 3)
    assert (tenants["globex"]["managedDomains"], tenants["globex"]["totalServices"]) == (1, 2)

    # Events carry the whole path (one per write at most, merged while waiting to be posted).
    events = transition_events(catalogue, namespace, "acme-ch-sign-encrypt", "-> provisioned")
    for step in ("-> confirmed", "-> provisioning", "-> provisioned", "Deployment started by"):
        assert events.count(step) == 1, step
    assert len(events_for(catalogue, namespace, "acme-ch-sign-encrypt")) <= 2

    table = catalogue.kubectl("get", "services.lifecycle", "-A").stdout
    # Other tests apply the examples too (their namespaces may still be terminating): ours only.
    row = next(r for r in (line.split() for line in table.splitlines()) if r[:2] == [namespace, "acme-ch-sign-encrypt"])
    number = str(services["acme-ch-sign-encrypt"]["status"]["number"])
    billing_start = services["acme-ch-sign-encrypt"]["status"]["billing"]["start"]
    assert (
        row[:8]
        == [namespace, "acme-ch-sign-encrypt", number, "acme-ch", "sign-encrypt", "provisioned", "", billing_start][:6]
        + row[6:8]
    )
    assert billing_start in row


def _tenant_domain(name: str, domain_name: str, **spec: Any) -> list[Body]:
    return [manifests.tenant(name), manifests.domain(name, domain_name=domain_name, **spec)]


def _service(name: str, domain: str, product: str, **spec: Any) -> Body:
    return manifests.service(name, domain, product, **spec)


def _provisioned_with_sign_only(plane: ControlPlane, namespace: str, name: str, users: int) -> None:
    """Tenant and domain ``name`` with a base and a sign-only service of ``users``, provisioned."""
    apply(
        plane,
        namespace,
        *_tenant_domain(name, f"{name}.example"),
        _service(f"{name}-base", name, "base", users=users),
        _service(f"{name}-sign-only", name, "sign-only", users=users),
    )
    wait_phases(plane, namespace, "services.lifecycle", "provisioned")


def test_missing_dependency_holds_the_order_until_it_is_booked(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(NO_AUTO_DEPLOY)
    apply(
        catalogue,
        namespace,
        *_tenant_domain("initech", "initech.example"),
        _service("initech-archiving", "initech", "archiving", users=10),
    )

    def held() -> Body | None:
        service = get(catalogue, "services.lifecycle", namespace, "initech-archiving")
        confirmed = condition(service, "Confirmed") if service else None
        return service if confirmed and confirmed["reason"] == "MissingDependency" else None

    service = wait_for("MissingDependency on initech-archiving", held)
    assert service["status"]["phase"] == "ordered"
    assert "'sign-only'" in condition(service, "Confirmed")["message"]
    assert condition(service, "Stalled")["status"] == "True"
    assert condition(service, "Ready")["status"] == "False"
    # The base service the operator booked is confirmed meanwhile: one bad order blocks nothing else.
    wait_for("base confirmed", lambda: phase(catalogue, "services.lifecycle", namespace, "initech-base") == "confirmed")

    apply(catalogue, namespace, _service("initech-sign-only", "initech", "sign-only", users=10))
    wait_for(
        "initech-archiving confirmed",
        lambda: phase(catalogue, "services.lifecycle", namespace, "initech-archiving") == "confirmed",
    )
    service = get(catalogue, "services.lifecycle", namespace, "initech-archiving")
    assert condition(service, "Stalled")["status"] == "False"
    assert service["status"]["next"]["action"] == "Deploy"


def test_younger_claim_on_a_domain_gets_domain_conflict_and_is_never_deployed(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(FAST)
    apply(catalogue, namespace, *_tenant_domain("first", "shared.example"))
    # Claims are ordered by creation time (seconds); let the first be clearly older.
    wait_for(
        "first confirmed",
        lambda: (
            phase(catalogue, "domains.lifecycle", namespace, "first") in ("confirmed", "provisioning", "provisioned")
        ),
    )
    time.sleep(1)
    apply(catalogue, namespace, *_tenant_domain("second", "shared.example"))

    wait_for("first provisioned", lambda: phase(catalogue, "domains.lifecycle", namespace, "first") == "provisioned")
    second = wait_for(
        "DomainConflict on second",
        lambda: (
            (d := get(catalogue, "domains.lifecycle", namespace, "second"))
            and (condition(d, "Confirmed") or {}).get("reason") == "DomainConflict"
            and d
        ),
    )
    assert "first" in condition(second, "Confirmed")["message"]
    wait_for(
        "second-base held by the conflict",
        lambda: (
            (s := get(catalogue, "services.lifecycle", namespace, "second-base"))
            and (condition(s, "Confirmed") or {}).get("reason") == "DomainConflict"
        ),
    )
    # Several deploy windows later the younger claim is still not deployed anywhere.
    catalogue.kubectl(
        "wait",
        "--for=jsonpath={.status.phase}=provisioned",
        "-n",
        namespace,
        "services.lifecycle/first-base",
        "--timeout=20s",
    )
    time.sleep(5)
    assert phase(catalogue, "domains.lifecycle", namespace, "second") == "ordered"
    routed = [
        cm["data"]["tenant"]
        for cm in items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")
    ]
    assert routed == ["first"]


def _bind(plane: ControlPlane, namespace: str, role: str, group: str, rules: list[Body]) -> None:
    apply(
        plane,
        namespace,
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": role}, "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
        },
    )


def _chart_roles(plane: ControlPlane) -> dict[str, list[Body]]:
    """The user ClusterRoles' rules exactly as the Helm chart ships them (rendered by real helm)."""
    helm = plane.binaries.helm
    assert helm is not None
    chart = Path(__file__).resolve().parents[2] / "charts" / "seppmail-lifecycle"
    rendered = subprocess.run(
        [str(helm), "template", "rbac-test", str(chart)], check=True, capture_output=True, text=True
    ).stdout
    roles = {}
    for doc in yaml.safe_load_all(rendered):
        if doc and doc["kind"] == "ClusterRole":
            roles[doc["metadata"]["name"].removeprefix("rbac-test-seppmail-lifecycle-")] = doc["rules"]
    return roles


def test_tech_deploys_with_a_deploy_request_and_sales_may_not(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    roles = _chart_roles(catalogue)
    _bind(catalogue, namespace, "sales", "partner-sales", roles["sales"])
    _bind(catalogue, namespace, "tech", "partner-tech", roles["tech"])
    sales = catalogue.mint_kubeconfig("sam", ["partner-sales"])
    tech = catalogue.mint_kubeconfig("tess", ["partner-tech"])
    start_operator(NO_AUTO_DEPLOY)

    # Sales orders (with its own credentials), and cannot press the deploy button.
    apply(
        catalogue,
        namespace,
        *_tenant_domain("hooli", "hooli.example"),
        _service("hooli-sign-only", "hooli", "sign-only", users=3),
        kubeconfig=sales,
    )
    wait_phases(catalogue, namespace, "services.lifecycle", "confirmed")
    request = {"apiVersion": API, "kind": "DeployRequest", "metadata": {"name": "deploy-now"}, "spec": {}}
    refused = catalogue.kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(request), kubeconfig=sales, check=False
    )
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()

    apply(catalogue, namespace, request, kubeconfig=tech)
    done = deploy_request_completed(catalogue, namespace, "deploy-now")
    assert done["status"]["deployedDomains"] == ["hooli"]
    assert sorted(done["status"]["deployedServices"]) == ["hooli-base", "hooli-sign-only"]
    assert done["status"]["message"].startswith("Deployment started for 1 domain(s) and 2 service(s)")
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    service = get(catalogue, "services.lifecycle", namespace, "hooli-sign-only")
    assert "DeployRequest 'deploy-now'" in service["status"]["history"][1]["message"]
    # Done with it: Tech may remove it (Sales may not).
    refused = catalogue.kubectl(
        "delete", "deployrequests.lifecycle", "deploy-now", "-n", namespace, kubeconfig=sales, check=False
    )
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()
    catalogue.kubectl("delete", "deployrequests.lifecycle", "deploy-now", "-n", namespace, kubeconfig=tech)


def _request(name: str, *domains: str, **metadata: Any) -> Body:
    return {
        "apiVersion": API,
        "kind": "DeployRequest",
        "metadata": {"name": name, **metadata},
        "spec": {"domains": list(domains)},
    }


def test_a_deploy_request_committed_with_its_domains_deploys_them_and_is_removed_after_its_ttl(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(NO_AUTO_DEPLOY | {"deployRequests": {"waitForChecks": "30s", "ttlAfterCompleted": "3s"}})
    git = {
        "annotations": {
            "argocd.argoproj.io/tracking-id": f"partner:lifecycle.seppmail.cloud/DeployRequest:{namespace}/x"
        }
    }
    # One commit, one apply: the request comes first, its domains after it.
    apply(
        catalogue,
        namespace,
        _request("deploy-with-commit", "wonka", "slugworth"),
        _request("deploy-from-git", "slugworth", **git),
        *_tenant_domain("wonka", "wonka.example"),
        _service("wonka-sign-only", "wonka", "sign-only", users=1),
        *_tenant_domain("slugworth", "slugworth.example", tenantRef={"name": "nobody"}),  # its check fails
    )
    # Well before waitForChecks (30 s): it completed because the checks did.
    done = deploy_request_completed(catalogue, namespace, "deploy-with-commit", timeout=25)
    assert done["status"]["deployedDomains"] == ["wonka"]
    assert [s["name"] for s in done["status"]["skipped"]] == ["slugworth"]
    assert done["status"]["skipped"][0]["reason"].startswith("not confirmed yet: Tenant 'nobody' does not exist")
    assert [h["to"] for h in done["status"]["history"]] == ["Completed"]
    wait_for("wonka provisioned", lambda: phase(catalogue, "domains.lifecycle", namespace, "wonka") == "provisioned")
    # Past its TTL it is deleted; the one Argo CD syncs stays (deleting it, the next sync would re-run it).
    wait_for(
        "the completed request deleted after its TTL",
        lambda: get(catalogue, "deployrequests.lifecycle", namespace, "deploy-with-commit") is None,
        timeout=15,
    )
    kept = get(catalogue, "deployrequests.lifecycle", namespace, "deploy-from-git")
    assert kept is not None
    assert kept["status"]["phase"] == "Completed"


def test_cancelling_the_base_service_cancels_the_domain_and_removal_waits_for_the_delay(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(FAST)
    # No users entered: nothing is billed, so removal waits for the delay only (a billed service
    # runs until its end-billing date: test_a_billed_service_runs_until_its_end_billing_date).
    _provisioned_with_sign_only(catalogue, namespace, "umbrella", users=0)

    merge_patch(
        catalogue,
        namespace,
        "services.lifecycle",
        "umbrella-base",
        {"spec": {"cancellation": {"reason": "customer left"}}},
    )
    wait_phases(catalogue, namespace, "services.lifecycle", "cancelled", timeout=3)
    assert phase(catalogue, "domains.lifecycle", namespace, "umbrella") == "cancelled"
    sign_only = get(catalogue, "services.lifecycle", namespace, "umbrella-sign-only")
    assert condition(sign_only, "Cancelled")["reason"] == "BaseServiceCancelled"
    assert sign_only["status"]["next"]["action"] == "Deprovision"
    # Still routed while cancelled: the partner migrates in the meantime.
    assert items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")

    wait_phases(catalogue, namespace, "services.lifecycle", "deprovisioned", timeout=20)
    wait_phases(catalogue, namespace, "domains.lifecycle", "deprovisioned", timeout=10)
    assert items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing") == []
    history = [
        h["to"] for h in get(catalogue, "services.lifecycle", namespace, "umbrella-sign-only")["status"]["history"]
    ]
    assert history[-3:] == ["cancelled", "deprovisioning", "deprovisioned"]
    tenant = get(catalogue, "tenants.lifecycle", namespace, "umbrella")
    wait_for(
        "tenant totals drop to zero",
        lambda: (
            (t := get(catalogue, "tenants.lifecycle", namespace, "umbrella"))
            and t["status"].get("totalServices") == 0
            and t
        ),
    )
    assert tenant is not None


def test_a_billed_service_runs_until_its_end_billing_date(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(FAST)
    _provisioned_with_sign_only(catalogue, namespace, "oscorp", users=5)
    end = (datetime.now(UTC) + timedelta(days=40)).date()
    merge_patch(
        catalogue,
        namespace,
        "services.lifecycle",
        "oscorp-base",
        {"spec": {"cancellation": {"endBillingDate": str(end)}}},
    )
    wait_phases(catalogue, namespace, "services.lifecycle", "cancelled", timeout=5)
    time.sleep(5)  # the cancellation delay (4 s) is over: billing is not, so nothing is removed
    runs_until = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    for name in ("oscorp-base", "oscorp-sign-only"):  # the cascaded service ends with the base
        service = get(catalogue, "services.lifecycle", namespace, name)
        assert service["status"]["phase"] == "cancelled", name
        assert service["status"]["billing"]["end"] == end.isoformat(), name
        assert f"End-billing date {end.isoformat()}." in condition(service, "Cancelled")["message"]
        assert service["status"]["next"]["action"] == "Deprovision"
        assert datetime.fromisoformat(service["status"]["next"]["at"]) == runs_until
    domain = get(catalogue, "domains.lifecycle", namespace, "oscorp")
    assert domain["status"]["phase"] == "cancelled"
    assert datetime.fromisoformat(domain["status"]["next"]["at"]) == runs_until
    routing = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")[0]
    assert routing["data"]["services"].splitlines() == ["oscorp-base=base", "oscorp-sign-only=sign-only"]


def test_a_suspended_service_is_not_ready_and_its_routing_limits_it(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(FAST)
    apply(
        catalogue,
        namespace,
        *_tenant_domain("lexcorp", "lexcorp.example"),
        _service("lexcorp-sign-only", "lexcorp", "sign-only", users=3, suspension={"reason": "misuse"}),
    )
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    suspended = wait_for(
        "the suspension in the routing config",
        lambda: (
            (cms := items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing"))
            and cms[0]["data"].get("limited") == "lexcorp-sign-only=misuse\n"
            and get(catalogue, "services.lifecycle", namespace, "lexcorp-sign-only")
        ),
    )
    assert suspended["status"]["subscription"] == {"state": "SUSPENDED", "reason": "misuse"}
    assert (condition(suspended, "Suspended")["status"], condition(suspended, "Suspended")["reason"]) == (
        "True",
        "Misuse",
    )
    ready = condition(suspended, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Misuse")
    assert ready["message"].startswith("Access is limited")

    catalogue.kubectl(
        "patch", "services.lifecycle", "lexcorp-sign-only", "-n", namespace, "--type=json",
        "-p", '[{"op": "remove", "path": "/spec/suspension"}]',
    )  # fmt: skip
    lifted = wait_for(
        "the suspension lifted",
        lambda: (
            (s := get(catalogue, "services.lifecycle", namespace, "lexcorp-sign-only"))
            and condition(s, "Ready")["status"] == "True"
            and s
        ),
    )
    assert condition(lifted, "Suspended")["status"] == "False"
    assert lifted["status"]["subscription"] == {"state": "OK"}
    routing = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")[0]
    assert routing["data"]["limited"] == ""


def test_a_confidential_domain_tells_the_gateways_so_and_can_be_switched_when_deployed(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(FAST)
    apply(catalogue, namespace, *_tenant_domain("tyrell", "tyrell.example", confidential=True))
    wait_phases(catalogue, namespace, "domains.lifecycle", "provisioned")

    def routed_confidential() -> str | None:
        configmaps = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")
        return configmaps[0]["data"]["confidential"] if configmaps else None

    assert routed_confidential() == "true"
    wide = catalogue.kubectl("get", "domains.lifecycle", "tyrell", "-n", namespace, "-o", "wide").stdout
    assert "CONFIDENTIAL" in wide.splitlines()[0]
    assert "true" in wide.splitlines()[1]
    merge_patch(catalogue, namespace, "domains.lifecycle", "tyrell", {"spec": {"confidential": False}})
    wait_for("the gateways told", lambda: routed_confidential() == "false")
    assert phase(catalogue, "domains.lifecycle", namespace, "tyrell") == "provisioned"


def test_a_service_cancelled_before_it_was_provisioned_is_discontinued_not_ok(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(NO_AUTO_DEPLOY)
    apply(
        catalogue,
        namespace,
        *_tenant_domain("cyberdyne", "cyberdyne.example"),
        _service("cyberdyne-sign-only", "cyberdyne", "sign-only", users=3, cancellation={}),
    )
    cancelled = wait_for(
        "cancelled",
        lambda: (
            (s := get(catalogue, "services.lifecycle", namespace, "cyberdyne-sign-only"))
            and (s.get("status") or {}).get("phase") == "cancelled"
            and s
        ),
    )
    assert cancelled["status"]["subscription"] == {"state": "DISCONTINUED"}
    assert "billing" not in cancelled["status"]


def test_deleting_a_service_keeps_it_until_deprovisioned(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    start_operator(FAST)
    apply(
        catalogue,
        namespace,
        *_tenant_domain("stark", "stark.example"),
        _service("stark-sign-only", "stark", "sign-only", users=0),  # not billed: removed after the delay
    )
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")

    catalogue.kubectl("delete", "services.lifecycle", "stark-sign-only", "-n", namespace, "--wait=false")
    cancelled = wait_for(
        "the deleted service cancelled",
        lambda: (
            (s := get(catalogue, "services.lifecycle", namespace, "stark-sign-only"))
            and s["status"]["phase"] == "cancelled"
            and s
        ),
        timeout=5,
    )
    assert cancelled["metadata"]["deletionTimestamp"]
    assert condition(cancelled, "Cancelled")["reason"] == "Deleted"
    # Still there, and still routed, until the cancellation delay has passed.
    assert get(catalogue, "services.lifecycle", namespace, "stark-sign-only") is not None
    routing = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")[0]
    assert "stark-sign-only=sign-only" in routing["data"]["services"]

    wait_for(
        "the service gone after deprovisioning",
        lambda: get(catalogue, "services.lifecycle", namespace, "stark-sign-only") is None,
        timeout=20,
    )
    routing = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")[0]
    assert "stark-sign-only" not in routing["data"]["services"]
    assert transition_events(catalogue, namespace, "stark-sign-only", "-> deprovisioned").count("-> deprovisioned") == 1


def test_restart_across_a_due_time_performs_the_overdue_transition_exactly_once(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    policy = copy.deepcopy(FAST) | {"cancellationDelay": "5s", "retention": "1h"}
    operator = start_operator(policy)
    apply(
        catalogue,
        namespace,
        *_tenant_domain("wayne", "wayne.example"),
        _service("wayne-sign-only", "wayne", "sign-only", users=0),  # not billed: removed after the delay
    )
    wait_phases(catalogue, namespace, "services.lifecycle", "provisioned")
    merge_patch(catalogue, namespace, "services.lifecycle", "wayne-sign-only", {"spec": {"cancellation": {}}})
    wait_for("cancelled", lambda: phase(catalogue, "services.lifecycle", namespace, "wayne-sign-only") == "cancelled")
    assert operator.stop() == 0

    time.sleep(6)  # the removal falls due while no operator runs
    assert phase(catalogue, "services.lifecycle", namespace, "wayne-sign-only") == "cancelled"
    restarted = start_operator(policy)
    wait_for(
        "deprovisioned after the restart",
        lambda: phase(catalogue, "services.lifecycle", namespace, "wayne-sign-only") == "deprovisioned",
    )
    time.sleep(2)  # a second (wrong) execution would show up within this
    service = get(catalogue, "services.lifecycle", namespace, "wayne-sign-only")
    history = [h["to"] for h in service["status"]["history"]]
    assert history.count("deprovisioning") == 1
    assert history.count("deprovisioned") == 1
    events = transition_events(catalogue, namespace, "wayne-sign-only", "-> deprovisioned")
    # Seen once in CI with two events naming "-> deprovisioning": say what both operators logged.
    logged = [line for o in (operator, restarted) for line in o.log_lines() if "wayne" in str(line)]
    assert events.count("-> deprovisioning") == 1, (events, logged)
    assert events.count("-> deprovisioned") == 1, (events, logged)


def test_the_longest_names_the_api_accepts_derive_valid_distinct_backend_names(
    catalogue: ControlPlane, namespace: str, start_operator: StartOperator
) -> None:
    """A tenant and domain named with 253 characters (the API's limit), and a second pair equal but
    for the last character: each gets its own base service and routing ConfigMap, and provisions
    (a plain cut of the derived names gave both the same, or one ending in "-")."""
    start_operator(FAST)
    names = ["x" * 240 + "-" * 5 + "a" * 7 + end for end in "bc"]
    for number, name in enumerate(names):
        tenant = manifests.tenant(name, contact={"email": f"it@long{number}.example"})
        apply(catalogue, namespace, tenant, manifests.domain(name, domain_name=f"long{number}.example"))
    wait_for(
        "both long domains provisioned",
        lambda: [phase(catalogue, "domains.lifecycle", namespace, n) for n in names] == ["provisioned"] * 2,
        timeout=60,
    )
    routing = items(catalogue, "configmaps", namespace, "lifecycle.seppmail.cloud/role=routing")
    assert len({cm["metadata"]["name"] for cm in routing}) == 2
    assert {cm["data"]["domain"] for cm in routing} == {"long0.example", "long1.example"}
    base = [s for s in items(catalogue, "services.lifecycle", namespace) if s["spec"]["product"] == "base"]
    assert len({s["metadata"]["name"] for s in base}) == 2
    assert all(len(s["metadata"]["name"]) <= 253 and s["metadata"]["name"].endswith("-base") for s in base)
