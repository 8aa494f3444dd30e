"""The reference: a plain kopf operator, as the kopf documentation writes one, that marks every
Domain and Service provisioned with one status write when it is created. Nothing is decided and
nothing else is written (apart from what kopf itself writes). Run by the benchmark as
``kopf run --standalone -n NS bench/plain_kopf.py``."""

from __future__ import annotations

from typing import Any

import kopf

GROUP = "lifecycle.seppmail.cloud"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # One status write per object and nothing else of its own: no "handler succeeded" events.
    settings.posting.enabled = False


@kopf.on.create(GROUP, "v1alpha1", "domains")
@kopf.on.create(GROUP, "v1alpha1", "services")
def provision(patch: kopf.Patch, **_: Any) -> None:
    patch.status["phase"] = "provisioned"
