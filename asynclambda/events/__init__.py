"""msgspec Structs for the JSON shapes of AWS Lambda events and responses.

Each module models one event family with AWS's exact member names (camelCase, PascalCase and
hyphenated names are mapped onto snake_case attributes), so that decoding an AWS event and encoding
it again gives back the same JSON: optional members default to ``msgspec.UNSET`` and are left out
when unset, while a ``null`` that AWS sent stays ``null``.

=====================  =====================================================================
module                 shapes
=====================  =====================================================================
``sqs``                SQS messages (standard and FIFO)
``sns``                SNS notifications
``s3``                 S3 event notifications
``kinesis``            Kinesis Data Streams records (``decode_data()`` gives the bytes)
``dynamodb``           DynamoDB Streams records, typed attributes, ``serialize``/``deserialize``
``eventbridge``        EventBridge events and the scheduled event
``apigateway``         API Gateway REST (v1 proxy) requests and responses
``apigatewayv2``       API Gateway HTTP API payload 2.0 requests and responses
``function_url``       Lambda function URL requests and responses (payload 2.0)
``alb``                Application Load Balancer target requests and responses
``cloudwatch_logs``    CloudWatch Logs subscriptions (``decode()`` gives the log events)
``kafka``              Amazon MSK and self-managed Kafka records
``batch``              partial batch responses and tumbling windows (SQS, Kinesis, DynamoDB)
=====================  =====================================================================

:func:`event_type_for` finds the Struct a handler's first parameter is annotated with, so the
runtime can decode the event into it with :func:`decoder_for`; :func:`encode` encodes any Struct.
"""

from __future__ import annotations

from ._decode import (
    decoder_for,
    encode,
    event_type_for,
)
from .alb import (
    ALBRequestContext,
    ALBTargetGroup,
    ALBTargetGroupRequest,
    ALBTargetGroupResponse,
)
from .apigateway import (
    APIGatewayClientCert,
    APIGatewayClientCertValidity,
    APIGatewayProxyEvent,
    APIGatewayProxyResponse,
    APIGatewayRequestContext,
    APIGatewayRequestIdentity,
)
from .apigatewayv2 import (
    APIGatewayProxyEventV2,
    APIGatewayProxyResponseV2,
    APIGatewayV2Authentication,
    APIGatewayV2Authorizer,
    APIGatewayV2CognitoIdentity,
    APIGatewayV2HTTP,
    APIGatewayV2IAMAuthorizer,
    APIGatewayV2JWTAuthorizer,
    APIGatewayV2RequestContext,
)
from .batch import (
    BatchItemFailure,
    PartialBatchResponse,
    TumblingWindow,
    TumblingWindowFields,
    TumblingWindowResponse,
)
from .cloudwatch_logs import (
    CloudWatchLogsData,
    CloudWatchLogsDecodedData,
    CloudWatchLogsEvent,
    CloudWatchLogsLogEvent,
)
from .dynamodb import (
    AttributeValue,
    DynamoDBEvent,
    DynamoDBRecord,
    DynamoDBStreamRecord,
    DynamoDBUserIdentity,
    deserialize,
    deserialize_image,
    serialize,
    serialize_image,
)
from .eventbridge import (
    EventBridgeEvent,
    ScheduledEvent,
)
from .function_url import (
    LambdaFunctionUrlRequest,
    LambdaFunctionUrlResponse,
)
from .kafka import (
    KafkaEvent,
    KafkaRecord,
)
from .kinesis import (
    KinesisEvent,
    KinesisEventRecord,
    KinesisRecord,
)
from .s3 import (
    S3Bucket,
    S3Entity,
    S3Event,
    S3EventRecord,
    S3GlacierEventData,
    S3IntelligentTieringEventData,
    S3LifecycleEventData,
    S3Object,
    S3ReplicationEventData,
    S3RequestParameters,
    S3ResponseElements,
    S3RestoreEventData,
    S3TransitionEventData,
    S3UserIdentity,
)
from .sns import (
    SNSEvent,
    SNSMessage,
    SNSMessageAttribute,
    SNSRecord,
)
from .sqs import (
    SQSEvent,
    SQSMessageAttribute,
    SQSRecord,
    SQSRecordAttributes,
)

__all__ = [
    "ALBRequestContext",
    "ALBTargetGroup",
    "ALBTargetGroupRequest",
    "ALBTargetGroupResponse",
    "APIGatewayClientCert",
    "APIGatewayClientCertValidity",
    "APIGatewayProxyEvent",
    "APIGatewayProxyEventV2",
    "APIGatewayProxyResponse",
    "APIGatewayProxyResponseV2",
    "APIGatewayRequestContext",
    "APIGatewayRequestIdentity",
    "APIGatewayV2Authentication",
    "APIGatewayV2Authorizer",
    "APIGatewayV2CognitoIdentity",
    "APIGatewayV2HTTP",
    "APIGatewayV2IAMAuthorizer",
    "APIGatewayV2JWTAuthorizer",
    "APIGatewayV2RequestContext",
    "AttributeValue",
    "BatchItemFailure",
    "CloudWatchLogsData",
    "CloudWatchLogsDecodedData",
    "CloudWatchLogsEvent",
    "CloudWatchLogsLogEvent",
    "DynamoDBEvent",
    "DynamoDBRecord",
    "DynamoDBStreamRecord",
    "DynamoDBUserIdentity",
    "EventBridgeEvent",
    "KafkaEvent",
    "KafkaRecord",
    "KinesisEvent",
    "KinesisEventRecord",
    "KinesisRecord",
    "LambdaFunctionUrlRequest",
    "LambdaFunctionUrlResponse",
    "PartialBatchResponse",
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
    "SNSEvent",
    "SNSMessage",
    "SNSMessageAttribute",
    "SNSRecord",
    "SQSEvent",
    "SQSMessageAttribute",
    "SQSRecord",
    "SQSRecordAttributes",
    "ScheduledEvent",
    "TumblingWindow",
    "TumblingWindowFields",
    "TumblingWindowResponse",
    "decoder_for",
    "deserialize",
    "deserialize_image",
    "encode",
    "event_type_for",
    "serialize",
    "serialize_image",
]
