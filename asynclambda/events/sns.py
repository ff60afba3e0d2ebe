"""Amazon SNS notifications delivered to a subscribed Lambda function.

Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType, field

from ._base import EventStruct

__all__ = ["SNSEvent", "SNSMessage", "SNSMessageAttribute", "SNSRecord"]


class SNSMessageAttribute(EventStruct, frozen=True, kw_only=True, rename="pascal"):
    """One SNS message attribute (``Sns.MessageAttributes`` value): ``Type`` and ``Value``."""

    type: str
    value: str


class SNSMessage(EventStruct, frozen=True, kw_only=True, rename="pascal"):
    """The ``Sns`` member of an SNS record: the notification itself."""

    signature_version: str
    timestamp: str
    signature: str
    signing_cert_url: str
    message_id: str
    message: str
    message_attributes: dict[str, SNSMessageAttribute] | UnsetType = UNSET
    type: str
    unsubscribe_url: str
    topic_arn: str
    subject: str | UnsetType | None = UNSET


class SNSRecord(EventStruct, frozen=True, kw_only=True, rename="pascal"):
    """One notification of an SNS event (``Records[]``)."""

    event_version: str
    event_subscription_arn: str
    event_source: str
    sns: SNSMessage


class SNSEvent(EventStruct, frozen=True, kw_only=True):
    """The event of an Amazon SNS subscription."""

    records: list[SNSRecord] = field(name="Records")
