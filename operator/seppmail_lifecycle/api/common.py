"""Building blocks shared by every kind: the model base, bounded field types, references,
conditions, the next-transition marker and the status fields every kind carries.

The CRD schemas are generated from these models (``api.crdgen``), so a constraint written here
is enforced twice: by the API server at ``kubectl apply`` and by pydantic in the operator.
"""

from __future__ import annotations

import copy
import decimal
import enum
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

# Patterns are written in the subset both Go's RE2 (API server) and Rust's regex (pydantic) accept.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
FQDN_PATTERN = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9]([-a-z0-9]{0,57}[a-z0-9])?)$"
"""A lowercase FQDN in its ASCII form: labels of letters, digits and inner hyphens, and a top-level
domain of letters or an internationalised one in punycode (``xn--p1ai``, .рф)."""
EMAIL_PATTERN = r"^[^@\s]+@([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
DECIMAL_PATTERN = r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$"
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

# The descriptions here are what `kubectl explain` shows for list items of these types.
ObjectName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=253, pattern=OBJECT_NAME_PATTERN),
    Field(description="An object name in the same namespace."),
]
ProductName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN),
    Field(description="A Product name (lowercase DNS label)."),
]
Fqdn = Annotated[
    str,
    StringConstraints(min_length=4, max_length=253, pattern=FQDN_PATTERN),
    Field(description="A lowercase fully qualified domain name."),
]
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=254, pattern=EMAIL_PATTERN),
    Field(description="An e-mail address."),
]
_UNSAFE = "\\x00-\\x1f\\x7f-\\x9f" + "\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Control characters (terminal escapes, line breaks) and bidi overrides: they would reach mail
subjects, ``kubectl`` output and the plugin's tables. (Written so that the API server's RE2,
pydantic's regex and Python's ``re`` read the class the same: ``\\xhh`` and the bidi characters
themselves, no ``\\u`` escapes, which RE2 does not know.)"""
TEXT_PATTERN = f"^[^{_UNSAFE}]*[^{_UNSAFE} ][^{_UNSAFE}]*$"
"""A name or a reason: no control or bidi characters, and not blank."""
TIMESTAMP_PATTERN = (
    "^(20|21)[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?"
    "([Zz]|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
)
"""An RFC 3339 time a partner may write: the years 2000 to 2199 (never a zero time or the epoch,
what an empty field of a sync becomes), an offset of at most 14 hours (no zone is further), ASCII
digits only (``\\d`` would also match other scripts' digits in Python)."""


def plausible_time(value: datetime) -> datetime:
    """The model's check of ``TIMESTAMP_PATTERN``, for objects written before the schema had it."""
    offset = value.utcoffset()
    if not 2000 <= value.year <= 2199 or (offset is not None and abs(offset) > timedelta(hours=14)):
        raise ValueError(
            f"{value.isoformat()} is not a plausible time: the years 2000 to 2199, an offset of at most 14 hours"
        )
    return value


PlausibleTime = Annotated[
    datetime, AfterValidator(plausible_time), Field(json_schema_extra={"pattern": TIMESTAMP_PATTERN})
]
"""A time a partner writes: ``TIMESTAMP_PATTERN`` at apply time, ``plausible_time`` in the model."""


DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=TEXT_PATTERN)]
Reason64 = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=TEXT_PATTERN)]
Reason256 = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=TEXT_PATTERN)]
ShortText = Annotated[str, StringConstraints(max_length=256)]
MAX_MESSAGE = 4096
Message = Annotated[str, StringConstraints(max_length=MAX_MESSAGE)]
Decimal = Annotated[str, StringConstraints(max_length=20, pattern=DECIMAL_PATTERN)]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]

IMMUTABLE = "x-kubernetes-immutable-message"
"""json_schema_extra key: the generator turns it into a ``self == oldSelf`` CEL rule with this message."""


def immutable(message: str) -> dict[str, Any]:
    return {IMMUTABLE: message}


