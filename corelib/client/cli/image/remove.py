"""`whale rmi`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options


def flags(fs: FlagSet) -> None:
    fs.bool("force", "f", "Force removal of the image")
    fs.bool("no-prune", help="Do not delete untagged parents")


def run_rmi(cli: Cli, opts: Options, args: list[str]) -> None:
    errors = []
    for image in args:
        try:
            deleted = cli.client.remove_image(image, force=opts.force, noprune=opts.no_prune)
        except Exception as e:  # noqa: BLE001 - docker reports each and goes on
            errors.append(str(e))
            continue
        for item in deleted:
            if item.get("Deleted"):
                cli.out.println(f"Deleted: {item['Deleted']}")
            else:
                cli.out.println(f"Untagged: {item.get('Untagged', '')}")
    if errors:
        raise StatusError(1, "\n".join(errors))


COMMAND = CommandSpec(name="rmi", use="rmi [OPTIONS] IMAGE [IMAGE...]", short="Remove one or more images",
                      run=run_rmi, flags=flags, args=("min", 1))
