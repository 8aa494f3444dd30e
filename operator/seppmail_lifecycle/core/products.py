"""A catalogue entry's status: available once observed, unless what it requires cannot be met
(a product missing from the catalogue) or it requires itself through others (a cycle). Orders
check their own references."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from seppmail_lifecycle.api.product import ProductStatus
from seppmail_lifecycle.core.conditions import merge_conditions, summary
from seppmail_lifecycle.core.model import Product
from seppmail_lifecycle.core.orders import Decision


def requirement_cycle(name: str, catalogue: Mapping[str, Product]) -> list[str] | None:
    """The products from ``name`` back to ``name`` through ``spec.requires``, if it requires itself."""

    def walk(current: str, path: list[str], seen: set[str]) -> list[str] | None:
        product = catalogue.get(current)
        for required in product.spec.requires if product else ():
            if required == name:
                return [*path, name]
            if required not in seen:
                seen.add(required)
                if found := walk(required, [*path, required], seen):
                    return found
        return None

    return walk(name, [name], {name})


def decide_product(product: Product, catalogue: Mapping[str, Product], now: datetime) -> Decision[ProductStatus]:
    """``catalogue``: every product, by name."""
    missing = [required for required in product.spec.requires if required not in catalogue]
    cycle = requirement_cycle(product.name, catalogue)
    if missing:
        conditions = summary(
            "RequiredProductMissing",
            f"Requires {', '.join(repr(m) for m in missing)}, which the catalogue does not have: no service of "
            f"{product.spec.display_name} can be booked until it is created or spec.requires is fixed.",
            ready=False,
            stalled=True,
        )
    elif cycle:
        conditions = summary(
            "RequirementCycle",
            f"{' requires '.join(cycle)}: each of these can be booked only together with the others; fix "
            "spec.requires unless that is meant.",
            ready=True,
        )
    else:
        message = f"{product.spec.display_name} can be booked."
        if product.spec.requires:
            message += f" Requires: {', '.join(product.spec.requires)}."
        conditions = summary("Available", message, ready=True)
    status = product.status.model_copy(deep=True)
    status.observed_generation = product.meta.generation
    status.conditions = merge_conditions(product.status.conditions, conditions, product.meta.generation, now)
    return Decision(product.name, status)
