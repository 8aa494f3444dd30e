"""Isolation between partners, as the real API server authorises it: the Helm chart installed with
two partner namespaces (acme with a tenant namespace of its own, globex), each with its own groups
for every role. No role of one partner can read, create, change, delete or write the status of
anything in the other's namespaces, nor list across namespaces, nor read any Secret or the
operator's ConfigMaps; the same requests at home are allowed (so each refusal is RBAC's, not a
broken request).

Two ways to ask: the authorizer's own rules (a SelfSubjectRulesReview per role and namespace,
impersonated), and real requests with a client certificate per role, whose refusals are counted.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle import GROUP
from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests.helm import CHART, Helm
from tests.kube import wait_for
from tests.manifests import VALID
from tests.reliability.conftest import Report

pytestmark = pytest.mark.e2e

RELEASE = "isolation"
SYSTEM_NAMESPACE = "isolation-system"
ROLES = ("sales", "support", "tech", "platform-support", "billing", "partner-admin")
ROLE_KEYS = {
    "sales": "salesGroups",
    "support": "supportGroups",
    "tech": "techGroups",
    "platform-support": "platformSupportGroups",
    "billing": "billingGroups",
    "partner-admin": "partnerAdminGroups",
}
NAMESPACED = [info for info in ALL_KINDS if info.scope == "Namespaced"]
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


@dataclass(frozen=True)
class Partner:
    name: str
    namespace: str
    tenant_namespace: str | None = None

    def group(self, role: str) -> str:
        return f"{self.name}-{role}"

    @property
    def tenant_admins(self) -> str:
        return f"{self.name}-tenant-admins"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.namespace, *((self.tenant_namespace,) if self.tenant_namespace else ()))


@dataclass(frozen=True)
class Installation:
    plane: ControlPlane
    acme: Partner
    globex: Partner

    def other(self, partner: Partner) -> Partner:
        return self.globex if partner is self.acme else self.acme


def _values(acme: Partner, globex: Partner) -> list[str]:
    flags = ["--set", f"tenantNamespaces[0].namespace={acme.tenant_namespace}"]
    flags += ["--set", f"tenantNamespaces[0].partner={acme.namespace}"]
    flags += ["--set", f"tenantNamespaces[0].tenantAdminGroups[0]={acme.tenant_admins}"]
    for index, partner in enumerate((acme, globex)):
        flags += ["--set", f"partnerNamespaces[{index}].namespace={partner.namespace}"]
        for role, key in ROLE_KEYS.items():
            flags += ["--set", f"partnerNamespaces[{index}].{key}[0]={partner.group(role)}"]
    return flags


@pytest.fixture(scope="module")
def installed(crds: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    if crds.binaries.helm is None:
        pytest.skip("the control plane has no helm binary")
    suffix = uuid.uuid4().hex[:6]
    acme = Partner("acme", f"partner-acme-{suffix}", f"tenant-acme-{suffix}")
    globex = Partner("globex", f"partner-globex-{suffix}")
    namespaces = [*acme.namespaces, *globex.namespaces]
    for namespace in namespaces:
        crds.kubectl("create", "namespace", namespace)
    helm = Helm(crds.binaries.helm, tmp_path_factory.mktemp("helm-home"))
    release = (RELEASE, "--namespace", SYSTEM_NAMESPACE, f"--kubeconfig={crds.admin_kubeconfig}")
    try:
        helm("install", *release, str(CHART), "--create-namespace", *_values(acme, globex))
        yield Installation(crds, acme, globex)
    finally:
        helm("uninstall", *release, "--wait", "--timeout=60s", check=False)
        for namespace in (*namespaces, SYSTEM_NAMESPACE):
            crds.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


# ------------------------------------------------------------------------- the authorizer's rules


def _rules(plane: ControlPlane, group: str, namespace: str) -> dict[tuple[str, str], set[str]]:
    """What ``group`` may do in ``namespace``: (api group, resource) -> verbs, as the API server's
    authorizer lists them for an impersonated member."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": namespace},
    }
    result = plane.kubectl(
        "create",
        "--validate=false",
        "-o",
        "json",
        "-f",
        "-",
        f"--as={group}-member",
        f"--as-group={group}",
        input=json.dumps(review),
    )
    status = json.loads(result.stdout)["status"]
    assert not status.get("incomplete"), status
    allowed: dict[tuple[str, str], set[str]] = {}
    for rule in status.get("resourceRules", []):
        for api_group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                allowed.setdefault((api_group, resource), set()).update(rule.get("verbs", []))
    return allowed


def _guarded(allowed: dict[tuple[str, str], set[str]]) -> dict[tuple[str, str], set[str]]:
    """The rules on what partners must not reach across: our namespaced kinds (and their
    subresources), Secrets and ConfigMaps (SMTP credentials, routing, mail ledgers)."""
    ours = {info.plural for info in NAMESPACED}
    return {
        (api_group, resource): verbs
        for (api_group, resource), verbs in allowed.items()
        if (api_group in (GROUP, "*") and (resource == "*" or resource.partition("/")[0] in ours))
        or (api_group in ("", "*") and resource in ("secrets", "configmaps", "*"))
    }


