"""`docker rmi` and `docker image prune` (moby's image_delete.go, image_prune.go): untag, and when
no name is left, delete the image records; containerd's garbage collector (run synchronously on
the last delete) then removes the blobs and snapshots nothing else holds."""

from __future__ import annotations

import contextlib
import re
import time

from corelib import errdefs
from corelib.daemon.images.image import Image, ImageStore, short_id, unix_time
from corelib.daemon.images.store import Containerd
from corelib.images import reference


async def delete(cs: Containerd, store: ImageStore, ref: str, force: bool, users: list[str]) -> list[dict]:
    image = await store.lookup(ref)
    named = _record_named(image, ref)
    if named and len(image.names) > 1:
        await cs.delete_image(named)
        return [{"Untagged": _familiar(named)}]
    if users and not force:
        if named:
            raise errdefs.Conflict(f'conflict: unable to remove repository reference "{ref}" (must force) - '
                                   f"container {users[0][:12]} is using its referenced image {short_id(image.id)}")
        raise errdefs.Conflict(f"conflict: unable to delete {short_id(image.id)} (must be forced) - image is being "
                               f"used by stopped container {users[0][:12]}")
    if not named and len(image.repo_tags) > 1 and not force:
        raise errdefs.Conflict(f"conflict: unable to delete {short_id(image.id)} (must be forced) - image is "
                               "referenced in multiple repositories")
    return await remove_image(cs, store, image)


async def remove_image(cs: Containerd, store: ImageStore, image: Image) -> list[dict]:
    """Delete every record of the image; the last delete waits for containerd's GC."""
    digests = image.repo_digests(await store.sources(image))
    untagged = [{"Untagged": _familiar(name)} for name in image.names if "@" not in name]
    untagged += [{"Untagged": d} for d in digests]
    records = sorted(image.records, key=lambda r: r.name)
    for i, record in enumerate(records):
        with contextlib.suppress(errdefs.NotFound):
            await cs.delete_image(record.name, sync=i == len(records) - 1)
    return [*untagged, {"Deleted": image.id}]


def _record_named(image: Image, ref: str) -> str:
    """The record `ref` names, when it is a name (not an ID) of this image."""
    parsed = reference.parse_any_reference(ref)
    if isinstance(parsed, str):
        return ""
    wanted = reference.tag_name_only(parsed).string()
    return next((name for name in image.names if name == wanted), "")


def _familiar(name: str) -> str:
    return reference.familiar_string(name)


def normalise_filters(filters: dict | None) -> dict[str, list[str]]:
    """Both JSON forms Docker clients send: {"k": ["v"]} and {"k": {"v": true}}."""
    out: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        if isinstance(value, dict):
            out[key] = [k for k, v in value.items() if v]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = [str(value)]
    return out


def validate_filters(filters: dict[str, list[str]], accepted: tuple[str, ...]) -> None:
    for key in filters:
        if key not in accepted:
            raise errdefs.InvalidArgument(f"Invalid filter '{key}'")


def is_true(values: list[str], key: str) -> bool | None:
    if not values:
        return None
    value = values[-1].lower()
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise errdefs.InvalidArgument(f"Invalid filter '{key}={values[-1]}'")


def label_matches(labels: dict | None, wanted: list[str]) -> bool:
    labels = labels or {}
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def until_matches(image: Image, until: list[str]) -> bool:
    return not until or unix_time(image.created) < _timestamp(until[-1])


def _timestamp(value: str) -> float:
    """Unix seconds, an RFC 3339 time, or a Go duration before now (`24h`, `90m`)."""
    if m := re.fullmatch(r"(\d+(?:\.\d+)?)(h|m|s)", value):
        return time.time() - float(m.group(1)) * {"h": 3600, "m": 60, "s": 1}[m.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return unix_time(value)
    except ValueError:
        raise errdefs.InvalidArgument(f"invalid filter 'until={value}'") from None


async def prune(cs: Containerd, store: ImageStore, filters: dict | None, used: set[str]) -> dict:
    flt = normalise_filters(filters)
    validate_filters(flt, ("dangling", "label", "label!", "until"))
    dangling_only = is_true(flt.get("dangling", []), "dangling") is not False
    deleted: list[dict] = []
    reclaimed = 0
    for image in (await store.all()).values():
        if image.id in used or (dangling_only and image.names):
            continue
        labels = (image.config.get("config") or {}).get("Labels")
        if flt.get("label") and not label_matches(labels, flt["label"]):
            continue
        if flt.get("label!") and label_matches(labels, flt["label!"]):
            continue
        if not until_matches(image, flt.get("until", [])):
            continue
        reclaimed += await store.size(image)
        deleted += await remove_image(cs, store, image)
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
