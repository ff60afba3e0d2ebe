"""event_type_for finds the Struct a handler is annotated with; decoders are cached per type."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import msgspec

from asynclambda import events as ev


def plain(event: ev.SQSEvent, context: Any) -> None:
    """A handler annotated under ``from __future__ import annotations``: a string annotation."""


def unannotated(event, context):  # type: ignore[no-untyped-def]
    return None


def dict_annotated(event: dict[str, Any], context: Any) -> None:
    pass


def unresolvable(event: NoSuchEvent, context: Any) -> None:  # type: ignore[name-defined]  # noqa: F821
    pass


def logged(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return handler(*args, **kwargs)

    return wrapper


@logged
@logged
def decorated(event: ev.KinesisEvent, context: Any) -> None:
    pass


class OrderPlaced(msgspec.Struct, frozen=True):
    order_id: str


class Handlers:
    def on_s3(self, event: ev.S3Event, context: Any) -> None:
        pass

    def __call__(self, event: ev.DynamoDBEvent, context: Any) -> None:
        pass


async def async_handler(
    event: ev.APIGatewayProxyEventV2, context: Any
) -> ev.APIGatewayProxyResponseV2:
    return ev.APIGatewayProxyResponseV2(status_code=200)


def test_string_annotation_resolves_to_the_struct() -> None:
    assert plain.__annotations__["event"] == "ev.SQSEvent"
    assert ev.event_type_for(plain) is ev.SQSEvent


def test_real_annotation_is_returned() -> None:
    def handler(event: Any, context: Any) -> None:
        pass

    handler.__annotations__["event"] = ev.ScheduledEvent
    assert ev.event_type_for(handler) is ev.ScheduledEvent


def test_wraps_chains_are_unwrapped() -> None:
    assert ev.event_type_for(decorated) is ev.KinesisEvent


def test_async_handlers_methods_and_callable_objects() -> None:
    assert ev.event_type_for(async_handler) is ev.APIGatewayProxyEventV2
    assert ev.event_type_for(Handlers().on_s3) is ev.S3Event
    assert ev.event_type_for(Handlers()) is ev.DynamoDBEvent


def test_any_struct_subclass_counts() -> None:
    def handler(event: OrderPlaced, context: Any) -> None:
        pass

    assert ev.event_type_for(handler) is OrderPlaced


def test_no_struct_gives_none() -> None:
    assert ev.event_type_for(unannotated) is None
    assert ev.event_type_for(dict_annotated) is None
    assert ev.event_type_for(unresolvable) is None
    assert ev.event_type_for(lambda: None) is None
    assert ev.event_type_for(print) is None  # no signature to inspect


def test_a_wrapped_cycle_gives_none() -> None:
    def handler(event: ev.SQSEvent, context: Any) -> None:
        pass

    handler.__wrapped__ = handler  # type: ignore[attr-defined]
    assert ev.event_type_for(handler) is None


def test_decoder_is_built_once_per_type() -> None:
    assert ev.decoder_for(ev.SQSEvent) is ev.decoder_for(ev.SQSEvent)
    sqs_decoder: object = ev.decoder_for(ev.SQSEvent)
    assert sqs_decoder is not ev.decoder_for(ev.SNSEvent)
    assert ev.decoder_for(OrderPlaced).decode(b'{"order_id": "o-1"}') == OrderPlaced(order_id="o-1")


def test_encode_gives_json_bytes() -> None:
    assert ev.encode(ev.BatchItemFailure(item_identifier="m-1")) == b'{"itemIdentifier":"m-1"}'
    assert ev.encode({"plain": [1]}) == b'{"plain":[1]}'
