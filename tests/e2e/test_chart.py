"""The Helm chart: it lints and renders (CRDs through the crds/ symlink, two replicas with leader
election and a PodDisruptionBudget, Roles for exact watched namespaces,
the policy ConfigMap the operator accepts), and, installed on the real control plane with the
real helm binary, its RBAC lets each role do exactly what it should in a partner namespace.

The operator pod never runs (the control plane has no nodes): the assertions are on API objects
and on what the API server authorises.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.api.policy import Policy
from seppmail_lifecycle.devcluster.binaries import ensure_helm
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests.conftest import CRD_DIR
from tests.helm import CHART, KUBE_VERSION, RELEASE, SYSTEM_NAMESPACE, Docs, Helm
from tests.manifests import VALID

pytestmark = pytest.mark.e2e

OPERATOR_SA = f"system:serviceaccount:{SYSTEM_NAMESPACE}:{RELEASE}"
GROUP = "lifecycle.seppmail.cloud"
EVENTUALLY_SECONDS = 60.0

# The groups bound in the partner namespace by the installed release.
GROUPS = {
    "sales": "acme-sales",
    "support": "seppmail-support",
    "tenant-admin": "acme-tenant-admins",
    "tech": "seppmail-tech",
    "platform-support": "seppmail-platform-support",
    "billing": "seppmail-billing",
    "partner-admin": "acme-admins",
}


# ----------------------------------------------------------------------------- helpers


def find(docs: Docs, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] == kind and meta["name"] == name and (namespace is None or meta.get("namespace") == namespace):
            return doc
    pytest.fail(f"{kind} {name} not rendered; have {[(d['kind'], d['metadata']['name']) for d in docs]}")


def partner_values(namespace: str) -> list[str]:
    """`--set` flags binding every role's group in ``namespace``."""
    keys = {
        "salesGroups": "sales",
        "supportGroups": "support",
        "tenantAdminGroups": "tenant-admin",
        "techGroups": "tech",
        "platformSupportGroups": "platform-support",
        "billingGroups": "billing",
        "partnerAdminGroups": "partner-admin",
    }
    flags = ["--set", f"partnerNamespaces[0].namespace={namespace}"]
    for key, role in keys.items():
        flags += ["--set", f"partnerNamespaces[0].{key}[0]={GROUPS[role]}"]
    return flags


def create(
    plane: ControlPlane, namespace: str, kind: str, name: str, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`kubectl create` a valid ``kind`` named ``name`` (as admin, or as ``kubeconfig``'s user)."""
    body = copy.deepcopy(VALID[kind])
    body["metadata"]["name"] = name
    return plane.kubectl(
        "create", "-n", namespace, "-f", "-", input=yaml.safe_dump(body), kubeconfig=kubeconfig, check=False
    )


def assert_forbidden(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0, f"unexpectedly allowed: {result.stdout}"
    assert "forbidden" in result.stderr.lower(), result.stderr


def eventually(condition: Callable[[], bool], what: str, timeout: float = EVENTUALLY_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.5)


def can_i(plane: ControlPlane, who: list[str], verb: str, resource: str, *extra: str) -> bool:
    """`kubectl auth can-i` as admin impersonating ``who`` (exit code 1 means no)."""
    result = plane.kubectl("auth", "can-i", verb, resource, *who, *extra, check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer == "yes"


def as_group(role: str) -> list[str]:
    return [f"--as={role}-user", f"--as-group={GROUPS[role]}"]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


@pytest.fixture(scope="module")
def helm(helm_home: Path) -> Helm:
    """Helm for rendering and linting: no control plane needed."""
    binary = ensure_helm()
    if binary is None:
        pytest.skip("no helm binary (not on PATH, and no Go toolchain to build it)")
    return Helm(binary, helm_home)


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> Docs:
    return helm.template("--include-crds", *partner_values("partner-render"))


@pytest.fixture(scope="module")
def partner_namespace(control_plane: ControlPlane) -> Iterator[str]:
    """The partner namespace the release binds roles in (the chart never creates it)."""
    name = f"partner-chart-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def installed(control_plane: ControlPlane, helm_home: Path, partner_namespace: str) -> Iterator[ControlPlane]:
    """The chart installed with `helm install` on the control plane; uninstalled afterwards.

    Other tests may have applied the CRDs first: helm then skips them, which is fine (same files).
    """
    if control_plane.binaries.helm is None:
        pytest.skip("the control plane has no helm binary")
    helm = Helm(control_plane.binaries.helm, helm_home)
    kubeconfig = f"--kubeconfig={control_plane.admin_kubeconfig}"
    release = (RELEASE, "--namespace", SYSTEM_NAMESPACE, kubeconfig)
    succeeded = False
    try:
        helm("install", *release, str(CHART), "--create-namespace", *partner_values(partner_namespace))
        succeeded = True
        control_plane.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{info.crd_name}" for info in ALL_KINDS]
        )
        yield control_plane
    finally:
        uninstalled = helm("uninstall", *release, "--wait", "--timeout=60s", check=False)
        left = control_plane.kubectl(
            "get", "clusterroles,clusterrolebindings", "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name"
        ).stdout
        control_plane.kubectl("delete", "namespace", SYSTEM_NAMESPACE, "--wait=false", check=False)
        if succeeded:
            assert uninstalled.returncode == 0, uninstalled.stderr
            assert not left.strip(), f"left behind after helm uninstall: {left}"


# ----------------------------------------------------------------------------- without a cluster


def test_chart_crds_are_a_symlink_to_the_generated_crds() -> None:
    link = CHART / "crds"
    assert link.is_symlink(), "charts/seppmail-lifecycle/crds must be a symlink, not a copy"
    assert os.readlink(link) == "../../crds"
    assert link.resolve() == CRD_DIR.resolve()
    assert sorted(p.name for p in link.glob("*.yaml")) == sorted(f"{info.crd_name}.yaml" for info in ALL_KINDS)


def test_chart_lints_strictly(helm: Helm) -> None:
    helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION, *partner_values("partner-lint"))


def test_template_renders_the_crds_through_the_symlink(rendered: Docs) -> None:
    crds = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "CustomResourceDefinition"}
    assert set(crds) == {info.crd_name for info in ALL_KINDS}
    for name, doc in crds.items():
        assert doc == yaml.safe_load((CRD_DIR / f"{name}.yaml").read_text()), name


def test_deployment_runs_two_replicas_with_leader_election(rendered: Docs) -> None:
    deployment = find(rendered, "Deployment", RELEASE, SYSTEM_NAMESPACE)
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == RELEASE
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["command"] == ["seppmail-lifecycle"]
    assert container["args"] == [
        "run",
        "--all-namespaces",
        "--log-format=json",
        "--workers=auto",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--metrics=http://0.0.0.0:9090/metrics",
        "--policy=/etc/seppmail-lifecycle/policy.yaml",
        "--leader-elect",
        f"--leader-elect-id={RELEASE}",
        f"--leader-elect-namespace={SYSTEM_NAMESPACE}",
        "--leader-elect-lease-duration=15s",
        "--leader-elect-renew-deadline=10s",
        "--leader-elect-retry-period=2s",
    ]
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in container["env"]}
    assert env["POD_NAME"] == "metadata.name"
    assert env["POD_NAMESPACE"] == "metadata.namespace"
    pdb = find(rendered, "PodDisruptionBudget", RELEASE, SYSTEM_NAMESPACE)
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    lease_role = find(rendered, "Role", f"{RELEASE}-leader-election", SYSTEM_NAMESPACE)
    assert lease_role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    assert mounts["policy"] == "/etc/seppmail-lifecycle"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["policy"]["configMap"]["name"] == f"{RELEASE}-policy"
    assert "priorityClassName" not in pod


