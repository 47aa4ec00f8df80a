"""The daemon itself: /version, /info, /events."""

from __future__ import annotations

from corelib.client.transport.http import Response


class SystemApiMixin:
    def version(self) -> dict:
        return self.get_json("/version")

    def info(self) -> dict:
        return self.get_json("/info")

    def events(self, since: str | None = None, until: str | None = None,
               filters: dict[str, list[str]] | None = None) -> Response:
        """GET /events: a stream of JSON messages, one a line, until `until` or the connection closes."""
        return self.call("GET", "/events", {"since": since or None, "until": until or None,
                                            "filters": filters or None})
