"""`docker top` (moby's daemon/top_unix.go): the host's `ps`, narrowed to the container's pids."""

from __future__ import annotations

import asyncio

from corelib import errdefs
from corelib.daemon.stop import not_running


def parse_ps_output(output: str, pids: list[int]) -> dict:
    """Keep the header and the rows whose PID column is one of `pids`."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        raise errdefs.WhaleError("Couldn't find PID field in ps output")
    titles = lines[0].split()
    if "PID" not in titles:
        raise errdefs.WhaleError("Couldn't find PID field in ps output")
    column = titles.index("PID")
    wanted = set(pids)
    processes = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) <= column or not fields[column].isdigit() or int(fields[column]) not in wanted:
            continue
        # The last column (the command) may contain spaces.
        processes.append(fields[:len(titles) - 1] + [" ".join(fields[len(titles) - 1:])])
    return {"Titles": titles, "Processes": processes}


class TopMixin:
    async def ContainerTop(self, name: str, ps_args: str) -> dict:
        container = self.GetContainer(name)
        if not container.is_running():
            raise not_running(container)
        if container.State.Restarting:
            raise errdefs.Conflict(f"Container {container.ID} is restarting, wait until the container is running")
        pids = await self.containerd.list_pids(container.ID)
        proc = await asyncio.create_subprocess_exec("ps", *(ps_args or "-ef").split(), stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise errdefs.WhaleError(f"Error running ps: exit status {proc.returncode}: {err.decode().strip()}")
        result = parse_ps_output(out.decode(errors="replace"), pids)
        self.LogContainerEvent(container, "top")
        return result
