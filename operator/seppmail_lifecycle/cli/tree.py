"""``kubectl lifecycle tree``: partner -> tenants -> domains -> services, with each tenant's
contracts (and their invoices) and licenses: the seed's tenant table (name, ID, domains, services)
and booked-services table (number, product, status, billing start, discount), plus subscription
state and next action.

``build`` is a pure function of the objects (one namespace's, as listed); ``render`` draws it as
a tree with rich, ``-o json|yaml`` prints the nodes as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from rich.tree import Tree

from seppmail_lifecycle.api.common import NextTransition
from seppmail_lifecycle.core import conditions as c
from seppmail_lifecycle.core.model import Contract, Domain, Invoice, License, Obj, Partner, Service, Tenant
from seppmail_lifecycle.core.partners import namespace_partner


@dataclass
class Node:
    kind: str
    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, **self.fields}
        if self.children:
            out["children"] = [child.as_dict() for child in self.children]
        return out


def _when(at: datetime) -> str:
    """A moment as kubectl prints one: RFC 3339 in UTC, to the second."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _next(nxt: NextTransition | None) -> str | None:
    return f"{nxt.action} {_when(nxt.at)}" if nxt else None


def _ready(obj: Obj[Any, Any]) -> str | None:
    found = c.condition(obj.status.conditions, c.READY)
    return found.status if found else None


def _service(service: Service) -> Node:
    status = service.status
    subscription = status.subscription
    billing = status.billing
    return Node(
        "Service",
        service.name,
        {
            "number": status.number,
            "product": service.spec.product,
            "phase": status.phase.value if status.phase else None,
            "subscription": subscription.state.value if subscription and subscription.state else None,
            "billingStart": billing.start.isoformat() if billing and billing.start else None,
            "discount": status.discount,
            "users": service.spec.users,
            "next": _next(status.next),
        },
    )


def _domain(domain: Domain, services: Sequence[Service]) -> Node:
    ordered = sorted(services, key=lambda s: (s.status.number or 1 << 30, s.name))
    return Node(
        "Domain",
        domain.name,
        {
            "domainName": domain.spec.domain_name,
            "phase": domain.status.phase.value if domain.status.phase else None,
            "ready": _ready(domain),
            "next": _next(domain.status.next),
        },
        [_service(s) for s in ordered],
    )


def _contract(contract: Contract, invoices: Sequence[Invoice]) -> Node:
    status = contract.status
    return Node(
        "Contract",
        contract.name,
        {
            "interval": contract.spec.billing_interval,
            "state": status.state.value if status.state else None,
            "periodEnd": _when(status.current_period.end) if status.current_period else None,
            "due": f"{status.amount_due.amount} {status.amount_due.currency}" if status.amount_due else None,
            "next": _next(status.next),
        },
        [
            Node(
                "Invoice",
                i.name,
                {
                    "period": f"{i.spec.period.start.isoformat()} to {i.spec.period.end.isoformat()}",
                    "total": f"{i.spec.total.amount} {i.spec.total.currency}",
                    "state": i.status.state.value if i.status.state else None,
                    "dueDate": i.spec.due_date.isoformat(),
                },
            )
            for i in sorted(invoices, key=lambda i: (i.spec.period.start, i.spec.revision))
        ],
    )


def _license(license: License) -> Node:
    status = license.status
    return Node(
        "License",
        license.name,
        {
            "type": license.spec.type,
            "period": status.period.value if status.period else None,
            "expiresAt": _when(license.spec.expires_at),
            "next": _next(status.next),
        },
    )


def build(
    namespace: str,
    partners: Sequence[Partner],
    tenants: Sequence[Tenant],
    domains: Sequence[Domain],
    services: Sequence[Service],
    contracts: Sequence[Contract] = (),
    invoices: Sequence[Invoice] = (),
    licenses: Sequence[License] = (),
    only: str | None = None,
) -> Node:
    """The namespace's partner with its tenants (only ``only``, if given) and everything below."""
    partner = namespace_partner(partners)
    root = Node("Partner", partner.name if partner else namespace, {"namespace": namespace})
    if partner is not None:
        root.fields["displayName"] = partner.spec.display_name
    for tenant in sorted(tenants, key=lambda t: t.name):
        if only is not None and tenant.name != only:
            continue
        own_domains = sorted((d for d in domains if d.spec.tenant_ref.name == tenant.name), key=lambda d: d.name)
        names = {d.name for d in own_domains}
        booked = [s for s in services if s.spec.domain_ref.name in names]
        node = Node(
            "Tenant",
            tenant.name,
            {
                "displayName": tenant.spec.display_name,
                "id": tenant.status.id,
                "domains": len(own_domains),
                "services": len(booked),
            },
        )
        node.children += [_domain(d, [s for s in booked if s.spec.domain_ref.name == d.name]) for d in own_domains]
        for contract in sorted(contracts, key=lambda x: x.name):
            if contract.spec.tenant_ref.name == tenant.name:
                node.children.append(
                    _contract(contract, [i for i in invoices if i.spec.contract_ref.name == contract.name])
                )
        node.children += [
            _license(x) for x in sorted(licenses, key=lambda x: x.name) if x.spec.tenant_ref.name == tenant.name
        ]
        root.children.append(node)
    root.fields["tenants"] = len(root.children)
    return root


_LABELS = {
    "Partner": ("displayName", "tenants"),
    "Tenant": ("displayName", "id", "domains", "services"),
    "Domain": ("domainName", "phase", "ready", "next"),
    "Service": ("number", "product", "phase", "subscription", "billingStart", "discount", "next"),
    "Contract": ("interval", "state", "periodEnd", "due", "next"),
    "Invoice": ("period", "total", "state", "dueDate"),
    "License": ("type", "period", "expiresAt", "next"),
}
_STYLES = {"Partner": "bold", "Tenant": "bold cyan", "Domain": "green", "Contract": "magenta", "License": "yellow"}


def label(node: Node) -> str:
    """One line: the kind, the name and the fields that are set."""
    parts = []
    for key in _LABELS[node.kind]:
        value = node.fields.get(key)
        if value is None or value == "":
            continue
        if key == "number":
            parts.append(f"#{value}")
        elif key in ("domains", "services", "tenants"):
            parts.append(f"{value} {key if value != 1 else key[:-1]}")
        elif key in ("billingStart", "discount", "next", "due", "dueDate", "periodEnd", "expiresAt", "id", "ready"):
            parts.append(f"{key} {value}")
        else:
            parts.append(str(value))
    return f"{node.kind} {node.name}" + (f"  {'  '.join(parts)}" if parts else "")


def render(node: Node, tree: Tree | None = None) -> Tree:
    # Text, not markup: nothing a partner names an object can style (or break) the output.
    text = Text(label(node), style=_STYLES.get(node.kind, ""))
    branch = Tree(text, guide_style="dim") if tree is None else tree.add(text)
    for child in node.children:
        render(child, branch)
    return branch
