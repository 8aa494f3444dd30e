"""A catalogue entry's status: available once observed (its references are checked by orders)."""

from __future__ import annotations

from datetime import datetime

from seppmail_lifecycle.api.product import ProductStatus
from seppmail_lifecycle.core.conditions import merge_conditions, summary
from seppmail_lifecycle.core.model import Product
from seppmail_lifecycle.core.orders import Decision


def decide_product(product: Product, now: datetime) -> Decision[ProductStatus]:
    message = f"{product.spec.display_name} can be booked."
    if product.spec.requires:
        message += f" Requires: {', '.join(product.spec.requires)}."
    status = product.status.model_copy(deep=True)
    status.observed_generation = product.meta.generation
    status.conditions = merge_conditions(
        product.status.conditions,
        summary("Available", message, ready=True),
        product.meta.generation,
        now,
    )
    return Decision(product.name, status)
