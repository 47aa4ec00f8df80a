"""Renaming a container (moby's daemon/rename.go)."""

from __future__ import annotations

from corelib import errdefs
from corelib.daemon.names import validate_name


class RenameMixin:
    async def ContainerRename(self, old_name: str, new_name: str) -> None:
        if not old_name or not new_name:
            raise errdefs.InvalidArgument("Neither old nor new names may be empty")
        container = self.GetContainer(old_name)
        full_name = validate_name(new_name)
        old = container.Name
        if old == full_name:
            raise errdefs.InvalidArgument("Renaming a container with the same name as its current name")
        try:
            self.names.reserve(full_name, container.ID)
        except errdefs.Conflict as e:
            raise errdefs.Conflict(f"Error when allocating new name: {e}") from None
        container.Name = full_name
        try:
            self.checkpoint(container)
        except OSError:
            container.Name = old
            self.names.release(full_name)
            raise
        self.names.release(old)
        self.LogContainerEvent(container, "rename", {"oldName": old})
