"""Images: /images/... (list, inspect, pull, load, save, import, tag, delete)."""

from __future__ import annotations

from collections.abc import Iterable

from corelib.client.api._path import esc
from corelib.client.transport.http import Response

NO_AUTH = "e30="  # base64url("{}"): what docker sends when it has no credentials


class ImageApiMixin:
    def images(self, all: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict]:
        return self.get_json("/images/json", {"all": all or None, "filters": filters or None}) or []

    def inspect_image(self, image: str) -> dict:
        return self.get_json(f"/images/{esc(image)}/json")

    def inspect_image_raw(self, image: str) -> bytes:
        return self.call("GET", f"/images/{esc(image)}/json").read()

    def pull(self, from_image: str, tag: str | None, registry_auth: str = NO_AUTH,
             platform: str | None = None) -> Response:
        """POST /images/create?fromImage=: a stream of JSON progress messages (errors may come mid-stream)."""
        params = {"fromImage": from_image, "tag": tag or None, "platform": platform or None}
        return self.call("POST", "/images/create", params, headers={"X-Registry-Auth": registry_auth})

    def import_image(self, source: Iterable[bytes] | None, from_src: str = "-", repo: str | None = None,
                     tag: str | None = None, message: str | None = None, changes: list[str] | None = None,
                     platform: str | None = None) -> Response:
        """POST /images/create?fromSrc=: a rootfs tarball (a chunked body when `from_src` is `-`)."""
        params = {"fromSrc": from_src, "repo": repo or "", "tag": tag or "", "message": message or None,
                  "changes": changes or None, "platform": platform or None}
        return self.call("POST", "/images/create", params, body=source,
                         headers={"Content-Type": "application/x-tar"} if source is not None else None)

    def load_image(self, data: Iterable[bytes], quiet: bool = False) -> Response:
        return self.call("POST", "/images/load", {"quiet": "1" if quiet else "0"}, body=data,
                         headers={"Content-Type": "application/x-tar"})

    def get_images(self, names: list[str]) -> Response:
        """GET /images/get?names=...: a docker-save tar stream."""
        return self.call("GET", "/images/get", {"names": names})

    def tag(self, image: str, repository: str, tag: str | None = None) -> None:
        self.post(f"/images/{esc(image)}/tag", {"repo": repository, "tag": tag or None})

    def remove_image(self, image: str, force: bool = False, noprune: bool = False) -> list[dict]:
        params = {"force": force or None, "noprune": noprune or None}
        return self.call("DELETE", f"/images/{esc(image)}", params).json() or []