def test_without_leader_election_one_replica_is_recreated(helm: Helm) -> None:
    docs = helm.template("--set", "leaderElection.enabled=false")
    spec = find(docs, "Deployment", RELEASE)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert not any(arg.startswith("--leader-elect") for arg in spec["template"]["spec"]["containers"][0]["args"])
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert not [d for d in docs if d["metadata"]["name"] == f"{RELEASE}-leader-election"]


def test_leader_election_settings_and_its_role_only_in_the_release_namespace(helm: Helm, rendered: Docs) -> None:
    binding = find(rendered, "RoleBinding", f"{RELEASE}-leader-election", SYSTEM_NAMESPACE)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": f"{RELEASE}-leader-election",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": SYSTEM_NAMESPACE}]
    for doc in rendered:  # leases only through that Role: no ClusterRole, no other namespace
        if doc["kind"] in ("ClusterRole", "Role") and doc["metadata"]["name"] != f"{RELEASE}-leader-election":
            assert not [r for r in doc.get("rules", []) if "coordination.k8s.io" in r.get("apiGroups", [])], doc[
                "metadata"
            ]
    args = find(rendered, "Deployment", RELEASE)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any(arg.startswith("--peering") for arg in args), "leadership is the Lease, never kopf peering"

    out = helm(
        "template", RELEASE, str(CHART), "--namespace", "ops", "--kube-version", KUBE_VERSION,
        "--set", "replicaCount=3", "--set", "leaderElection.leaseName=shard-a",
        "--set", "leaderElection.leaseDuration=1m", "--set", "leaderElection.renewDeadline=40s",
        "--set", "leaderElection.retryPeriod=500ms",
    )  # fmt: skip
    docs = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
    deployment = find(docs, "Deployment", RELEASE, "ops")
    assert deployment["spec"]["replicas"] == 3
    assert [a for a in deployment["spec"]["template"]["spec"]["containers"][0]["args"] if "leader" in a] == [
        "--leader-elect",
        "--leader-elect-id=shard-a",
        "--leader-elect-namespace=ops",
        "--leader-elect-lease-duration=1m",
        "--leader-elect-renew-deadline=40s",
        "--leader-elect-retry-period=500ms",
    ]
    find(docs, "Role", f"{RELEASE}-leader-election", "ops")
    assert find(docs, "PodDisruptionBudget", RELEASE, "ops")["spec"]["minAvailable"] == 1

    single = helm.template("--set", "replicaCount=1")
    assert find(single, "Deployment", RELEASE)["spec"]["replicas"] == 1
    assert not [d for d in single if d["kind"] == "PodDisruptionBudget"], "a PDB of one pod blocks every drain"

    for bad in ("leaderElection.leaseDuration=15 seconds", "leaderElection.renew=10s", "replicaCount=0"):
        refused = helm("template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION, "--set", bad, check=False)
        assert refused.returncode != 0, bad
        assert bad.split(".")[-1].split("=")[0] in refused.stderr, refused.stderr


def test_exact_watch_namespaces_get_roles_not_cluster_wide_read(helm: Helm) -> None:
    docs = helm.template("--set", "watchNamespaces={partner-a,partner-b}")
    assert not [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == f"{RELEASE}-operator"]
    for namespace in ("partner-a", "partner-b"):
        role = find(docs, "Role", f"{RELEASE}-operator", namespace)
        assert {"tenants", "domains", "services", "licenses"} <= set(role["rules"][0]["resources"])
        binding = find(docs, "RoleBinding", f"{RELEASE}-operator", namespace)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": SYSTEM_NAMESPACE}]
    catalogue = find(docs, "ClusterRole", f"{RELEASE}-operator-catalogue")
    assert [rule.get("resources", rule.get("nonResourceURLs")) for rule in catalogue["rules"]] == [
        ["products"],
        ["products/status"],
        ["prioritylevelconfigurations"],  # --workers=auto: the operator's priority level ...
        ["/metrics"],  # ... and its seats
    ]
    # A glob pattern needs the namespaces discovered: cluster-wide read again.
    globbed = helm.template("--set", "watchNamespaces={partner-*}")
    cluster = find(globbed, "ClusterRole", f"{RELEASE}-operator")
    assert any(rule["resources"] == ["namespaces"] for rule in cluster["rules"])


def test_watch_namespaces_replace_all_namespaces(helm: Helm) -> None:
    docs = helm.template("--set", "watchNamespaces={partner-*,acme}", "--set", "logFormat=plain")
    args = find(docs, "Deployment", RELEASE)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--all-namespaces" not in args
    assert args[1:4] == ["--namespace=partner-*", "--namespace=acme", "--log-format=plain"]


def test_smtp_settings_become_flags_and_credentials_come_from_a_secret(helm: Helm, rendered: Docs) -> None:
    container = find(rendered, "Deployment", RELEASE)["spec"]["template"]["spec"]["containers"][0]
    assert not any(arg.startswith("--smtp") for arg in container["args"])  # no host: no mail
    docs = helm.template("--set", "smtp.host=mail.example", "--set", "smtp.credentialsSecret=smtp-login")
    container = find(docs, "Deployment", RELEASE)["spec"]["template"]["spec"]["containers"][0]
    assert {"--smtp-host=mail.example", "--smtp-port=25", "--smtp-starttls"} <= set(container["args"])
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
    assert env["SMTP_USERNAME"] == {"name": "smtp-login", "key": "username"}
    assert env["SMTP_PASSWORD"] == {"name": "smtp-login", "key": "password"}


def test_metrics_are_served_on_their_own_port_behind_a_service_and_optionally_a_service_monitor(
    helm: Helm, rendered: Docs
) -> None:
    container = find(rendered, "Deployment", RELEASE)["spec"]["template"]["spec"]["containers"][0]
    assert "--metrics=http://0.0.0.0:9090/metrics" in container["args"]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    service = find(rendered, "Service", f"{RELEASE}-metrics", SYSTEM_NAMESPACE)
    pod_labels = find(rendered, "Deployment", RELEASE)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]
    assert not any(doc["kind"] == "ServiceMonitor" for doc in rendered)
    monitored = helm.template(
        "--set", "metrics.port=9191", "--set", "metrics.serviceMonitor.enabled=true",
        "--set", "metrics.serviceMonitor.labels.release=kube-prometheus",
    )  # fmt: skip
    monitor = find(monitored, "ServiceMonitor", RELEASE, SYSTEM_NAMESPACE)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items()
        <= find(monitored, "Service", f"{RELEASE}-metrics")["metadata"]["labels"].items()
    )
    container = find(monitored, "Deployment", RELEASE)["spec"]["template"]["spec"]["containers"][0]
    assert "--metrics=http://0.0.0.0:9191/metrics" in container["args"]
    off = helm.template("--set", "metrics.enabled=false")
    container = find(off, "Deployment", RELEASE)["spec"]["template"]["spec"]["containers"][0]
    assert not any(arg.startswith("--metrics") for arg in container["args"])
    assert not any(doc["kind"] in ("Service", "ServiceMonitor") for doc in off)


