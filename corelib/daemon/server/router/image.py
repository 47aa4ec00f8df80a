"""Image routes (moby's api/server/router/image), over the daemon's ImageService. Progress streams
(pull, load) start their 200 only with the first progress message, so an error found before it
(an unknown tag, a bad reference) is still an HTTP status, as dockerd answers it."""

from __future__ import annotations

import base64
import inspect
import json

from corelib import errdefs
from corelib.daemon.server.http import Request, ResponseWriter
from corelib.daemon.server.httputils import bool_value, parse_filters
from corelib.daemon.server.server import Route, route


def decode_registry_auth(header: str) -> dict | None:
    """X-Registry-Auth: base64url JSON (padding optional); garbage means no credentials, as the CLI
    sends `e30=` ({}) when it has none."""
    if not header:
        return None
    try:
        padded = header + "=" * (-len(header) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, json.JSONDecodeError):
        return None
    return decoded if isinstance(decoded, dict) and decoded else None


class ProgressStream:
    """Writes Docker's JSON progress lines (`{...}\\r\\n`), starting the response with the first."""

    def __init__(self, w: ResponseWriter):
        self.w = w

    async def __call__(self, message: dict) -> None:
        if not self.w.started:
            await self.w.start_stream(200, "application/json")
        await self.w.write(json.dumps(message, separators=(",", ":")).encode() + b"\r\n")

    async def fail(self, error: Exception) -> None:
        """An error: a status while nothing was sent, an errorDetail line once streaming."""
        if not self.w.started:
            raise error
        message = str(error)
        await self({"errorDetail": {"message": message}, "error": message})


class ImageRouter:
    def __init__(self, daemon: object):
        self.daemon = daemon

    @property
    def images(self) -> object:
        return self.daemon.images

    def routes(self) -> list[Route]:
        name = "/images/{name:.+}"
        return [
            route("GET", "/images/json", self.getImagesJSON),
            route("GET", "/images/get", self.getImagesGet),
            route("GET", name + "/get", self.getImagesGet),
            route("GET", name + "/json", self.getImagesByName),
            route("POST", "/images/create", self.postImagesCreate),
            route("POST", "/images/load", self.postImagesLoad),
            route("POST", "/images/prune", self.postImagesPrune),
            route("POST", name + "/tag", self.postImagesTag),
            route("DELETE", name, self.deleteImages),
        ]

    async def getImagesJSON(self, r: Request, w: ResponseWriter) -> None:
        filters = _filters(r)
        if r.form("filter"):  # API < 1.28: a bare reference filter
            filters.setdefault("reference", []).append(r.form("filter"))
        await w.write_json(200, await self.images.list_images(bool_value(r, "all"), filters))

    async def getImagesByName(self, r: Request, w: ResponseWriter) -> None:
        try:
            image = await self.images.inspect(r.vars["name"])
        except errdefs.NotFound as e:
            raise errdefs.NotFound(f"no such image: {r.vars['name']}: {e}") from None  # LookupImage's wrapping
        await w.write_json(200, image)

    async def postImagesCreate(self, r: Request, w: ResponseWriter) -> None:
        progress = ProgressStream(w)
        if r.form("fromImage"):
            await self._pull(r, progress)
        elif r.form("fromSrc") == "-":
            await self._import(r, progress)
        elif r.form("fromSrc"):
            raise errdefs.NotImplemented("importing from a URL is not supported by whaled; send the archive "
                                         "in the request body (fromSrc=-)")
        else:
            raise errdefs.InvalidArgument("Either fromImage or fromSrc must be given")
        await w.end()

    async def _pull(self, r: Request, progress: ProgressStream) -> None:
        image, tag = r.form("fromImage"), r.form("tag")
        try:
            await self.images.pull(image, tag, decode_registry_auth(r.headers.get("x-registry-auth", "")), progress)
        except errdefs.WhaleError as e:
            await progress.fail(e)
            return
        reference = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag or 'latest'}"
        self.daemon.LogImageEvent(reference, image, "pull")

    async def _import(self, r: Request, progress: ProgressStream) -> None:
        repo, tag = r.form("repo"), r.form("tag")
        try:
            image_id = await self.images.import_image(r.body_chunks(), repo, tag, r.form_list("changes"),
                                                      r.form("message"))
        except errdefs.WhaleError as e:
            await progress.fail(e)
            return
        if repo:
            self.daemon.LogImageEvent(image_id, f"{repo}:{tag}" if tag else repo, "tag")
        self.daemon.LogImageEvent(image_id, image_id, "import")
        await progress({"status": image_id})

    async def postImagesLoad(self, r: Request, w: ResponseWriter) -> None:
        quiet = bool_value(r, "quiet")
        progress = ProgressStream(w)

        async def shown(message: dict) -> None:
            if not quiet or "stream" in message:
                await progress(message)

        try:
            loaded = await self.images.load(r.body_chunks(), shown)
        except errdefs.WhaleError as e:
            await progress.fail(e)
            await w.end()
            return
        for name in loaded:
            self.daemon.LogImageEvent(name, name, "load")
        if not w.started:
            await w.write_json(200, {"stream": "".join(f"Loaded image: {n}\n" for n in loaded)})
            return
        await w.end()

    async def getImagesGet(self, r: Request, w: ResponseWriter) -> None:
        names = [r.vars["name"]] if "name" in r.vars else r.form_list("names")
        chunks = self.images.save(names)
        if inspect.isawaitable(chunks):
            chunks = await chunks
        first = await anext(aiter(chunks), b"")  # errors (an unknown image) before the 200
        await w.start_stream(200, "application/x-tar")
        await w.write(first)
        async for chunk in chunks:
            await w.write(chunk)
        await w.end()

    async def postImagesTag(self, r: Request, w: ResponseWriter) -> None:
        repo, tag = r.form("repo"), r.form("tag")
        await self.images.tag(r.vars["name"], repo, tag)
        image = await self.images.inspect(r.vars["name"])
        self.daemon.LogImageEvent(image.get("Id", ""), f"{repo}:{tag or 'latest'}", "tag")
        await w.write_status(201)

    async def deleteImages(self, r: Request, w: ResponseWriter) -> None:
        deleted = await self.images.delete(r.vars["name"], bool_value(r, "force"), bool_value(r, "noprune"))
        image_id = next((d["Deleted"] for d in deleted if "Deleted" in d), "")
        for item in deleted:
            if "Untagged" in item:
                self.daemon.LogImageEvent(image_id or item["Untagged"], item["Untagged"], "untag")
            if "Deleted" in item:
                self.daemon.LogImageEvent(item["Deleted"], item["Deleted"], "delete")
        await w.write_json(200, deleted)

    async def postImagesPrune(self, r: Request, w: ResponseWriter) -> None:
        pruned = await self.images.prune(_filters(r))
        self.daemon.events.log("image", "prune", "", {"reclaimed": str(pruned.get("SpaceReclaimed", 0))})
        await w.write_json(200, pruned)


def _filters(r: Request) -> dict[str, list[str]]:
    return {key: sorted(values) for key, values in parse_filters(r.form("filters")).items()}
