"""Containers: /containers/... (docker-py's ContainerApiMixin, answers as the daemon sends them)."""

from __future__ import annotations

from corelib.client.api._path import esc
from corelib.client.transport.http import HijackedSocket, Response


class ContainerApiMixin:
    def create_container(self, config: dict, name: str | None = None, platform: str | None = None) -> dict:
        """POST /containers/create: `config` is Config with HostConfig and NetworkingConfig inside."""
        return self.post_json("/containers/create", {"name": name or None, "platform": platform or None}, config)

    def start(self, container: str) -> None:
        self.post(f"/containers/{esc(container)}/start")

    def stop(self, container: str, timeout: int | None = None) -> None:
        self.post(f"/containers/{esc(container)}/stop", {"t": timeout})

    def restart(self, container: str, timeout: int | None = None) -> None:
        self.post(f"/containers/{esc(container)}/restart", {"t": timeout})

    def kill(self, container: str, signal: str | None = None) -> None:
        self.post(f"/containers/{esc(container)}/kill", {"signal": signal or None})

    def pause(self, container: str) -> None:
        self.post(f"/containers/{esc(container)}/pause")

    def unpause(self, container: str) -> None:
        self.post(f"/containers/{esc(container)}/unpause")

    def rename(self, container: str, name: str) -> None:
        self.post(f"/containers/{esc(container)}/rename", {"name": name})

    def resize(self, container: str, height: int, width: int) -> None:
        self.post(f"/containers/{esc(container)}/resize", {"h": height, "w": width})

    def wait(self, container: str, condition: str | None = None) -> Response:
        """POST /containers/{id}/wait: returns once the headers are in (the daemon sends them at once);
        `wait_result` reads the body, which comes when the condition is met."""
        return self.call("POST", f"/containers/{esc(container)}/wait", {"condition": condition or None})

    @staticmethod
    def wait_result(resp: Response) -> dict:
        return resp.json() or {}

    def attach_socket(self, container: str, stdin: bool = False, stdout: bool = True, stderr: bool = True,
                      stream: bool = True, logs: bool = False, detach_keys: str | None = None) -> HijackedSocket:
        params = {"stdin": stdin or None, "stdout": stdout or None, "stderr": stderr or None,
                  "stream": stream or None, "logs": logs or None, "detachKeys": detach_keys or None}
        return self.hijack(f"/containers/{esc(container)}/attach", params)

    def logs(self, container: str, stdout: bool = True, stderr: bool = True, follow: bool = False,
             since: str | None = None, until: str | None = None, timestamps: bool = False,
             tail: str = "all", details: bool = False) -> Response:
        params = {"stdout": stdout or None, "stderr": stderr or None, "follow": follow or None,
                  "since": since or None, "until": until or None, "timestamps": timestamps or None,
                  "tail": tail, "details": details or None}
        return self.call("GET", f"/containers/{esc(container)}/logs", params)

    def containers(self, all: bool = False, limit: int = -1, size: bool = False,
                   filters: dict[str, list[str]] | None = None) -> list[dict]:
        params = {"all": all or None, "limit": limit if limit > 0 else None, "size": size or None,
                  "filters": filters or None}
        return self.get_json("/containers/json", params) or []

    def inspect_container(self, container: str) -> dict:
        return self.get_json(f"/containers/{esc(container)}/json")

    def inspect_container_raw(self, container: str, size: bool = False) -> bytes:
        """The daemon's JSON as sent (`docker inspect` re-indents it without re-encoding)."""
        return self.call("GET", f"/containers/{esc(container)}/json", {"size": size or None}).read()

    def remove_container(self, container: str, v: bool = False, link: bool = False, force: bool = False) -> None:
        params = {"v": v or None, "link": link or None, "force": force or None}
        self.call("DELETE", f"/containers/{esc(container)}", params).read()

    def top(self, container: str, ps_args: str | None = None) -> dict:
        return self.get_json(f"/containers/{esc(container)}/top", {"ps_args": ps_args or None})