def test_policy_configmap_is_what_the_operator_loads_and_restarts_the_pod(helm: Helm, rendered: Docs) -> None:
    default = find(rendered, "ConfigMap", f"{RELEASE}-policy", SYSTEM_NAMESPACE)
    assert Policy.model_validate(yaml.safe_load(default["data"]["policy.yaml"])) == Policy()

    docs = helm.template("--set-json", 'policy={"cancellationDelay": "1d", "autoDeploy": {"every": "1h"}}')
    configmap = find(docs, "ConfigMap", f"{RELEASE}-policy", SYSTEM_NAMESPACE)
    policy = Policy.model_validate(yaml.safe_load(configmap["data"]["policy.yaml"]))
    assert policy.cancellation_delay.days == 1
    assert policy.auto_deploy.every.total_seconds() == 3600

    def checksum(documents: Docs) -> str:
        annotations = find(documents, "Deployment", RELEASE)["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/policy"])

    assert checksum(docs) != checksum(rendered)
    assert checksum(helm.template()) == checksum(rendered)


def test_values_are_validated_by_the_schema(helm: Helm) -> None:
    typo = helm("template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION, "--set", "logFormat=xml", check=False)
    assert typo.returncode != 0
    assert "logFormat" in typo.stderr
    misspelt = helm(
        "template",
        RELEASE,
        str(CHART),
        "--kube-version",
        KUBE_VERSION,
        "--set",
        "partnerNamespaces[0].namespace=p",
        "--set",
        "partnerNamespaces[0].salesGroup[0]=x",
        check=False,
    )
    assert misspelt.returncode != 0
    assert "salesGroup" in misspelt.stderr


def test_operator_cluster_role_is_least_privilege(rendered: Docs) -> None:
    rules = find(rendered, "ClusterRole", f"{RELEASE}-operator")["rules"]
    for rule in rules:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert "kopf.dev" not in rule["apiGroups"], "standalone: no peering resources"
        assert "secrets" not in rule["resources"]
        assert "deletecollection" not in rule["verbs"]


def test_role_aggregation_labels(rendered: Docs) -> None:
    def labels(role: str) -> dict[str, str]:
        return dict(find(rendered, "ClusterRole", f"{RELEASE}-{role}")["metadata"]["labels"])

    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert labels("sales")[f"{aggregate}edit"] == "true"
    assert labels("support")[f"{aggregate}view"] == "true"
    for role in ("tech", "platform-support", "catalogue-reader", "operator"):
        assert not [key for key in labels(role) if key.startswith(aggregate)], role
    for role in ("sales", "support", "tech", "platform-support", "catalogue-reader", "operator"):
        assert labels(role)["app.kubernetes.io/instance"] == RELEASE


def test_partner_bindings_and_catalogue_reader(rendered: Docs) -> None:
    def subjects(doc: dict[str, Any]) -> list[str]:
        return [subject["name"] for subject in doc["subjects"]]

    for role, groups in {
        "sales": [GROUPS["sales"]],
        "support": [GROUPS["support"], GROUPS["tenant-admin"]],
        "tech": [GROUPS["tech"]],
        "platform-support": [GROUPS["platform-support"]],
        "billing": [GROUPS["billing"]],
        "partner-admin": [GROUPS["partner-admin"]],
    }.items():
        binding = find(rendered, "RoleBinding", f"{RELEASE}-{role}", "partner-render")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": f"{RELEASE}-{role}",
        }
        assert subjects(binding) == groups
    catalogue = find(rendered, "ClusterRoleBinding", f"{RELEASE}-catalogue-reader")
    assert sorted(subjects(catalogue)) == sorted(
        GROUPS[role] for role in ("sales", "support", "tech", "platform-support", "billing", "partner-admin")
    ), "tenant admins do not read the catalogue (prices)"


