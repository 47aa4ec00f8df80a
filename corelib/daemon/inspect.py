"""`docker inspect` of a container (moby's daemon/inspect.go): ContainerJSON, in dockerd's field order."""

from __future__ import annotations

from corelib.daemon.container.container import Container
from corelib.daemon.list import size_rw, upper_dir
from corelib.daemon.mounts import MountPoint


def graph_driver(container: Container) -> dict:
    data = {}
    for m in container.RootfsMounts:
        for option in m.get("options", []):
            key, _, value = option.partition("=")
            name = {"lowerdir": "LowerDir", "upperdir": "UpperDir", "workdir": "WorkDir"}.get(key)
            if name:
                data[name] = value
    if data:
        data["MergedDir"] = str(container.rootfs)
    return {"Data": data or None, "Name": container.Driver}


class InspectMixin:
    async def ContainerInspect(self, name: str, size: bool = False) -> dict:
        container = self.GetContainer(name)
        state = container.State.to_json()
        shown = {
            "Id": container.ID, "Created": container.Created, "Path": container.Path, "Args": container.Args,
            "State": state, "Image": container.Image, "ResolvConfPath": container.ResolvConfPath,
            "HostnamePath": container.HostnamePath, "HostsPath": container.HostsPath, "LogPath": container.LogPath,
            "Name": container.Name, "RestartCount": container.RestartCount, "Driver": container.Driver,
            "Platform": container.Platform, "MountLabel": "", "ProcessLabel": "",
            "AppArmorProfile": container.AppArmorProfile, "ExecIDs": list(container.exec_ids) or None,
            "HostConfig": container.HostConfig, "GraphDriver": graph_driver(container),
        }
        if size:
            shown["SizeRw"] = size_rw(container) if upper_dir(container) else 0
            shown["SizeRootFs"] = shown["SizeRw"] + await self._image_size(container)
        shown["Mounts"] = [MountPoint(**m).to_inspect() for m in container.MountPoints.values()]
        shown["Config"] = container.Config
        shown["NetworkSettings"] = container.NetworkSettings
        return shown
