"""`whale-containerd`: containerd's command line (--address, --root, --state, --config, --log-level)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from corelib.containerd import config as configuration
from corelib.containerd.server import AddressInUse, serve
from corelib.logrus import LogrusFormatter

LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="whale-containerd",
                                     description="An industry-standard container runtime (Whalebone's, in Python)")
    parser.add_argument("-c", "--config", help="path to the configuration file")
    parser.add_argument("-l", "--log-level", help="set the logging level [trace, debug, info, warn, error, fatal]")
    parser.add_argument("-a", "--address", help="address for containerd's GRPC server")
    parser.add_argument("--root", help="containerd root directory")
    parser.add_argument("--state", help="containerd state directory")
    parser.add_argument("-v", "--version", action="store_true", help="print the version")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        from corelib.containerd.services.version import REVISION, VERSION
        print(f"whale-containerd github.com/whalebone/containerd {VERSION} {REVISION}")
        return 0
    try:
        config = configuration.load(args.config)
    except configuration.ConfigError as e:
        print(f"containerd: {e}", file=sys.stderr)
        return 1
    for key in ("address", "root", "state", "log_level"):
        if getattr(args, key):
            setattr(config, key, getattr(args, key))
    if config.log_level not in LEVELS:
        print(f'containerd: not a valid logrus Level: "{config.log_level}"', file=sys.stderr)
        return 1
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogrusFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("whale-containerd").setLevel(LEVELS[config.log_level])
    try:
        asyncio.run(_run(config))
    except AddressInUse as e:
        print(f"containerd: failed to get listener for main endpoint: {e}", file=sys.stderr)
        return 1
    return 0


async def _run(config: configuration.Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if sys.version_info < (3, 12) and hasattr(os, "pidfd_open"):
        # Shims are reaped through a pidfd on the loop rather than a thread each (3.12 does this itself).
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(loop)
        asyncio.set_child_watcher(watcher)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(config, stop)


if __name__ == "__main__":
    sys.exit(main())
