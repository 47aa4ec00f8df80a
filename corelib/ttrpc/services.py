"""Services a server offers, found by name, and errors turned into status codes (once, here)."""

from __future__ import annotations

import time

from corelib.errdefs import WhaleError
from corelib.ttrpc.protocol import Code, TtrpcError

TYPE_CHECKING = False  # typing itself costs the shim a megabyte of memory
if TYPE_CHECKING:
    from typing import Any


class Context:
    """What a handler learns about its call besides the request."""

    __slots__ = ("service", "method", "metadata", "deadline")

    def __init__(self, service: str, method: str, metadata: dict[str, list[str]], timeout_nano: int):
        self.service = service
        self.method = method
        self.metadata = metadata
        self.deadline = time.monotonic() + timeout_nano / 1e9 if timeout_nano > 0 else None

    def get(self, key: str) -> str | None:
        """The first metadata value under `key` (keys compare case-insensitively)."""
        key = key.lower()
        for k, values in self.metadata.items():
            if k.lower() == key and values:
                return values[0]
        return None

    def time_remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


def message_class(descriptor: Any) -> type:
    cls = getattr(descriptor, "_concrete_class", None)
    if cls is None:  # a message no generated module has built yet
        from google.protobuf import message_factory

        cls = message_factory.GetMessageClass(descriptor)
    return cls


class ServiceSet:
    def __init__(self) -> None:
        self._services: dict[str, dict[str, tuple[Any, type]]] = {}

    def register_service(self, descriptor: Any, servicer: object) -> None:
        """Serve every method of `descriptor` that `servicer` defines (the rest answer Unimplemented)."""
        if descriptor.full_name in self._services:
            raise ValueError(f"duplicate service {descriptor.full_name} registered")
        self._services[descriptor.full_name] = {
            m.name: (getattr(servicer, m.name), message_class(m.input_type))
            for m in descriptor.methods if callable(getattr(servicer, m.name, None))
        }

    def resolve(self, service: str, method: str) -> tuple[Any, type]:
        methods = self._services.get(service)
        if methods is None:
            raise TtrpcError(Code.UNIMPLEMENTED, f"service {service}")
        if method not in methods:
            raise TtrpcError(Code.UNIMPLEMENTED, f"method {method}")
        return methods[method]


def decode(request_class: type, payload: bytes) -> Any:
    try:
        return request_class.FromString(payload)
    except Exception as e:  # noqa: BLE001 - a payload that does not parse is the caller's error
        raise TtrpcError(Code.INTERNAL, f"ttrpc: error unmarshalling payload: {e}") from None


def encode(response: Any) -> bytes:
    """A handler's answer; None stands for google.protobuf.Empty."""
    return b"" if response is None else response.SerializeToString()


def status_of(exc: BaseException) -> tuple[int, str]:
    """The status code and message a handler's exception is answered with."""
    if isinstance(exc, TtrpcError):
        return exc.code, exc.message
    if isinstance(exc, WhaleError):
        return exc.grpc_code, exc.message
    if isinstance(exc, TimeoutError):
        return Code.DEADLINE_EXCEEDED, "context deadline exceeded"
    return Code.UNKNOWN, str(exc) or type(exc).__name__
