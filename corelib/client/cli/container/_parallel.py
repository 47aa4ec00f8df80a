"""docker/cli's parallelOperation: one operation per container, at once, results printed in order."""

from __future__ import annotations

import threading
from collections.abc import Callable

from corelib.client.cli.command import Cli, StatusError


def parallel_operation(names: list[str], op: Callable[[str], None]) -> list[Exception | None]:
    results: list[Exception | None] = [None] * len(names)

    def one(i: int) -> None:
        try:
            op(names[i])
        except Exception as e:  # noqa: BLE001 - reported per container, in order
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(1, len(names))]
    for t in threads:
        t.start()
    if names:
        one(0)
    for t in threads:
        t.join()
    return results


def for_each_container(cli: Cli, names: list[str], op: Callable[[str], None], parallel: bool = True,
                       ignore: Callable[[Exception], bool] | None = None) -> None:
    """Print each name that succeeded; the errors, joined, make the command fail (status 1)."""
    if parallel:
        results = parallel_operation(names, op)
    else:
        results = []
        for name in names:
            results.append(parallel_operation([name], op)[0])
    errors = []
    for name, err in zip(names, results, strict=True):
        if err is None:
            cli.out.println(name)
        elif ignore is not None and ignore(err):
            cli.err.println(str(err))
        else:
            errors.append(str(err))
    if errors:
        raise StatusError(1, "\n".join(errors))
