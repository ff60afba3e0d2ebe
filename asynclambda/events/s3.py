"""Amazon S3 event notifications (object created, removed, restored, transitioned, replicated...).

Shape: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
and https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from msgspec import UNSET, UnsetType, field

from ._base import EventStruct

__all__ = [
    "S3Bucket",
    "S3Entity",
    "S3Event",
    "S3EventRecord",
    "S3GlacierEventData",
    "S3IntelligentTieringEventData",
    "S3LifecycleEventData",
    "S3Object",
    "S3ReplicationEventData",
    "S3RequestParameters",
    "S3ResponseElements",
    "S3RestoreEventData",
    "S3TransitionEventData",
    "S3UserIdentity",
]


class S3UserIdentity(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The ``principalId`` of who caused an S3 event (also a bucket's ``ownerIdentity``)."""

    principal_id: str


class S3RequestParameters(EventStruct, frozen=True, kw_only=True):
    """The ``requestParameters`` of an S3 event record: the requester's IP address."""

    source_ip_address: str = field(name="sourceIPAddress")


class S3ResponseElements(EventStruct, frozen=True, kw_only=True):
    """The ``responseElements`` of an S3 event record: the S3 request ids."""

    x_amz_request_id: str = field(name="x-amz-request-id")
    x_amz_id_2: str = field(name="x-amz-id-2")


class S3Bucket(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The ``s3.bucket`` of an S3 event record."""

    name: str
    owner_identity: S3UserIdentity
    arn: str


class S3Object(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The ``s3.object`` of an S3 event record; ``key`` is URL-encoded as S3 sends it."""

    key: str
    size: int | UnsetType = UNSET
    e_tag: str | UnsetType = UNSET
    version_id: str | UnsetType = UNSET
    sequencer: str

    @property
    def decoded_key(self) -> str:
        """The object key with S3's URL encoding (``%XX`` and ``+`` for space) undone."""
        return unquote_plus(self.key)


class S3Entity(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """The ``s3`` member of an S3 event record: notification configuration, bucket and object."""

    s3_schema_version: str
    configuration_id: str
    bucket: S3Bucket
    object: S3Object


class S3RestoreEventData(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``restoreEventData`` of an ``ObjectRestore:Completed`` event."""

    lifecycle_restoration_expiry_time: str
    lifecycle_restore_storage_class: str


class S3GlacierEventData(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``glacierEventData`` of an S3 restore event."""

    restore_event_data: S3RestoreEventData


class S3IntelligentTieringEventData(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``intelligentTieringEventData`` of an ``IntelligentTiering`` event."""

    destination_access_tier: str


class S3TransitionEventData(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``transitionEventData`` of an S3 ``LifecycleTransition`` event."""

    destination_storage_class: str


class S3LifecycleEventData(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``lifecycleEventData`` of an S3 ``LifecycleTransition`` event."""

    transition_event_data: S3TransitionEventData


class S3ReplicationEventData(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """``replicationEventData`` of an S3 ``Replication`` event."""

    replication_rule_id: str | UnsetType = UNSET
    destination_bucket: str | UnsetType = UNSET
    s3_operation: str | UnsetType = UNSET
    request_time: str | UnsetType = UNSET
    failure_reason: str | UnsetType = UNSET
    threshold: str | UnsetType = UNSET
    replication_time: str | UnsetType = UNSET


class S3EventRecord(EventStruct, frozen=True, kw_only=True, rename="camel"):
    """One S3 event notification (``Records[]``)."""

    event_version: str
    event_source: str
    aws_region: str
    event_time: str
    event_name: str
    user_identity: S3UserIdentity
    request_parameters: S3RequestParameters
    response_elements: S3ResponseElements
    s3: S3Entity
    glacier_event_data: S3GlacierEventData | UnsetType = UNSET
    intelligent_tiering_event_data: S3IntelligentTieringEventData | UnsetType = UNSET
    lifecycle_event_data: S3LifecycleEventData | UnsetType = UNSET
    replication_event_data: S3ReplicationEventData | UnsetType = UNSET


class S3Event(EventStruct, frozen=True, kw_only=True):
    """The event of an Amazon S3 notification to Lambda."""

    records: list[S3EventRecord] = field(name="Records")