def cel(rule: str, message: str, field_path: str | None = None) -> JsonDict:
    """One ``x-kubernetes-validations`` entry."""
    entry: JsonDict = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


_IMMUTABLE = (str, int, float, bool, type(None), datetime, date, timedelta, decimal.Decimal, enum.Enum)


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    """A deep copy of a field value: models, lists and dicts copied, immutable scalars shared."""
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, LifecycleModel):
        return value.__deepcopy__(memo)
    if type(value) is list:
        return [_copied(v, memo) for v in value]
    if type(value) is dict:
        return {k: _copied(v, memo) for k, v in value.items()}
    if type(value) is tuple:
        return tuple(_copied(v, memo) for v in value)
    return copy.deepcopy(value, memo)


class LifecycleModel(BaseModel):
    """Base of every spec and status model: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=False,
    )

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # What pydantic's own does (new instance, copied __dict__, same fields set; no extras,
        # no private attributes here), without copy.deepcopy walking every date and string: each
        # decision copies the statuses it changes, and this was a third of a reconcile's CPU.
        memo = {} if memo is None else memo
        cls = type(self)
        copied = cls.__new__(cls)
        object.__setattr__(copied, "__dict__", {k: _copied(v, memo) for k, v in self.__dict__.items()})
        object.__setattr__(copied, "__pydantic_extra__", None)
        object.__setattr__(copied, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        object.__setattr__(copied, "__pydantic_private__", None)
        return copied


class LocalObjectRef(LifecycleModel):
    """A reference to another object of this API in the same namespace."""

    name: ObjectName = Field(description="Name of the referenced object in the same namespace.")


class Condition(LifecycleModel):
    """A metav1.Condition: one aspect of the object's state, with why and since when."""

    type: Annotated[str, StringConstraints(min_length=1, max_length=316)] = Field(
        description="Condition type, e.g. Ready, Reconciling, Stalled, Confirmed."
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=CONDITION_REASON_PATTERN)] = Field(
        description="Machine-readable CamelCase reason for the condition's last transition."
    )
    message: Annotated[str, StringConstraints(max_length=32768)] = Field(
        default="", description="Human-readable explanation: what is wrong and what to do about it."
    )
    last_transition_time: datetime = Field(description="When the condition last changed from one status to another.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation the condition was computed from."
    )


class NextTransition(LifecycleModel):
    """The next scheduled transition: the operator wakes exactly at `at` to perform `action`."""

    action: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="What happens next, e.g. Confirm, Deploy, Deprovision, EnterGrace."
    )
    at: datetime = Field(description="When it is due (RFC 3339, UTC).")


class HistoryEntry(LifecycleModel):
    """One past transition, kept in status because Kubernetes events expire."""

    at: datetime = Field(description="When the transition happened.")
    from_: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, alias="from", description="The state before the transition."
    )
    to: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The state after the transition."
    )
    reason: Annotated[str, StringConstraints(max_length=128)] = Field(
        default="", description="Why, as the condition reason of the transition."
    )
    message: Message = Field(default="", description="Human-readable detail.")


MAX_CONDITIONS = 16
MAX_HISTORY = 20


class StatusBase(LifecycleModel):
    """Status fields every kind carries."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation the status was computed from."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=MAX_CONDITIONS,
        description="Current conditions (metav1.Condition): always Ready; Reconciling while working; "
        "Stalled on errors a retry will not fix; plus kind-specific ones.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    next: NextTransition | None = Field(default=None, description="The next scheduled transition, if any.")
    history: list[HistoryEntry] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description=f"The last {MAX_HISTORY} transitions, newest last.",
    )


class Money(LifecycleModel):
    """An amount of money as a decimal string (never a float), with its currency."""

    amount: Decimal = Field(description="Decimal amount, e.g. 12.50 (at most 4 decimal places).")
    currency: Currency = Field(default="CHF", description="ISO 4217 currency code, e.g. CHF, EUR.")
