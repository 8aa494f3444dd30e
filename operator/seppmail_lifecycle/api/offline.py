"""A manifest checked offline as the API server checks it at ``kubectl apply``: the CRD's schema
(types, enums, patterns, ranges, required fields, unknown fields, as strict field validation
refuses them) and its CEL rules (``x-kubernetes-validations``, evaluated with cel-python).

Transition rules (those reading ``oldSelf``: immutability, a cancellation that cannot be
withdrawn) need the stored object and are left to the API server. Field paths are written as the
API server writes them (``spec.notifications.recipients[0]``), so a message reads the same before
the commit as after a failed sync.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import celpy
import jsonschema
from celpy.adapter import json_to_cel

from seppmail_lifecycle.api import KINDS_BY_NAME
from seppmail_lifecycle.api.crdgen import all_crds

Body = dict[str, Any]
Schema = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


@cache
def _schemas() -> dict[str, Schema]:
    return {
        crd["spec"]["names"]["kind"]: _as_re2(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        for crd in all_crds()
    }


def _as_re2(node: Any) -> Any:
    """The schema with its patterns read as the API server's RE2 reads them: a final ``$`` is the
    end of the text (in Python's ``re`` it also matches before a final line break: ``"x\\n"``
    would pass here and be refused at apply time)."""
    if isinstance(node, dict):
        out = {key: _as_re2(value) for key, value in node.items()}
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern.endswith("$") and not pattern.endswith("\\$"):
            out["pattern"] = pattern[:-1] + r"\Z"
        return out
    if isinstance(node, list):
        return [_as_re2(value) for value in node]
    return node


@cache
def _program(rule: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unknown(schema: Schema, value: Any, path: str) -> Iterator[Problem]:
    """Fields the schema does not declare (strict field validation refuses them)."""
    if isinstance(value, dict) and "properties" in schema:
        for key, child in value.items():
            if key not in schema["properties"]:
                if not (path == "" and key in ("apiVersion", "kind", "metadata")):
                    yield Problem(f"{path}.{key}" if path else key, f'unknown field "{key}"')
            else:
                yield from _unknown(schema["properties"][key], child, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _unknown(schema["items"], item, f"{path}[{index}]")


def _rules(schema: Schema, value: Any, path: str) -> Iterator[Problem]:
    """The CEL rules of every node the value has, deepest first (as the API server reports them)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key in schema.get("properties", {}):
                yield from _rules(schema["properties"][key], child, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _rules(schema["items"], item, f"{path}[{index}]")
    for rule in schema.get("x-kubernetes-validations", ()):
        if "oldSelf" in rule["rule"]:
            continue  # a transition rule: needs the stored object
        try:
            held = bool(_program(rule["rule"]).evaluate({"self": json_to_cel(value)}))
        except Exception:
            continue
        if not held:
            where = (path + (rule.get("fieldPath") or "")).lstrip(".")
            yield Problem(where or "<root>", rule.get("message") or f"failed rule: {rule['rule']}")


_FORMATS = jsonschema.FormatChecker(formats=())


def _date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper() or not (value.endswith(("Z", "z")) or "+" in value[10:] or "-" in value[10:]):
        raise ValueError(f"{value!r} is not an RFC 3339 time with its offset")
    return bool(datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")))


_FORMATS.checks("date", raises=ValueError)(_date)
_FORMATS.checks("date-time", raises=ValueError)(_date_time)
_REQUIRED = re.compile(r"^'(?P<name>[^']+)' is a required property$")


def _problem(error: jsonschema.ValidationError) -> Problem:
    """The error as the API server words its field: a missing one at its own path."""
    path = _path(error.absolute_path)
    missing = _REQUIRED.match(error.message) if error.validator == "required" else None
    if missing:
        return Problem(f"{path}.{missing['name']}" if path else missing["name"], "Required value")
    return Problem(path or "<root>", error.message)


def check(manifest: Body) -> list[Problem]:
    """Every problem the API server would refuse ``manifest`` for (without the transition rules)."""
    kind = manifest.get("kind")
    schema = _schemas().get(kind) if isinstance(kind, str) else None
    if schema is None:
        known = ", ".join(sorted(KINDS_BY_NAME))
        return [Problem("kind", f"{kind!r} is not a kind of this API (one of {known})")]
    if not isinstance((manifest.get("metadata") or {}).get("name"), str):
        return [Problem("metadata.name", "required: every object needs a name")]
    body = {k: v for k, v in manifest.items() if k != "status"}
    validator = jsonschema.Draft7Validator(schema, format_checker=_FORMATS)
    problems = [_problem(error) for error in sorted(validator.iter_errors(body), key=lambda e: str(e.absolute_path))]
    problems += list(_unknown(schema, body, ""))
    if not problems:  # rules assume the types are right
        problems += list(_rules(schema, body, ""))
    return problems
