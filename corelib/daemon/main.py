"""`whaled`: dockerd's command line. Brings up containerd (its own whale-containerd, supervised, or
an existing one with --containerd), the image service, the daemon with its restored containers,
then the Engine API on every -H address."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from corelib.daemon import daemon_json
from corelib.daemon.config import Config, Runtime
from corelib.daemon.rootless import ROOTLESS_WARNING
from corelib.logrus import LogrusFormatter

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR,
          "fatal": logging.CRITICAL}
log = logging.getLogger("whaled")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="whaled", description="A self-sufficient runtime for containers "
                                                                "(Whalebone's dockerd, in Python)")
    parser.add_argument("-H", "--host", action="append", default=[], help="Daemon socket(s) to connect to")
    parser.add_argument("--data-root", default="", help="Root directory of persistent daemon state")
    parser.add_argument("--exec-root", default="", help="Root directory for execution state files")
    parser.add_argument("--containerd", default="", help="containerd grpc address")
    parser.add_argument("--containerd-namespace", default="moby", help="Containerd namespace to use")
    parser.add_argument("-p", "--pidfile", default="", help="Path to use for daemon PID file")
    parser.add_argument("--default-runtime", default="", help="Default OCI runtime for containers")
    parser.add_argument("--add-runtime", action="append", default=[], metavar="NAME=PATH",
                        help="Register an additional OCI compatible runtime")
    parser.add_argument("--cgroup-parent", default="/docker", help="Set parent cgroup for all containers")
    parser.add_argument("--live-restore", action="store_true", help="Enable live restore of containers when the "
                                                                     "daemon stops")
    parser.add_argument("-l", "--log-level", default="info", choices=sorted(LEVELS), help="Set the logging level")
    parser.add_argument("-D", "--debug", action="store_true", help="Enable debug mode")
    parser.add_argument("--shutdown-timeout", type=int, default=15, help="Default shutdown timeout in seconds")
    parser.add_argument("--metrics-addr", default="", help="Set default address and port to serve the metrics api on "
                                                          "(host:port; a bare :port listens on 127.0.0.1)")
    parser.add_argument("--otlp-endpoint", default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
                        help="Export lifecycle spans to this OpenTelemetry collector (OTLP over HTTP)")
    parser.add_argument("--no-tracing", action="store_true", help="Record no lifecycle spans")
    parser.add_argument("--config-file", default=daemon_json.DEFAULT_PATH, help="Daemon configuration file")
    parser.add_argument("-v", "--version", action="store_true", help="Print version information and quit")
    args = parser.parse_args(argv)
    args.runtimes = {}
    explicit = any(a == "--config-file" or a.startswith("--config-file=") for a in argv)
    try:
        daemon_json.merge(args, argv, args.config_file, daemon_json.load(args.config_file, explicit))
    except daemon_json.ConfigFileError as e:
        raise SystemExit(f"whaled: {e}") from None
    return args


def make_config(args: argparse.Namespace) -> Config:
    config = Config(hosts=args.host, data_root=args.data_root, exec_root=args.exec_root,
                    containerd=args.containerd, containerd_namespace=args.containerd_namespace,
                    pidfile=args.pidfile, default_runtime=args.default_runtime, cgroup_parent=args.cgroup_parent,
                    live_restore=args.live_restore, log_level="debug" if args.debug else args.log_level,
                    shutdown_timeout=args.shutdown_timeout)
    shim = config.runtimes["runc"].shim
    for spec in args.add_runtime:
        name, eq, path = spec.partition("=")
        if not eq or not name or not path:
            raise SystemExit(f"whaled: invalid runtime {spec!r}: expected NAME=PATH")
        config.runtimes[name] = Runtime(path, shim)
    try:
        configured = daemon_json.runtimes(args.runtimes)
    except daemon_json.ConfigFileError as e:
        raise SystemExit(f"whaled: {e}") from None
    for name, (path, runtime_type) in configured.items():
        config.runtimes[name] = Runtime(path, runtime_type or shim)
    if config.default_runtime not in config.runtimes:
        raise SystemExit(f"whaled: default runtime {config.default_runtime!r} is not a known runtime")
    return config


def write_pidfile(path: str) -> None:
    """dockerd's pidfile: refused while the process it names is alive."""
    pidfile = Path(path)
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text().strip())
        if pid != os.getpid() and Path(f"/proc/{pid}").exists():
            raise SystemExit(f"whaled: pid file found, ensure whaled is not running or delete {path}")
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{os.getpid()}\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        from corelib.daemon.info import SERVER_VERSION

        print(f"Docker version {SERVER_VERSION}, build whalebone")
        return 0
    config = make_config(args)
    config.metrics_addr, config.otlp_endpoint, config.tracing = args.metrics_addr, args.otlp_endpoint, \
        not args.no_tracing
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogrusFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("whaled").setLevel(LEVELS[config.log_level])
    write_pidfile(config.pidfile)
    try:
        asyncio.run(run(config))
    finally:
        with contextlib.suppress(OSError):
            if Path(config.pidfile).read_text().strip() == str(os.getpid()):
                os.unlink(config.pidfile)
    return 0


