"""Exec instances: /containers/{id}/exec and /exec/{id}/..."""

from __future__ import annotations

from corelib.client.api._path import esc
from corelib.client.transport.http import HijackedSocket


class ExecApiMixin:
    def exec_create(self, container: str, config: dict) -> dict:
        return self.post_json(f"/containers/{esc(container)}/exec", None, config)

    def exec_start_socket(self, exec_id: str, tty: bool = False, console_size: list[int] | None = None
                          ) -> HijackedSocket:
        """POST /exec/{id}/start with Detach false: the hijacked stream of the process."""
        body = {"Detach": False, "Tty": tty}
        if console_size:
            body["ConsoleSize"] = console_size
        return self.hijack(f"/exec/{esc(exec_id)}/start", None, body)

    def exec_start_detached(self, exec_id: str, tty: bool = False) -> None:
        self.post(f"/exec/{esc(exec_id)}/start", None, {"Detach": True, "Tty": tty})

    def exec_inspect(self, exec_id: str) -> dict:
        return self.get_json(f"/exec/{esc(exec_id)}/json")

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self.post(f"/exec/{esc(exec_id)}/resize", {"h": height, "w": width})
