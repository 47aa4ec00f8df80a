"""Images as Docker sees them, read from containerd's store: an image is one config (its ID is the
config digest, as in dockerd 20.10), reached from one or more image records through a manifest
(or an index resolved to this host's platform). Lookup follows dockerd's GetImage."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field

from corelib import errdefs
from corelib.api.containerd.types.descriptor_pb2 import Descriptor as DescriptorPB
from corelib.daemon.images.store import LABEL_DISTRIBUTION_SOURCE, Containerd, ImageRecord
from corelib.images import reference
from corelib.images.registry import INDEX_TYPES, MANIFEST_TYPES, Descriptor, host_platform, select_platform

DANGLING_PREFIX = "moby-dangling@"
ZERO_TIME = "0001-01-01T00:00:00Z"

# container.Config as dockerd marshals it: (key, default, omitted when empty)
CONFIG_FIELDS: tuple[tuple[str, object, bool], ...] = (
    ("Hostname", "", False), ("Domainname", "", False), ("User", "", False), ("AttachStdin", False, False),
    ("AttachStdout", False, False), ("AttachStderr", False, False), ("ExposedPorts", None, True),
    ("Tty", False, False), ("OpenStdin", False, False), ("StdinOnce", False, False), ("Env", None, False),
    ("Cmd", None, False), ("Healthcheck", None, True), ("ArgsEscaped", False, True), ("Image", "", False),
    ("Volumes", None, False), ("WorkingDir", "", False), ("Entrypoint", None, False),
    ("NetworkDisabled", False, True), ("MacAddress", "", True), ("OnBuild", None, False), ("Labels", None, False),
    ("StopSignal", "", True), ("StopTimeout", None, True), ("Shell", None, True),
)


def chain_id(diff_ids: list[str]) -> str:
    """identity.ChainID: the snapshot name of a stack of layers."""
    chain = diff_ids[0]
    for diff_id in diff_ids[1:]:
        chain = "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
    return chain


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@dataclass
class Resolved:
    """What an image record's target leads to: the platform manifest and the config."""

    manifest_digest: str
    manifest: dict
    config_digest: str
    config: dict