async def run(config: Config) -> None:
    from corelib.daemon.daemon import Daemon
    from corelib.daemon.images import ImageService
    from corelib.daemon.libcontainerd.client import Client
    from corelib.daemon.libcontainerd.supervisor import ContainerdSupervisor
    from corelib.daemon.server.router.container import ContainerRouter
    from corelib.daemon.server.router.exec import ExecRouter
    from corelib.daemon.server.router.image import ImageRouter
    from corelib.daemon.server.router.system import SystemRouter
    from corelib.daemon.server.router.trace import TraceRouter
    from corelib.daemon.server.server import Server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if config.rootless:
        log.warning(ROOTLESS_WARNING)
    supervisor = None
    if config.managed_containerd:
        supervisor = ContainerdSupervisor(config.data_root, config.exec_root, "debug" if config.log_level == "debug"
                                          else "info")
        await supervisor.start()
    containerd = Client(config.containerd_address, config.containerd_namespace)
    await containerd.wait_ready(60)
    images = ImageService(containerd.channel, config.containerd_namespace, Path(config.data_root) / "image")
    daemon = Daemon(config, images, containerd)
    start_tracing(config, daemon, containerd)
    await containerd.detect_tracing()
    daemon.fifo_holder.connect()
    containerd.subscribe(daemon.ProcessEvent, daemon.reconcile_tasks)
    await images.ensure_busybox()
    await daemon.restore()
    server = Server(_server_version())
    routers = (SystemRouter(daemon), ContainerRouter(daemon), ExecRouter(daemon), ImageRouter(daemon),
               TraceRouter(daemon))
    for router in routers:
        server.add_routes(router.routes())
    for host in config.hosts:
        await server.listen(host)
    log.info("API listen on %s", ", ".join(config.hosts))
    await stop.wait()
    log.info("Processing signal 'terminated'")
    await server.close()
    await daemon.shutdown()
    daemon.traces.close()
    await containerd.close()
    if supervisor is not None:
        await supervisor.stop()


def start_tracing(config: Config, daemon: object, containerd: object) -> None:
    """Every layer's spans into the daemon's collector; metrics served, OTLP export, if asked for."""
    from corelib.daemon.tracing import tracer

    tracer.enabled = config.tracing
    tracer.sink = daemon.traces.add
    containerd.on_span = daemon.traces.add
    if config.otlp_endpoint:
        from corelib.trace.otlp import OtlpExporter

        daemon.traces.exporter = OtlpExporter(config.otlp_endpoint)
    if config.metrics_addr:
        from prometheus_client import start_http_server

        host, _, port = config.metrics_addr.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=daemon.traces.metrics.registry)
        log.info("metrics API listening on %s:%s", host or "127.0.0.1", port)


def _server_version() -> str:
    from corelib.daemon.info import SERVER_VERSION

    return SERVER_VERSION


if __name__ == "__main__":
    sys.exit(main())
