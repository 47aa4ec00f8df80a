"""A notebook's connection to the stack: the daemon's address, the event pump and its sources, the
client's tracer, the widgets, and (when the extension started one) the embedded stack."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pandas as pd

from corelib.client.api import APIClient
from corelib.client.cli.command import PROG
from corelib.client.errors import APIError
from corelib.trace.span import Span, Tracer
from nbext.frames import events_frame, spans_frame
from nbext.pump import EventPump, Source
from nbext.sources import DaemonSpans, DockerEvents
from nbext.tracing import TracedClient
from nbext.widget_events import EventLog
from nbext.widget_table import ContainerTable
from nbext.widget_timeline import Timeline

if TYPE_CHECKING:
    from nbext.stack import EmbeddedStack


class Session:
    def __init__(self, host: str, stack: EmbeddedStack | None = None, extra_sources: list[Source] | None = None):
        self.host = host
        self.stack = stack
        self.pump = EventPump()
        self.tracer = Tracer("client", sink=self.pump.post_span)
        self.last_container: str | None = None
        self._api_version: str | None = None
        self._extra_sources = extra_sources or []

    def start(self) -> Session:
        client = self.client()
        try:
            self._api_version = client.api_version  # fails here, clearly, if nothing answers
        finally:
            client.close()
        self.pump.start([DockerEvents(self.client), DaemonSpans(self.client), *self._extra_sources])
        return self

    def client(self) -> APIClient:
        """A client for the notebook's own requests (streams, lookups): they are no one's trace."""
        return APIClient(self.host, version=self._api_version)

    def command_client(self, host: str | None = None) -> TracedClient:
        """A client for one command: its requests are spans of the command's trace, posted to the pump."""
        version = self._api_version if host is None else None
        return TracedClient(host or self.host, self.tracer, self.pump.post_span, version=version)

    # -- widgets -----------------------------------------------------------------------------------

    def table(self) -> ContainerTable:
        return ContainerTable(self.pump, on_action=self._act)

    def timeline(self, container: str = "") -> Timeline:
        """The newest trace, live; or every trace of one container (the daemon's, when it keeps them)."""
        if container:
            container = self.resolve(container)
            self.fetch_trace(container)
        return Timeline(self.pump, container=container)

    def event_log(self) -> EventLog:
        return EventLog(self.pump)

    def _act(self, table: ContainerTable, action: str, container: str) -> None:
        """A table's button: the request runs in a thread of its own (the kernel may be busy in a
        cell); its outcome goes to that table's message."""

        def work() -> None:
            client = self.command_client()
            try:
                with client.command(f"{PROG} {action}", f"{action} {container}"):
                    {"start": client.start, "stop": client.stop, "kill": client.kill,
                     "rm": lambda c: client.remove_container(c, force=True)}[action](container)
                outcome = f"{action} {container[:12]}: done"
            except (APIError, OSError) as e:
                outcome = f"{action} {container[:12]}: {e}"
            finally:
                client.close()
            self.pump.call(lambda: setattr(table, "message", outcome))

        threading.Thread(target=work, name=f"nbext-{action}", daemon=True).start()

    # -- data --------------------------------------------------------------------------------------

    def resolve(self, container: str) -> str:
        """A container's full id from its name or a prefix (as given, once it is gone)."""
        client = self.client()
        try:
            return client.inspect_container(container)["Id"]
        except (APIError, KeyError):
            return container
        finally:
            client.close()

    def fetch_trace(self, container: str) -> list[Span]:
        """The daemon's spans for a container (`GET /containers/{id}/trace`), added to what the
        timeline and timings know; none from a daemon that does not keep them."""
        client = self.client()
        try:
            spans = [Span.from_dict(d) for d in client.get_json(f"/containers/{container}/trace") or []]
        except APIError:
            return []
        finally:
            client.close()
        for span in spans:
            self.pump.post_span(span)
        self.pump.flush()
        return spans

    def timings(self, container: str | None = None, all_traces: bool = False) -> pd.DataFrame:
        """One row per span of the traces that touched `container` (default: the last one a magic
        ran), or of every trace this session saw."""
        self.pump.flush()
        state = self.pump.state
        if all_traces:
            return spans_frame(state.finished_spans())
        container = container or self.last_container
        return spans_frame(self.spans_of(container) if container else [])

    def spans_of(self, container: str) -> list[Span]:
        """The finished spans of every trace that touched a container: the daemon's and the client's."""
        container = self.resolve(container)
        self.fetch_trace(container)
        state = self.pump.state
        return state.finished_spans(state.traces_of(container))

    def events(self) -> pd.DataFrame:
        self.pump.flush()
        return events_frame(list(self.pump.state.events))

    def close(self) -> None:
        self.pump.close()
        if self.stack is not None:
            self.stack.stop()

