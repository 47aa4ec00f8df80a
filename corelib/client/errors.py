"""Errors of the client library, in the docker client's words."""

from __future__ import annotations

import contextlib
import json


class APIError(Exception):
    """The daemon answered with an error status: `str()` is what docker prints for it."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message

    def __str__(self) -> str:
        return f"Error response from daemon: {self.message}"

    @property
    def is_not_found(self) -> bool:
        return self.status_code == 404


def from_response(status: int, content_type: str, body: bytes, route: str) -> APIError:
    """moby's client checkResponseErr: the JSON `message`, else the body text, else a hint."""
    if not body.strip():
        return APIError(status, f"request returned {_status_text(status)} for API route and version {route}, "
                                "check if the server supports the requested API version")
    message = body.decode("utf-8", "replace").strip()
    if content_type.split(";")[0].strip() == "application/json":
        with contextlib.suppress(ValueError, AttributeError):
            message = str(json.loads(body).get("message", "")).strip()
    return APIError(status, message)


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return str(status)