def test_no_role_of_one_partner_has_any_right_in_the_other_partners_namespaces(
    installed: Installation, report: Report
) -> None:
    plane = installed.plane
    # RoleBindings reach the authorizer through its informer: wait until home rights show.
    wait_for(
        "the release's role bindings in force",
        lambda: _guarded(_rules(plane, installed.acme.group("sales"), installed.acme.namespace)),
    )
    # (group, its home namespace, the namespaces it must not reach)
    cases: list[tuple[str, str, tuple[str, ...]]] = []
    for partner in (installed.acme, installed.globex):
        foreign = (*installed.other(partner).namespaces, SYSTEM_NAMESPACE, "default")
        cases += [(partner.group(role), partner.namespace, foreign) for role in ROLES]
        if partner.tenant_namespace:
            # A tenant's admins read their own tenant only: not the partner's other tenants either.
            cases.append((partner.tenant_admins, partner.tenant_namespace, (partner.namespace, *foreign)))
    for group, home_namespace, foreign in cases:
        home = _guarded(_rules(plane, group, home_namespace))
        assert home, f"{group} has no rights at home: the review cannot tell"
        assert not any(resource in ("secrets", "configmaps") for _, resource in home), (group, home)
        for namespace in foreign:
            report.add("isolation: rules reviews across partners")
            assert _guarded(_rules(plane, group, namespace)) == {}, f"{group} reaches into {namespace}"


# ------------------------------------------------------------------------- real requests


def _objects(namespace: str) -> list[dict[str, Any]]:
    """One valid object of every namespaced kind, named after the namespace's partner."""
    bodies = []
    for info in NAMESPACED:
        body = copy.deepcopy(VALID[info.kind])
        body["metadata"] = {"name": body["metadata"]["name"], "namespace": namespace}
        bodies.append(body)
    return bodies


class Tally:
    """The requests kubectl made across partners: refused by RBAC, or (never) allowed."""

    def __init__(self) -> None:
        self.refused = 0
        self.allowed: list[str] = []

    def add(self, result: subprocess.CompletedProcess[str], namespace: str | None) -> None:
        """Count a kubectl call's requests in ``namespace`` (None: at the cluster scope); kubectl
        goes on after each refusal and reports every one on stderr, and prints what it was allowed."""
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        refused = [line for line in result.stderr.splitlines() if "is forbidden: User" in line and where in line]
        others = [line for line in result.stderr.splitlines() if line.strip() and line not in refused]
        assert others == [], f"refused for another reason: {others}"
        self.refused += len(refused)
        self.allowed += [line for line in result.stdout.splitlines() if line.strip()]
        if result.returncode == 0 or not refused:
            self.allowed.append(f"kubectl {' '.join(map(str, result.args[1:]))!r} succeeded")


def _as(plane: ControlPlane, kubeconfig: Path, *args: str, body: str | None = None) -> subprocess.CompletedProcess[str]:
    return plane.kubectl(*args, kubeconfig=kubeconfig, input=body, check=False)


def test_every_request_across_partners_is_refused_and_the_same_request_at_home_is_not(
    installed: Installation, report: Report
) -> None:
    plane = installed.plane
    acme, globex = installed.acme, installed.globex
    # The objects a cross-partner request would read, change or delete: one of each kind per partner.
    for partner in (acme, globex):
        plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(_objects(partner.namespace)))
    resources = ",".join(f"{info.plural}.{GROUP}" for info in NAMESPACED)
    named = [f"{info.plural}.{GROUP}/{VALID[info.kind]['metadata']['name']}" for info in NAMESPACED]
    before = {
        p.namespace: plane.kubectl("get", resources, "-n", p.namespace, "-o", "json").stdout for p in (acme, globex)
    }

    tally = Tally()
    for partner in (acme, globex):
        other = installed.other(partner)
        for role in ROLES:
            user = plane.mint_kubeconfig(f"{partner.name}-{role}-user", [partner.group(role)])
            # At home the same identity reads its domains (a control: refusals are RBAC's).
            home = _as(plane, user, "get", f"domains.{GROUP}", "-n", partner.namespace, "-o", "name")
            assert home.returncode == 0, home.stderr
            assert f"domain.{GROUP}/d1" in home.stdout
            for namespace in other.namespaces:
                tally.add(_as(plane, user, "get", resources, "-n", namespace), namespace)
                tally.add(_as(plane, user, "get", *named, "-n", namespace), namespace)
                tally.add(
                    _as(
                        plane,
                        user,
                        "create",
                        "--validate=false",
                        "-f",
                        "-",
                        body=yaml.safe_dump_all(_objects(namespace)),
                    ),
                    namespace,
                )
                tally.add(_as(plane, user, "label", "-n", namespace, *named, "hijacked=yes"), namespace)
                tally.add(_as(plane, user, "delete", "-n", namespace, *named, "--wait=false"), namespace)
                for target in named[:3]:
                    status = _as(
                        plane,
                        user,
                        "patch",
                        "-n",
                        namespace,
                        target,
                        "--subresource=status",
                        "--type=merge",
                        "-p",
                        '{"status": {"phase": "provisioned"}}',
                    )
                    tally.add(status, namespace)
                tally.add(_as(plane, user, "get", "secrets,configmaps", "-n", namespace), namespace)
            tally.add(_as(plane, user, "get", resources, "--all-namespaces"), None)
            tally.add(_as(plane, user, "get", "secrets", "-n", SYSTEM_NAMESPACE), SYSTEM_NAMESPACE)
    report.add("isolation: requests across partners refused", tally.refused)
    report.add("isolation: requests across partners allowed", len(tally.allowed))
    assert tally.allowed == [], "allowed across partners"
    after = {
        p.namespace: plane.kubectl("get", resources, "-n", p.namespace, "-o", "json").stdout for p in (acme, globex)
    }
    assert after == before, "a refused request changed something"
