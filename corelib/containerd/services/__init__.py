"""The gRPC edge: namespace and lease from the request metadata, and the one place our errors become
gRPC statuses (inner code raises corelib.errdefs errors and never speaks gRPC)."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.message import Message

from corelib.containerd import identifiers
from corelib.containerd.tracing import in_namespace, tracer
from corelib.errdefs import FailedPrecondition, InvalidArgument, WhaleError, grpc_code_of
from corelib.trace.context import TRACEPARENT, parse_traceparent
from corelib.trace.span import adopt

log = logging.getLogger("whale-containerd")

NAMESPACE_KEY = "containerd-namespace"
LEASE_KEY = "containerd-lease"
_STATUS_BY_CODE = {code.value[0]: code for code in grpc.StatusCode}


def _metadata(context: grpc.aio.ServicerContext, key: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v
    return ""


def namespace_required(context: grpc.aio.ServicerContext) -> str:
    namespace = _metadata(context, NAMESPACE_KEY)
    if not namespace:
        raise FailedPrecondition("namespace is required: failed precondition")
    try:
        identifiers.validate(namespace)
    except InvalidArgument as e:
        raise InvalidArgument(f"namespace validation: {e}") from None
    return namespace


def lease_of(context: grpc.aio.ServicerContext) -> str:
    return _metadata(context, LEASE_KEY)


def pack(message: Message) -> AnyProto:
    """An Any with the bare type URL containerd's typeurl registry uses (`containerd.events.TaskExit`)."""
    return AnyProto(type_url=message.DESCRIPTOR.full_name, value=message.SerializeToString())


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException, method: str) -> None:
    if isinstance(exc, WhaleError):
        code = _STATUS_BY_CODE.get(grpc_code_of(exc), grpc.StatusCode.UNKNOWN)
        if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
            log.error("%s: %s", method, exc)
        await context.abort(code, str(exc))
    log.exception("%s failed", method)
    await context.abort(grpc.StatusCode.UNKNOWN, str(exc) or type(exc).__name__)


def _wrap(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in method(request, context):
                    yield item
            except (grpc.aio.AbortError, GeneratorExit):
                raise
            except Exception as exc:  # noqa: BLE001 - the edge: every error becomes a status
                await _abort(context, exc, name)
        return stream

    service, method_name = name.rsplit("/", 1)
    span_name = f"{service.rsplit('.', 1)[-1]}.{method_name}"  # Tasks.Create, as containerd's own spans

    @functools.wraps(method)
    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            parent = parse_traceparent(_metadata(context, TRACEPARENT))
            if parent is None:
                return await method(request, context)
            with adopt(parent), in_namespace(_metadata(context, NAMESPACE_KEY)), \
                    tracer.span(span_name, **_span_attributes(request)):
                return await method(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001 - the edge: every error becomes a status
            await _abort(context, exc, name)
    return unary


def _span_attributes(request: Any) -> dict[str, str]:
    container_id = getattr(request, "container_id", "")
    if not container_id and request.DESCRIPTOR.fields_by_name.get("container"):
        container_id = request.container.id
    return {"container_id": container_id} if container_id else {}


def serve_errors(servicer: Any, service_descriptor: Any) -> Any:
    """Wrap every method of `servicer` that the service defines, so errors become gRPC statuses."""
    for method in service_descriptor.methods:
        bound = getattr(servicer, method.name)
        setattr(servicer, method.name, _wrap(bound, f"{service_descriptor.full_name}/{method.name}"))
    return servicer
