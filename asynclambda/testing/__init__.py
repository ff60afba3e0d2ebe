"""Testing kit: virtual time, Hypothesis strategies, idempotency checks, conformance suites.

* :mod:`asynclambda.testing.strategies`: Hypothesis strategies for JSON payloads, async invoke
  configurations, per-attempt failure schedules and at-least-once delivery faults.
* :mod:`asynclambda.testing.idempotency`: :func:`check_idempotent` (does a handler's end state
  survive duplicates, crashes before the acknowledgement and reordering?) and the conformance
  suite for idempotency stores.
* :mod:`asynclambda.testing.conformance`: conformance suites for queue, stream and checkpoint
  backends.
* :mod:`asynclambda.testing.plugin`: the pytest plugin (fixtures ``virtual_clock`` and
  ``idempotency_store``), registered through an entry point.

The names below are imported lazily: ``import asynclambda.testing`` (which loading the pytest
plugin does) imports neither Hypothesis nor the kit's modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .idempotency import (
        IdempotencyStoreConformance,
        IdempotencyViolation,
        check_idempotent,
        check_idempotent_async,
    )
    from .strategies import (
        Delivery,
        DeliveryPlan,
        FailureSchedule,
        Outcome,
        delivery_faults,
        event_invoke_configs,
        failure_schedules,
        json_payloads,
        json_values,
    )

__all__ = [
    "Delivery",
    "DeliveryPlan",
    "FailureSchedule",
    "IdempotencyStoreConformance",
    "IdempotencyViolation",
    "Outcome",
    "check_idempotent",
    "check_idempotent_async",
    "delivery_faults",
    "event_invoke_configs",
    "failure_schedules",
    "json_payloads",
    "json_values",
]

_HOMES = {
    "Delivery": "strategies",
    "DeliveryPlan": "strategies",
    "FailureSchedule": "strategies",
    "IdempotencyStoreConformance": "idempotency",
    "IdempotencyViolation": "idempotency",
    "Outcome": "strategies",
    "check_idempotent": "idempotency",
    "check_idempotent_async": "idempotency",
    "delivery_faults": "strategies",
    "event_invoke_configs": "strategies",
    "failure_schedules": "strategies",
    "json_payloads": "strategies",
    "json_values": "strategies",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
