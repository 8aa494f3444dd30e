"""Generating the CustomResourceDefinitions from the pydantic models.

The models are the single source: pydantic's JSON Schema is turned into a structural OpenAPI v3
schema (``$ref`` inlined, ``Optional`` unwrapped, titles dropped, immutability and CEL rules as
``x-kubernetes-validations``). ``crds/`` holds the output; a test fails when it is stale
(``make crds`` regenerates it). It also writes the chart's GitOps health files: the Argo CD
``argocd-cm`` keys from ``health.lua``, and Flux's ``healthCheckExprs`` from ``flux_health``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from seppmail_lifecycle.api import ALL_KINDS
from seppmail_lifecycle.api.common import IMMUTABLE
from seppmail_lifecycle.api.flux_health import health_check_exprs
from seppmail_lifecycle.api.kinds import CATEGORY, KindInfo

Schema = dict[str, Any]

# JSON Schema keys that have no place in a structural CRD schema.
_DROPPED_KEYS = {"title", "additionalProperties", "$defs"}


def _resolve(schema: Schema, defs: dict[str, Schema]) -> Schema:
    """Inline ``$ref``s and unwrap ``anyOf: [X, null]`` recursively."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**copy.deepcopy(target), **{k: v for k, v in schema.items() if k != "$ref"}}
        return _resolve(merged, defs)
    if "anyOf" in schema:
        variants = [v for v in schema["anyOf"] if v.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"only Optional[X] unions are supported in CRD schemas, got {schema['anyOf']}")
        merged = {**variants[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
        # A null default only means "optional"; the property is simply absent.
        if merged.get("default", 0) is None:
            del merged["default"]
        return _resolve(merged, defs)

    out: Schema = {}
    for key, value in schema.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "properties":
            out[key] = {name: _resolve(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = _resolve(value, defs)
        elif key == "const":
            out["enum"] = [value]
        elif key == IMMUTABLE:
            out.setdefault("x-kubernetes-validations", []).append({"rule": "self == oldSelf", "message": value})
        elif key == "x-kubernetes-validations":
            out.setdefault(key, []).extend(value)
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" in out:
        out["properties"] = dict(out["properties"])
    # Empty defaults for lists and objects add nothing but noise to every stored object.
    if out.get("default") in ([], {}):
        del out["default"]
    return out


def model_schema(model: type[Any]) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _resolve(raw, raw.get("$defs", {}))


def _description(model: type[Any]) -> str:
    return (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""


def crd_for(info: KindInfo) -> dict[str, Any]:
    spec_schema = model_schema(info.spec)
    spec_schema.setdefault("description", _description(info.spec))
    status_schema = model_schema(info.status)
    status_schema.setdefault("description", _description(info.status))

    root: Schema = {
        "type": "object",
        "description": info.description,
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion defines the versioned schema of this representation of an object.",
            },
            "kind": {
                "type": "string",
                "description": "Kind is a string value representing the REST resource.",
            },
            # The API server allows nothing but name/generateName constraints here.
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    if info.spec_required:
        root["required"] = ["spec"]
    if info.root_rules:
        root["x-kubernetes-validations"] = [
            {
                "rule": r.rule,
                "message": r.message,
                **({"messageExpression": r.message_expression} if r.message_expression else {}),
                **({"fieldPath": r.field_path} if r.field_path else {}),
            }
            for r in info.root_rules
        ]

    version: dict[str, Any] = {
        "name": info.version,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": [
            {
                "name": c.name,
                "type": c.type,
                "jsonPath": c.json_path,
                **({"description": c.description} if c.description else {}),
                **({"priority": c.priority} if c.priority else {}),
                **({"format": c.format} if c.format else {}),
            }
            for c in info.printer_columns
        ],
        "schema": {"openAPIV3Schema": root},
    }
    if info.selectable_fields:
        version["selectableFields"] = [{"jsonPath": path} for path in info.selectable_fields]

    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": info.crd_name,
            "labels": {"app.kubernetes.io/part-of": "seppmail-lifecycle"},
        },
        "spec": {
            "group": info.group,
            "scope": info.scope,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": [CATEGORY, *info.extra_categories],
            },
            "versions": [version],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    return [crd_for(info) for info in ALL_KINDS]


def render(crd: dict[str, Any]) -> str:
    header = "# Generated from operator/seppmail_lifecycle/api by `make crds`. Do not edit.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, width=120)


def crd_filename(crd: dict[str, Any]) -> str:
    return f"{crd['metadata']['name']}.yaml"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for crd in all_crds():
        path = directory / crd_filename(crd)
        path.write_text(render(crd))
        written.append(path)
    return written


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (the Lua) as literal blocks, as a person would write them."""


def _block_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _block_str)

ARGOCD_HEADER = "# Generated from health.lua by `make crds`. Do not edit.\n"


def argocd_health_keys(lua: str) -> dict[str, str]:
    """The argocd-cm keys that give every kind of ours the health check ``lua``."""
    return {f"resource.customizations.health.{info.group}_{info.kind}": lua for info in ALL_KINDS}


def argocd_files(lua: str) -> dict[str, str]:
    """What Argo CD needs, next to ``health.lua``: a patch of the ``argocd-cm`` ConfigMap, and the
    same keys as values of the argo-cd Helm chart."""
    keys = argocd_health_keys(lua)
    patch = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}, "data": keys}
    values = {"configs": {"cm": keys}}
    return {"argocd-cm.yaml": ARGOCD_HEADER + _dump(patch), "values-argo-cd.yaml": ARGOCD_HEADER + _dump(values)}


def _dump(doc: dict[str, Any], width: int = 120) -> str:
    dumped: str = yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, width=width)
    return dumped


def write_argocd(directory: Path) -> list[Path]:
    return write_generated(directory, argocd_files((directory / "health.lua").read_text()))


FLUX_HEADER = """\
# Generated from operator/seppmail_lifecycle/api/flux_health.py by `make crds`. Do not edit.
# Flux 2.5+: the spec.healthCheckExprs of a Kustomization that applies lifecycle.seppmail.cloud
# objects, so that `wait: true` judges them as the chart's Argo CD health check does (InProgress
# while the operator works, Failed when the spec must be fixed, Current once decided, including
# what waits for someone else: DNS records, a payment, a frozen license).
"""


def flux_files() -> dict[str, str]:
    """What Flux needs: the ``healthCheckExprs`` entries of every kind, to put into a Kustomization."""
    return {"health-check-exprs.yaml": FLUX_HEADER + _dump({"healthCheckExprs": health_check_exprs()}, width=100_000)}


def write_generated(directory: Path, files: dict[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return [directory / name for name in files]


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["argocd"]:
        for path in write_argocd(Path(sys.argv[2])):
            print(path)
    elif sys.argv[1:2] == ["flux"]:
        for path in write_generated(Path(sys.argv[2]), flux_files()):
            print(path)
    else:
        target = Path(sys.argv[1] if len(sys.argv) > 1 else "crds")
        for path in write_all(target):
            print(path)
