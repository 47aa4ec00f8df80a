"""One error vocabulary for every layer (containerd's errdefs), mapped once per protocol at the edge:
gRPC and ttrpc status codes, HTTP status codes of the Engine API. Inner code raises these and never
speaks a protocol's error type."""

from __future__ import annotations


class WhaleError(Exception):
    """Base class: `grpc_code` is the gRPC/ttrpc status code, `http_status` the Engine API status."""

    grpc_code = 2  # UNKNOWN
    http_status = 500

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(WhaleError):
    grpc_code = 3
    http_status = 400


class Deadline(WhaleError):
    grpc_code = 4
    http_status = 500


class NotFound(WhaleError):
    grpc_code = 5
    http_status = 404


class AlreadyExists(WhaleError):
    grpc_code = 6
    http_status = 409


class PermissionDenied(WhaleError):
    grpc_code = 7
    http_status = 403


class ResourceExhausted(WhaleError):
    grpc_code = 8
    http_status = 500


class FailedPrecondition(WhaleError):
    grpc_code = 9
    http_status = 409


class Conflict(WhaleError):
    grpc_code = 10  # ABORTED
    http_status = 409


class NotImplemented(WhaleError):  # noqa: A001 - the name containerd and Docker use
    grpc_code = 12
    http_status = 501


class Internal(WhaleError):
    grpc_code = 13
    http_status = 500


class Unavailable(WhaleError):
    grpc_code = 14
    http_status = 503


class NotModified(WhaleError):
    grpc_code = 9
    http_status = 304


class Canceled(WhaleError):
    grpc_code = 1
    http_status = 500


_BY_GRPC_CODE: dict[int, type[WhaleError]] = {
    cls.grpc_code: cls
    for cls in (Canceled, InvalidArgument, Deadline, NotFound, AlreadyExists, PermissionDenied,
                ResourceExhausted, FailedPrecondition, Conflict, NotImplemented, Internal, Unavailable)
}


def from_grpc_code(code: int, message: str) -> WhaleError:
    """The error a peer's status code stands for (unknown codes become a plain WhaleError)."""
    return _BY_GRPC_CODE.get(code, WhaleError)(message)


def grpc_code_of(exc: BaseException) -> int:
    return exc.grpc_code if isinstance(exc, WhaleError) else WhaleError.grpc_code


def http_status_of(exc: BaseException) -> int:
    return exc.http_status if isinstance(exc, WhaleError) else 500
