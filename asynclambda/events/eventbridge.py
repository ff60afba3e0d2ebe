"""Amazon EventBridge (CloudWatch Events) events, including the scheduled event.

Shape: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html (event
metadata); the scheduled event is the example of
https://docs.aws.amazon.com/lambda/latest/dg/services-cloudwatchevents.html
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType, field

from ._base import EventStruct

__all__ = ["EventBridgeEvent", "ScheduledEvent"]


class EventBridgeEvent(EventStruct, frozen=True, kw_only=True):
    """An Amazon EventBridge event; ``detail`` is the source-defined free-form JSON object."""

    version: str | UnsetType = UNSET
    id: str
    detail_type: str = field(name="detail-type")
    source: str
    account: str
    time: str
    region: str
    resources: list[str]
    detail: dict[str, Any]
    replay_name: str | UnsetType = field(default=UNSET, name="replay-name")


class ScheduledEvent(EventBridgeEvent, frozen=True, kw_only=True):
    """An EventBridge scheduled event (``"detail-type": "Scheduled Event"``, ``"source": "aws.events"``)."""
