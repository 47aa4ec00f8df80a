"""The shim's pure parts: Go-style flags, what each process state refuses, error mapping, encodings."""

from __future__ import annotations

import hashlib
import json

import pytest

from corelib import errdefs
from corelib.api.containerd.runtime.v2.runc.options import oci_pb2
from corelib.shim.main import FlagError, parse_flags
from corelib.shim.manager import socket_address
from corelib.shim.mount import unescape
from corelib.shim.process import EXEC_REFUSALS, INIT_REFUSALS, kill_error, refuse
from corelib.shim.reaper import exit_status
from corelib.shim.runc import ExitError, spawn_error
from corelib.shim.service import json_string, runtime_options
from corelib.shim.stdio import _file_path


def test_start_argv_as_containerd_writes_it():
    flags, action = parse_flags(["-namespace", "moby", "-address", "/run/containerd/containerd.sock",
                                 "-publish-binary", "/usr/bin/containerd", "-id", "abc", "-debug", "start"])
    assert action == "start"
    assert (flags["namespace"], flags["id"], flags["address"], flags["debug"]) == (
        "moby", "abc", "/run/containerd/containerd.sock", True)


def test_go_flag_forms():
    flags, action = parse_flags(["--namespace=ns", "-bundle", "/b", "-debug=false", "delete", "-id", "late"])
    assert (flags["namespace"], flags["bundle"], flags["debug"], action) == ("ns", "/b", False, "delete")
    assert flags["id"] == "", "flags after the action are not flags (Go stops at the first argument)"
    assert parse_flags(["-namespace", "ns"])[1] == ""
    with pytest.raises(FlagError, match="flag provided but not defined: -bogus"):
        parse_flags(["-bogus", "x"])
    with pytest.raises(FlagError, match="flag needs an argument: -id"):
        parse_flags(["-id"])


@pytest.mark.parametrize(("operation", "state", "message"), [
    ("start", "running", "cannot start a running process"),
    ("start", "stopped", "cannot start a stopped process"),
    ("delete", "running", "cannot delete a running process"),
    ("delete", "paused", "cannot delete a paused process"),
    ("pause", "created", "cannot pause task in created state"),
    ("pause", "paused", "cannot pause a paused container"),
    ("resume", "running", "cannot resume a running process"),
    ("resume", "stopped", "cannot resume a stopped container"),
    ("update", "stopped", "cannot update a stopped container"),
    ("exec", "paused", "cannot exec in a paused state"),
    ("exec", "stopped", "cannot exec in a stopped state"),
])
def test_init_refusals_in_the_real_shims_words(operation, state, message):
    with pytest.raises(errdefs.WhaleError) as e:
        refuse(INIT_REFUSALS, operation, state)
    assert (type(e.value), e.value.grpc_code, str(e.value)) == (errdefs.WhaleError, 2, message)


@pytest.mark.parametrize(("operation", "state"), [
    ("start", "created"), ("delete", "created"), ("delete", "stopped"), ("pause", "running"), ("resume", "paused"),
    ("update", "running"), ("update", "paused"), ("exec", "created"), ("exec", "running"), ("kill", "stopped")])
def test_init_allows(operation, state):
    refuse(INIT_REFUSALS, operation, state)


def test_a_deleted_process_is_not_found():
    for operation, message in (("delete", "cannot delete a deleted process: not found"),
                               ("kill", "cannot kill a deleted process: not found")):
        with pytest.raises(errdefs.NotFound, match=message):
            refuse(INIT_REFUSALS, operation, "deleted")


def test_exec_refusals():
    with pytest.raises(errdefs.WhaleError, match="cannot delete a running process"):
        refuse(EXEC_REFUSALS, "delete", "running")
    refuse(EXEC_REFUSALS, "delete", "stopped")
    refuse(EXEC_REFUSALS, "start", "created")


@pytest.mark.parametrize(("output", "kind", "message"), [
    (b"container not running", errdefs.NotFound, "process already finished: not found"),
    (b"No such process", errdefs.NotFound, "process already finished: not found"),
    (b"container \"x\" does not exist", errdefs.NotFound, "no such container: not found"),
    (b"permission denied", errdefs.WhaleError, "unknown error after kill: exit status 1: permission denied"),
])
def test_kill_errors_as_containerd_classifies_them(output, kind, message):
    error = kill_error(ExitError(1, output))
    assert type(error) is kind and str(error) == message


def test_runtime_start_failures_in_gos_words():
    assert str(spawn_error("whale-runc", FileNotFoundError(2, "x"))) == (
        'exec: "whale-runc": executable file not found in $PATH')
    assert str(spawn_error("/opt/runc", PermissionError(13, "x"))) == "fork/exec /opt/runc: permission denied"


def test_exit_status_of_a_signal_is_128_plus_it():
    assert exit_status(3 << 8) == 3
    assert exit_status(9) == 137
    assert exit_status(15) == 143


def test_socket_address_is_containerds_hash():
    digest = hashlib.sha256(b"/run/containerd/containerd.sock/moby/abc").hexdigest()
    assert socket_address("/run/containerd/containerd.sock", "moby", "abc") == f"unix:///run/containerd/s/{digest}"


@pytest.mark.parametrize("value", ["/var/lib/x", 'quote"back\\slash', "tab\tnew\nline\x01", "ünïcødé"])
def test_json_string(value):
    assert json.loads(json_string(value)) == value


def test_mountinfo_unescape():
    assert unescape(r"/run/a\040b\011c\134d") == "/run/a b\tc\\d"
    assert unescape("/plain/ünï") == "/plain/ünï"


def test_stdio_uris():
    assert _file_path("/run/containerd/fifo/1/x-stdout") == "/run/containerd/fifo/1/x-stdout"
    assert _file_path("fifo:///run/f") == "/run/f"
    assert _file_path("") == ""
    with pytest.raises(errdefs.NotImplemented, match="unknown STDIO scheme binary"):
        _file_path("binary:///usr/bin/logger?id=1")
    with pytest.raises(errdefs.InvalidArgument):
        _file_path("file://relative/path")


def test_runtime_options():
    from google.protobuf import any_pb2

    options = oci_pb2.Options(binary_name="/usr/sbin/runc", root="/run/docker/runtime-runc")
    for type_url in ("containerd.runc.v1.Options", "types.containerd.io/containerd.runc.v1.Options"):
        parsed = runtime_options(any_pb2.Any(type_url=type_url, value=options.SerializeToString()))
        assert (parsed.binary_name, parsed.root) == ("/usr/sbin/runc", "/run/docker/runtime-runc")
    assert runtime_options(any_pb2.Any()) == oci_pb2.Options()
    with pytest.raises(errdefs.InvalidArgument, match="type with url runtimeoptions.v1.Options: not found"):
        runtime_options(any_pb2.Any(type_url="runtimeoptions.v1.Options"))
