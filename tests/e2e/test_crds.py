"""The CRDs on a real API server: they install, the examples apply, kubectl shows the columns
and explanations users read, and bad input is refused at apply time naming the bad field."""

from __future__ import annotations

import json

import pytest
import yaml

from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.devcluster.controlplane import ControlPlane
from tests.conftest import EXAMPLES_DIR, kubectl_error
from tests.kube import apply, refusal
from tests.manifests import FORBIDDEN_UPDATES, INVALID, ForbiddenUpdate, InvalidCase

pytestmark = pytest.mark.e2e


def test_every_crd_is_established(crds: ControlPlane) -> None:
    listed = json.loads(crds.kubectl("get", "crd", "-o", "json").stdout)
    established = {
        item["metadata"]["name"]
        for item in listed["items"]
        if any(c["type"] == "Established" and c["status"] == "True" for c in item["status"]["conditions"])
    }
    assert {info.crd_name for info in ALL_KINDS} <= established


def test_examples_apply(crds: ControlPlane, namespace: str) -> None:
    applied = crds.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES_DIR)).stdout
    expected = sum(1 for path in EXAMPLES_DIR.glob("*.yaml") for doc in yaml.safe_load_all(path.read_text()) if doc)
    assert applied.count("\n") == expected, applied
    services = crds.kubectl("get", "services.lifecycle", "-n", namespace).stdout
    header = services.splitlines()[0].split()
    assert header[:5] == ["NAME", "NUMBER", "DOMAIN", "PRODUCT", "PHASE"]
    assert "BILLING" in header
    assert "NEXT" in header
    assert "acme-ch-sign-encrypt" in services
    assert "globex-de-sign-only" in services


def test_get_lifecycle_lists_every_kind(crds: ControlPlane, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES_DIR))
    listed = crds.kubectl("get", "lifecycle", "-n", namespace, "-o", "name").stdout.split()
    kinds = {name.split("/")[0].split(".")[0] for name in listed}
    assert {"product", "tenant", "domain", "service", "contract", "license"} <= kinds


def test_short_names_resolve_to_our_kinds(crds: ControlPlane, namespace: str) -> None:
    for info in ALL_KINDS:
        for short in info.short_names:
            crds.kubectl("get", short, "-n", namespace)


@pytest.mark.parametrize(
    "explain",
    [
        ["explain", "smsvc.spec.discount"],
        ["explain", "service.spec.discount", "--api-version=lifecycle.seppmail.cloud/v1alpha1"],
    ],
)
def test_kubectl_explain_shows_field_descriptions(crds: ControlPlane, explain: list[str]) -> None:
    out = crds.kubectl(*explain).stdout
    assert "percent" in out
    assert "reason" in out
    assert "required when percent > 0" in out


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.id)
def test_invalid_manifest_is_refused_naming_the_field(crds: ControlPlane, namespace: str, case: InvalidCase) -> None:
    error = refusal(crds, namespace, case.manifest())
    assert case.field in error, error


def test_an_internationalised_domain_in_punycode_is_accepted(crds: ControlPlane, namespace: str) -> None:
    """пример.рф and its GINA host, as the API server takes them (the ASCII form of IDNs)."""
    manifest = {
        "apiVersion": "lifecycle.seppmail.cloud/v1alpha1",
        "kind": "Domain",
        "metadata": {"name": "idn"},
        "spec": {
            "tenantRef": {"name": "t"},
            "domainName": "xn--e1afmkfd.xn--p1ai",
            "deploymentSettings": {"ginaHost": "gina.xn--e1afmkfd.xn--p1ai"},
        },
    }
    crds.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))


@pytest.mark.parametrize("case", FORBIDDEN_UPDATES, ids=lambda c: c.id)
def test_forbidden_update_is_refused(crds: ControlPlane, namespace: str, case: ForbiddenUpdate) -> None:
    first, second = case.manifests()
    apply(crds, namespace, first)
    assert case.message in refusal(crds, namespace, second)


def _domain_with_phase(plane: ControlPlane, namespace: str, phase: str) -> None:
    manifest = {
        "apiVersion": "lifecycle.seppmail.cloud/v1alpha1",
        "kind": "Domain",
        "metadata": {"name": f"gina-{phase}"},
        "spec": {
            "tenantRef": {"name": "t"},
            "domainName": f"{phase}.example",
            "deploymentSettings": {"ginaHost": "gina.old.example"},
        },
    }
    plane.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))
    plane.kubectl(
        "patch",
        "domains.lifecycle",
        f"gina-{phase}",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": phase}}),
    )


@pytest.mark.parametrize(
    ("phase", "allowed"),
    [
        ("ordered", True),
        ("confirmed", True),
        ("provisioning", True),
        ("provisioned", False),
        ("cancelled", False),
        ("deprovisioned", False),
    ],
)
def test_gina_host_changes_only_before_deployment(
    crds: ControlPlane, namespace: str, phase: str, allowed: bool
) -> None:
    _domain_with_phase(crds, namespace, phase)
    result = crds.kubectl(
        "patch",
        "domains.lifecycle",
        f"gina-{phase}",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"deploymentSettings": {"ginaHost": "gina.new.example"}}}',
        check=False,
    )
    if allowed:
        assert result.returncode == 0, result.stderr
    else:
        assert f"can change only while the domain is ordered, confirmed or provisioning; this domain is {phase}" in (
            kubectl_error(result)
        )
        # Other edits of a deployed domain stay possible.
        crds.kubectl(
            "patch",
            "domains.lifecycle",
            f"gina-{phase}",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"spec": {"confidential": true}}',
        )