def test_the_field_rules_can_be_left_out(helm: Helm, rendered: Docs) -> None:
    kinds = [doc["kind"] for doc in rendered]
    assert kinds.count("ValidatingAdmissionPolicy") == kinds.count("ValidatingAdmissionPolicyBinding") == 2
    docs = helm.template("--set", "admissionPolicy.enabled=false", *partner_values("partner-x"))
    assert not [doc for doc in docs if doc["kind"].startswith("ValidatingAdmissionPolicy")]


def test_rbac_create_false_renders_no_rbac(helm: Helm) -> None:
    docs = helm.template("--set", "rbac.create=false", *partner_values("partner-x"))
    assert not [doc for doc in docs if doc["apiVersion"].startswith("rbac.authorization.k8s.io/")]


# ----------------------------------------------------------------------------- installed


def test_install_creates_the_objects(installed: ControlPlane, partner_namespace: str) -> None:
    plane = installed
    deployment = json.loads(plane.kubectl("get", "deployment", RELEASE, "-n", SYSTEM_NAMESPACE, "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    pdb = json.loads(plane.kubectl("get", "poddisruptionbudget", RELEASE, "-n", SYSTEM_NAMESPACE, "-o", "json").stdout)
    assert pdb["spec"]["minAvailable"] == 1
    plane.kubectl("get", "role,rolebinding", f"{RELEASE}-leader-election", "-n", SYSTEM_NAMESPACE)
    plane.kubectl("get", "serviceaccount", RELEASE, "-n", SYSTEM_NAMESPACE)
    plane.kubectl("get", "configmap", f"{RELEASE}-policy", "-n", SYSTEM_NAMESPACE)
    roles = plane.kubectl("get", "clusterroles", "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name")
    assert sorted(roles.stdout.split()) == sorted(
        f"clusterrole.rbac.authorization.k8s.io/{RELEASE}-{role}"
        for role in (
            "operator",
            "operator-catalogue",
            "sales",
            "support",
            "tech",
            "platform-support",
            "billing",
            "partner-admin",
            "catalogue-reader",
        )
    )
    bindings = plane.kubectl("get", "rolebindings", "-n", partner_namespace, "-o", "name").stdout.split()
    assert sorted(bindings) == sorted(
        f"rolebinding.rbac.authorization.k8s.io/{RELEASE}-{role}"
        for role in ("sales", "support", "tech", "platform-support", "billing", "partner-admin")
    )
    policies = plane.kubectl("get", "validatingadmissionpolicies,validatingadmissionpolicybindings", "-o", "name")
    assert sorted(policies.stdout.split()) == sorted(
        f"validatingadmissionpolicy{suffix}.admissionregistration.k8s.io/{RELEASE}-{kind}-fields"
        for suffix in ("", "binding")
        for kind in ("service", "domain")
    )
    crds = plane.kubectl("get", "crds", "-o", "name").stdout.split()
    assert {f"customresourcedefinition.apiextensions.k8s.io/{info.crd_name}" for info in ALL_KINDS} <= set(crds)


def test_sales_creates_tenants_but_not_deploy_requests(installed: ControlPlane, partner_namespace: str) -> None:
    sales = installed.mint_kubeconfig("alice-sales", [GROUPS["sales"]])
    created = create(installed, partner_namespace, "Tenant", "sales-tenant", sales)
    assert "sales-tenant created" in created.stdout, created.stderr
    assert_forbidden(create(installed, partner_namespace, "DeployRequest", "sales-deploy", sales))
    # The RoleBinding grants the partner's namespace only.
    assert_forbidden(create(installed, "default", "Tenant", "elsewhere", sales))
    # The product catalogue, through the catalogue-reader ClusterRoleBinding.
    installed.kubectl("get", "products.lifecycle.seppmail.cloud", kubeconfig=sales)


def test_tech_creates_deploy_requests_but_not_tenants(installed: ControlPlane, partner_namespace: str) -> None:
    tech = installed.mint_kubeconfig("bob-tech", [GROUPS["tech"]])
    created = create(installed, partner_namespace, "DeployRequest", "tech-deploy", tech)
    assert "tech-deploy created" in created.stdout, created.stderr
    assert_forbidden(create(installed, partner_namespace, "Tenant", "tech-tenant", tech))


def test_support_reads_services_but_cannot_create_them(installed: ControlPlane, partner_namespace: str) -> None:
    assert create(installed, partner_namespace, "Service", "support-visible").returncode == 0
    support = installed.mint_kubeconfig("carol-support", [GROUPS["support"]])
    listed = installed.kubectl("get", "services.lifecycle", "-n", partner_namespace, "-o", "name", kubeconfig=support)
    assert "support-visible" in listed.stdout
    assert_forbidden(create(installed, partner_namespace, "Service", "support-made", support))


def test_tenant_admin_reads_but_not_the_catalogue(installed: ControlPlane, partner_namespace: str) -> None:
    admin = installed.mint_kubeconfig("dave-tenant-admin", [GROUPS["tenant-admin"]])
    installed.kubectl("get", "tenants.lifecycle.seppmail.cloud", "-n", partner_namespace, kubeconfig=admin)
    assert_forbidden(installed.kubectl("get", "products.lifecycle.seppmail.cloud", kubeconfig=admin, check=False))


def test_user_without_group_cannot_list_services(installed: ControlPlane, partner_namespace: str) -> None:
    nobody = installed.mint_kubeconfig("eve-nobody")
    assert_forbidden(
        installed.kubectl("get", "services.lifecycle", "-n", partner_namespace, kubeconfig=nobody, check=False)
    )


# (role, verb, resource, extra args, allowed) in the partner namespace.
ROLE_MATRIX: list[tuple[str, str, str, tuple[str, ...], bool]] = [
    ("sales", "create", "tenants", (), True),
    ("sales", "update", "domains", (), True),
    ("sales", "patch", "services", (), True),
    ("sales", "delete", "contracts", (), True),
    ("sales", "list", "invoices", (), True),
    ("sales", "watch", "licenses", (), True),
    ("sales", "get", "deployrequests", (), True),
    ("sales", "create", "deployrequests", (), False),
    ("sales", "create", "licenses", (), False),
    ("sales", "patch", "invoices", (), False),
    ("sales", "patch", "services", ("--subresource=status",), False),
    ("sales", "get", "secrets", (), False),
    ("support", "list", "tenants", (), True),
    ("support", "watch", "deployrequests", (), True),
    ("support", "get", "invoices", (), True),
    ("support", "create", "tenants", (), False),
    ("support", "patch", "services", (), False),
    ("support", "delete", "domains", (), False),
    ("tenant-admin", "list", "services", (), True),
    ("tenant-admin", "update", "tenants", (), False),
    ("tech", "create", "deployrequests", (), True),
    ("tech", "list", "domains", (), True),
    ("tech", "get", "services", (), True),
    ("tech", "delete", "deployrequests", (), True),  # completed ones, before their TTL
    ("tech", "create", "services", (), False),
    ("tech", "list", "invoices", (), False),
    ("platform-support", "patch", "services", (), True),
    ("platform-support", "create", "payments", (), True),
    ("platform-support", "update", "payments", (), False),  # a payment is a fact
    ("platform-support", "update", "invoices", (), False),  # the operator's own
    ("platform-support", "list", "licenses", (), True),
    ("platform-support", "delete", "services", (), False),
    ("platform-support", "create", "invoices", (), False),
    ("platform-support", "create", "deployrequests", (), False),
    ("platform-support", "patch", "invoices", ("--subresource=status",), False),
    # The custom verbs the field rules ask for.
    ("platform-support", "set-discount", "services", (), True),
    ("platform-support", "suspend-misuse", "services", (), True),
    ("platform-support", "expedite-removal", "domains", (), True),
    ("platform-support", "suspend-insufficient-funds", "services", (), False),
    ("billing", "suspend-insufficient-funds", "services", (), True),
    ("billing", "create", "payments", (), True),
    ("billing", "list", "invoices", (), True),
    ("billing", "update", "invoices", (), False),
    ("sales", "create", "payments", (), False),
    ("sales", "list", "payments", (), True),
    ("partner-admin", "create", "payments", (), False),
    ("billing", "set-discount", "services", (), False),
    ("billing", "create", "services", (), False),
    ("partner-admin", "set-confidential", "domains", (), True),
    ("partner-admin", "update", "partners", (), True),
    ("sales", "get", "partners", (), True),
    ("sales", "create", "partners", (), False),
    ("support", "list", "partners", (), True),
    ("partner-admin", "create", "tenants", (), True),
    ("partner-admin", "set-discount", "services", (), False),
    ("partner-admin", "create", "deployrequests", (), False),
    ("sales", "set-confidential", "domains", (), False),
    ("sales", "set-discount", "services", (), False),
    ("sales", "expedite-removal", "services", (), False),
]


@pytest.mark.parametrize(
    ("role", "verb", "resource", "extra", "allowed"),
    ROLE_MATRIX,
    ids=[f"{r}-{'can' if a else 'cannot'}-{v}-{res}{''.join(e)}" for r, v, res, e, a in ROLE_MATRIX],
)
def test_role_matrix(
    installed: ControlPlane,
    partner_namespace: str,
    role: str,
    verb: str,
    resource: str,
    extra: tuple[str, ...],
    allowed: bool,
) -> None:
    qualified = resource if resource == "secrets" else f"{resource}.{GROUP}"
    assert can_i(installed, as_group(role), verb, qualified, "-n", partner_namespace, *extra) is allowed


# ----------------------------------------------------------------------------- field rules

EXPEDITE = "lifecycle.seppmail.cloud/expedite-removal"
DISCOUNT = {"discount": {"percent": 20, "reason": "loyal customer"}}

# (id, kind, what the object has before (None: the role creates it so), the role, its change,
# allowed, the field and verb a refusal names). Changes are merge patches of the whole object.
FIELD_MATRIX: list[tuple[str, str, dict[str, Any] | None, str, dict[str, Any], bool, str]] = [
    ("sales-grants-a-discount", "Service", {}, "sales", {"spec": DISCOUNT}, False, "spec.discount|set-discount"),
    ("sales-creates-with-a-discount", "Service", None, "sales", {"spec": DISCOUNT}, False,
     "spec.discount|set-discount"),
    ("platform-support-grants-a-discount", "Service", {}, "platform-support", {"spec": DISCOUNT}, True, ""),
    ("sales-edits-a-discounted-service", "Service", {"spec": DISCOUNT}, "sales", {"spec": {"users": 9}}, True, ""),
    ("sales-drops-a-discount", "Service", {"spec": DISCOUNT}, "sales", {"spec": {"discount": None}}, False,
     "spec.discount|set-discount"),
    ("sales-suspends-for-misuse", "Service", {}, "sales", {"spec": {"suspension": {"reason": "misuse"}}}, False,
     "spec.suspension|suspend-misuse"),
    ("sales-lifts-a-misuse-suspension", "Service", {"spec": {"suspension": {"reason": "misuse"}}}, "sales",
     {"spec": {"suspension": None}}, False, "spec.suspension|suspend-misuse"),
    ("platform-support-lifts-a-misuse-suspension", "Service", {"spec": {"suspension": {"reason": "misuse"}}},
     "platform-support", {"spec": {"suspension": None}}, True, ""),
    ("billing-suspends-for-unpaid-invoices", "Service", {}, "billing",
     {"spec": {"suspension": {"reason": "insufficient-funds"}}}, True, ""),
    ("billing-suspends-for-misuse", "Service", {}, "billing", {"spec": {"suspension": {"reason": "misuse"}}}, False,
     "spec.suspension|suspend-misuse"),
    ("platform-support-suspends-for-unpaid-invoices", "Service", {}, "platform-support",
     {"spec": {"suspension": {"reason": "insufficient-funds"}}}, False, "spec.suspension|suspend-insufficient-funds"),
    ("sales-expedites-a-removal", "Service", {}, "sales", {"metadata": {"annotations": {EXPEDITE: "true"}}}, False,
     f"metadata.annotations[{EXPEDITE}]|expedite-removal"),
    ("platform-support-expedites-a-removal", "Service", {}, "platform-support",
     {"metadata": {"annotations": {EXPEDITE: "true"}}}, True, ""),
    ("sales-cancels", "Service", {}, "sales", {"spec": {"cancellation": {"reason": "customer left"}}}, True, ""),
    ("sales-makes-a-domain-confidential", "Domain", {}, "sales", {"spec": {"confidential": True}}, False,
     "spec.confidential|set-confidential"),
    ("sales-creates-a-confidential-domain", "Domain", None, "sales", {"spec": {"confidential": True}}, False,
     "spec.confidential|set-confidential"),
    ("partner-admin-makes-a-domain-confidential", "Domain", {}, "partner-admin", {"spec": {"confidential": True}},
     True, ""),
    ("partner-admin-clears-confidential", "Domain", {"spec": {"confidential": True}}, "partner-admin",
     {"spec": {"confidential": False}}, True, ""),
    ("sales-edits-a-confidential-domain", "Domain", {"spec": {"confidential": True}}, "sales",
     {"metadata": {"labels": {"team": "a"}}}, True, ""),
    ("sales-expedites-a-domain-removal", "Domain", {}, "sales", {"metadata": {"annotations": {EXPEDITE: "true"}}},
     False, f"metadata.annotations[{EXPEDITE}]|expedite-removal"),
    ("platform-support-expedites-a-domain-removal", "Domain", {}, "platform-support",
     {"metadata": {"annotations": {EXPEDITE: "true"}}}, True, ""),
]  # fmt: skip


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the JSON merge patch ``patch`` applied (None removes a key)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize(
    ("kind", "before", "role", "change", "allowed", "refusal"),
    [f[1:] for f in FIELD_MATRIX],
    ids=[f[0] for f in FIELD_MATRIX],
)
def test_field_rules_judge_who_changes_what(
    installed: ControlPlane,
    partner_namespace: str,
    kind: str,
    before: dict[str, Any] | None,
    role: str,
    change: dict[str, Any],
    allowed: bool,
    refusal: str,
) -> None:
    user = installed.mint_kubeconfig(f"{role}-user", [GROUPS[role]])
    name = f"fields-{uuid.uuid4().hex[:8]}"
    body = merged(copy.deepcopy(VALID[kind]), {"metadata": {"name": name}})
    resource = f"{kind.lower()}s.{GROUP}"
    if before is None:  # the role creates the object with the field set
        result = installed.kubectl(
            "create", "-n", partner_namespace, "-f", "-", input=yaml.safe_dump(merged(body, change)), kubeconfig=user,
            check=False,
        )  # fmt: skip
    else:
        installed.kubectl("create", "-n", partner_namespace, "-f", "-", input=yaml.safe_dump(merged(body, before)))
        result = installed.kubectl(
            "patch", resource, name, "-n", partner_namespace, "--type=merge", "-p", json.dumps(change), kubeconfig=user,
            check=False,
        )  # fmt: skip
    if allowed:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0, f"{role} was allowed: {result.stdout}"
    field, verb = refusal.split("|")
    assert "denied request" in result.stderr, result.stderr  # the policy, not RBAC
    assert field in result.stderr, result.stderr
    assert f"lacks the verb {verb} on {resource}" in result.stderr, result.stderr
    assert f"{role}-user" in result.stderr, result.stderr


# (verb, resource, extra args, allowed) for the operator's ServiceAccount, cluster-wide.
OPERATOR_MATRIX: list[tuple[str, str, tuple[str, ...], bool]] = [
    ("patch", f"services.{GROUP}", ("--subresource=status", "-A"), True),
    ("update", f"products.{GROUP}", ("--subresource=status",), True),
    ("watch", f"tenants.{GROUP}", ("-A",), True),
    ("watch", f"partners.{GROUP}", ("-A",), True),
    ("patch", f"partners.{GROUP}", ("--subresource=status", "-A"), True),
    ("patch", f"partners.{GROUP}", ("-A",), False),
    ("patch", f"domains.{GROUP}", ("-A",), True),
    ("create", f"services.{GROUP}", ("-A",), True),
    ("create", f"invoices.{GROUP}", ("-A",), True),
    ("delete", f"invoices.{GROUP}", ("-A",), True),
    ("watch", f"payments.{GROUP}", ("-A",), True),
    ("patch", f"payments.{GROUP}", ("--subresource=status", "-A"), True),
    ("create", f"payments.{GROUP}", ("-A",), False),
    ("delete", "configmaps", ("-A",), True),
    ("create", "events", ("-A",), True),
    ("create", "events.events.k8s.io", ("-A",), True),
    # --workers=auto reads the priority level its requests fall into, and its seats.
    ("list", "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io", (), True),
    ("patch", "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io", (), False),
    ("create", "flowschemas.flowcontrol.apiserver.k8s.io", (), False),
    # Our kinds are known (no kopf scanning): no CRD or namespace reads without glob patterns.
    ("watch", "customresourcedefinitions.apiextensions.k8s.io", (), False),
    ("list", "namespaces", (), False),
    ("get", "leases.coordination.k8s.io", ("-n", SYSTEM_NAMESPACE), True),
    ("update", "leases.coordination.k8s.io", ("-n", SYSTEM_NAMESPACE), True),
    ("create", "leases.coordination.k8s.io", ("-n", SYSTEM_NAMESPACE), True),
    ("update", "leases.coordination.k8s.io", ("-n", "default"), False),
    ("create", "leases.coordination.k8s.io", ("-A",), False),
    ("delete", "leases.coordination.k8s.io", ("-n", SYSTEM_NAMESPACE), False),
    ("delete", "namespaces", (), False),
    ("get", "secrets", ("-A",), False),
    ("list", "secrets", ("-n", SYSTEM_NAMESPACE), False),
    ("create", f"tenants.{GROUP}", ("-A",), False),
    ("patch", f"tenants.{GROUP}", ("-A",), False),
    ("delete", f"services.{GROUP}", ("-A",), False),
    ("create", f"deployrequests.{GROUP}", ("-A",), False),
    ("delete", f"deployrequests.{GROUP}", ("-A",), True),  # completed, past their TTL
    ("update", f"products.{GROUP}", (), False),
    ("create", "pods", ("-A",), False),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", (), False),
]


@pytest.mark.parametrize(
    ("verb", "resource", "extra", "allowed"),
    OPERATOR_MATRIX,
    ids=[f"{'can' if a else 'cannot'}-{v}-{r}{''.join(e)}" for v, r, e, a in OPERATOR_MATRIX],
)
def test_operator_service_account(
    installed: ControlPlane, verb: str, resource: str, extra: tuple[str, ...], allowed: bool
) -> None:
    assert can_i(installed, [f"--as={OPERATOR_SA}"], verb, resource, *extra) is allowed


def test_built_in_roles_aggregate_sales_and_support(installed: ControlPlane, partner_namespace: str) -> None:
    if installed.binaries.kube_controller_manager is None:
        pytest.skip("no kube-controller-manager: nothing aggregates ClusterRoles")
    for built_in in ("admin", "edit", "view"):
        installed.kubectl(
            "create",
            "rolebinding",
            f"test-{built_in}",
            f"--clusterrole={built_in}",
            f"--group=ns-{built_in}",
            "-n",
            partner_namespace,
        )

    def can(built_in: str, verb: str, resource: str) -> bool:
        who = [f"--as={built_in}-user", f"--as-group=ns-{built_in}"]
        return can_i(installed, who, verb, f"{resource}.{GROUP}", "-n", partner_namespace)

    eventually(lambda: can("view", "list", "services"), "view includes support (read)")
    eventually(lambda: can("edit", "create", "tenants"), "edit includes sales")
    eventually(lambda: can("admin", "create", "tenants"), "admin includes sales (through edit)")
    for built_in in ("admin", "edit", "view"):
        assert not can(built_in, "create", "deployrequests"), f"{built_in} must not deploy (Tech only)"
        assert not can(built_in, "patch", "invoices"), f"{built_in} must not change invoices"
        assert not can(built_in, "create", "payments"), f"{built_in} must not record payments"
    assert not can("view", "create", "tenants")


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([], id="defaults"),
        pytest.param(
            ["--set", "leaderElection.enabled=false", "--set", "metrics.enabled=false", "--set", "logFormat=plain"],
            id="one-replica-no-metrics",
        ),
        pytest.param(
            [
                "--set", "watchNamespaces={partner-dry,tenant-dry}", "--set", "smtp.host=mail.example",
                "--set", "smtp.credentialsSecret=smtp-login", "--set", "metrics.port=9191",
                "--set", "policy.cancellationDelay=10d", "--set", "workers=8",
                "--set", "tenantNamespaces[0].namespace=tenant-dry",
                "--set", "tenantNamespaces[0].partner=partner-dry",
                "--set", "tenantNamespaces[0].tenantAdminGroups[0]=dry-admins",
                "--set", "admissionPolicy.enabled=false", "--set", "replicaCount=3",
            ],
            id="namespaced-tenants-smtp-policy",
        ),
    ],
)  # fmt: skip
def test_rendered_manifests_pass_the_api_servers_validation(
    control_plane: ControlPlane, helm: Helm, values: list[str]
) -> None:
    """Every object the chart renders, with default and non-default values, passes the real API
    server's schema validation and admission (a server-side dry run); the ServiceMonitor is left
    out (no prometheus-operator CRD on this control plane: its rendering is asserted above)."""
    # A release of its own (its cluster-scoped objects named after it): applied over the installed
    # release, a server-side apply would merge with that release's fields instead of judging these.
    release, system = f"dry-{uuid.uuid4().hex[:6]}", f"dry-system-{uuid.uuid4().hex[:6]}"
    out = helm(
        "template", release, str(CHART), "--namespace", system, "--kube-version", KUBE_VERSION,
        *values, *partner_values("partner-dry"),
    )  # fmt: skip
    docs = [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] != "ServiceMonitor"]
    for namespace in (system, "partner-dry", "tenant-dry"):
        control_plane.kubectl("create", "namespace", namespace, check=False)
    result = control_plane.kubectl(
        "apply", "--dry-run=server", "--server-side", "--force-conflicts", "--field-manager=helm-dry-run", "-f", "-",
        input=yaml.safe_dump_all(docs), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len([line for line in result.stdout.splitlines() if "(server dry run)" in line]) == len(docs)