@dataclass
class Image:
    id: str
    resolved: Resolved
    records: list[ImageRecord] = field(default_factory=list)

    @property
    def config(self) -> dict:
        return self.resolved.config

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def chain_id(self) -> str:
        return chain_id(self.diff_ids) if self.diff_ids else ""

    @property
    def layers(self) -> list[Descriptor]:
        return [Descriptor.from_json(d) for d in self.resolved.manifest.get("layers") or []]

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.records if not r.name.startswith(DANGLING_PREFIX)]

    @property
    def repo_tags(self) -> list[str]:
        tags = []
        for name in self.names:
            ref = reference.parse(name)
            if ref.tag and not ref.digest:
                tags.append(ref.familiar_string())
        return sorted(tags)

    def repo_digests(self, sources: dict[str, dict[str, str]]) -> list[str]:
        """name@digest records, and the repositories the target was pulled from (containerd's
        distribution.source labels on it), as dockerd lists them."""
        digests = set()
        for record in self.records:
            if record.name.startswith(DANGLING_PREFIX):
                continue
            ref = reference.parse(record.name)
            if ref.digest:
                digests.add(f"{ref.familiar_name}@{ref.digest}")
            for key, repos in sources.get(record.target.digest, {}).items():
                if key.startswith(LABEL_DISTRIBUTION_SOURCE):
                    host = key.removeprefix(LABEL_DISTRIBUTION_SOURCE)
                    for repo in repos.split(","):
                        named = reference.parse_normalized_named(f"{host}/{repo}")
                        digests.add(f"{named.familiar_name}@{record.target.digest}")
        return sorted(digests)

    @property
    def created(self) -> str:
        return self.config.get("created") or ZERO_TIME

    @property
    def last_tag_time(self) -> str:
        stamps = [r.updated_at for r in self.records if not r.name.startswith(DANGLING_PREFIX)]
        if not stamps:
            return ZERO_TIME
        return datetime.datetime.fromtimestamp(max(stamps), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ImageStore:
    """Reads images from containerd, caching what content digests name (it never changes)."""

    def __init__(self, cs: Containerd):
        self.cs = cs
        self._resolved: dict[str, Resolved] = {}
        self._usage: dict[str, int] = {}

    async def read_json(self, digest: str) -> dict:
        try:
            return json.loads(await self.cs.read(digest))
        except ValueError as e:
            raise errdefs.Internal(f"content {digest} is not JSON: {e}") from None

    async def resolve(self, target: Descriptor | DescriptorPB) -> Resolved:
        digest, media_type = target.digest, target.media_type
        if digest in self._resolved:
            return self._resolved[digest]
        doc = await self.read_json(digest)
        media_type = media_type or doc.get("mediaType", "")
        manifest_digest = digest
        if media_type in INDEX_TYPES or "manifests" in doc:
            available = {m["digest"] for m in doc.get("manifests") or [] if await self.cs.exists(m["digest"])}
            manifest_digest = select_platform(doc, host_platform(), available).digest
            doc = await self.read_json(manifest_digest)
        elif media_type and media_type not in MANIFEST_TYPES:
            raise errdefs.InvalidArgument(f"unsupported media type {media_type}")
        config_digest = doc["config"]["digest"]
        resolved = Resolved(manifest_digest, doc, config_digest, await self.read_json(config_digest))
        self._resolved[digest] = resolved
        return resolved

    async def all(self) -> dict[str, Image]:
        """Every image, by ID; records whose content is gone are passed over."""
        images: dict[str, Image] = {}
        for record in await self.cs.list_images():
            try:
                resolved = await self.resolve(record.target)
            except (errdefs.NotFound, errdefs.InvalidArgument, KeyError):
                continue
            image = images.setdefault(resolved.config_digest, Image(resolved.config_digest, resolved))
            image.records.append(record)
        return images

    async def from_record(self, record: ImageRecord) -> Image:
        resolved = await self.resolve(record.target)
        images = await self.all()
        return images.get(resolved.config_digest) or Image(resolved.config_digest, resolved, [record])

    async def lookup(self, ref: str, every_name: bool = True) -> Image:
        """dockerd's GetImage: a full ID or digest, a name (name:tag, name@digest), or a short ID.
        Without `every_name`, an image found by its name has that one record only (what a container
        needs of it), which spares listing every image."""
        parsed = reference.parse_any_reference(ref)
        if isinstance(parsed, str):
            image = (await self.all()).get(parsed)
            if image is None:
                raise errdefs.NotFound(f"No such image: {parsed}")
            return image
        named = reference.tag_name_only(parsed)
        try:
            record = await self.cs.get_image(named.string())
            if not every_name:
                resolved = await self.resolve(record.target)
                return Image(resolved.config_digest, resolved, [record])
            return await self.from_record(record)
        except errdefs.NotFound:
            pass
        images = await self.all()
        if named.digest:
            for image in images.values():
                if any(reference.parse(r.name).name == named.name and r.target.digest == named.digest
                       for r in image.records if not r.name.startswith(DANGLING_PREFIX)):
                    return image
        found = search_id(images, ref)
        if found is None:
            raise errdefs.NotFound(f"No such image: {named.familiar_string()}")
        return found

    async def size(self, image: Image) -> int:
        """The image's unpacked size: what its layers' snapshots use (blob sizes if not unpacked)."""
        total, diff_ids = 0, image.diff_ids
        for i, layer in enumerate(image.layers):
            key = chain_id(diff_ids[:i + 1]) if i < len(diff_ids) else ""
            if key not in self._usage:
                try:
                    self._usage[key] = await self.cs.usage(key)
                except (errdefs.NotFound, errdefs.InvalidArgument):
                    total += layer.size
                    continue
            total += self._usage[key]
        return total

    async def sources(self, image: Image) -> dict[str, dict[str, str]]:
        """The labels of each record's target blob (where the distribution sources are)."""
        labels = {}
        for record in image.records:
            try:
                labels[record.target.digest] = dict((await self.cs.info(record.target.digest)).labels)
            except errdefs.NotFound:
                labels[record.target.digest] = {}
        return labels


_SHORT_ID = re.compile(r"^(?:sha256:)?([a-f0-9]{1,64})$")


def search_id(images: dict[str, Image], ref: str) -> Image | None:
    """digestset's Lookup: a unique ID prefix; an ambiguous one is an error, as in dockerd."""
    m = _SHORT_ID.match(ref)
    if not m:
        return None
    matches = [img for image_id, img in images.items() if image_id.removeprefix("sha256:").startswith(m.group(1))]
    if len(matches) > 1:
        raise errdefs.NotFound(f"No such image: {ref} (ambiguous: {len(matches)} images match)")
    return matches[0] if matches else None


def container_config(config: dict | None) -> dict:
    """An image config's `config` (or `container_config`) as dockerd shows it: every field."""
    config = config or {}
    out = {}
    for key, default, omitempty in CONFIG_FIELDS:
        value = config.get(key, default)
        if omitempty and not value:
            continue
        out[key] = value
    return out


def unix_time(rfc3339: str) -> int:
    if not rfc3339 or rfc3339.startswith("0001-01-01"):
        return -62135596800
    text = re.sub(r"(\.\d{6})\d+", r"\1", rfc3339.replace("Z", "+00:00"))
    return int(datetime.datetime.fromisoformat(text).timestamp())


def summary(image: Image, size: int, repo_digests: list[str]) -> dict:
    """ImageSummary, as GET /images/json of dockerd 20.10."""
    return {
        "Containers": -1, "Created": unix_time(image.created), "Id": image.id,
        "Labels": (image.config.get("config") or {}).get("Labels"), "ParentId": "",
        "RepoDigests": repo_digests or None, "RepoTags": image.repo_tags or None,
        "SharedSize": -1, "Size": size, "VirtualSize": size,
    }


def inspect(image: Image, size: int, repo_digests: list[str], snapshotter: str) -> dict:
    """GET /images/{name}/json, in dockerd's shape and field order."""
    config = image.config
    out = {
        "Id": image.id, "RepoTags": image.repo_tags, "RepoDigests": repo_digests, "Parent": "",
        "Comment": config.get("comment", ""), "Created": image.created, "Container": config.get("container", ""),
        "ContainerConfig": container_config(config.get("container_config")),
        "DockerVersion": config.get("docker_version", ""), "Author": config.get("author", ""),
        "Config": container_config(config.get("config")), "Architecture": config.get("architecture", ""),
    }
    if config.get("variant"):
        out["Variant"] = config["variant"]
    out.update({
        "Os": config.get("os", ""), "Size": size, "VirtualSize": size,
        "GraphDriver": {"Data": None, "Name": snapshotter},
        "RootFS": {"Type": (config.get("rootfs") or {}).get("type", "layers"), "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": image.last_tag_time},
    })
    return out
