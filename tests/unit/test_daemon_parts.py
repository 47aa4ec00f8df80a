"""The daemon's pure parts, in Docker's words: names, volumes, network files, create checks,
signals, `docker top`, start errors, `docker ps` durations."""

from __future__ import annotations

import pytest

from corelib import errdefs
from corelib.daemon.create import adapt_container_settings, merge_image_config, verify_container_settings
from corelib.daemon.list import human_duration
from corelib.daemon.mounts import container_mount_points, merge_tmpfs_options, parse_bind, parse_options
from corelib.daemon.names import NameRegistrar, generate_id, validate_name
from corelib.daemon.network import hosts_file, resolv_conf
from corelib.daemon.start import translate_start_error
from corelib.daemon.stop import parse_signal
from corelib.daemon.top import parse_ps_output

RUNTIMES = {"runc": object()}


def test_ids_and_names():
    for _ in range(50):
        cid = generate_id()
        assert len(cid) == 64 and not cid[:12].isdigit()
    assert validate_name("web.1_a-b") == "/web.1_a-b"
    for bad in ("x", "bad/name", "-x", ""):
        with pytest.raises(errdefs.InvalidArgument) as raised:
            validate_name(bad)
        assert str(raised.value) == f"Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    names = NameRegistrar()
    names.reserve("/dup20", "e6ac")
    with pytest.raises(errdefs.Conflict) as raised:
        names.reserve("/dup20", "5e1d")
    assert str(raised.value) == ('Conflict. The container name "/dup20" is already in use by container "e6ac". '
                                 "You have to remove (or rename) that container to be able to reuse that name.")
    generated = names.generate("abc")
    assert generated.startswith("/") and "_" in generated and names.get(generated[1:]) == "abc"


def test_binds_and_their_errors(tmp_path):
    point = parse_bind("/host/dir:/data:ro,rslave", tmp_path)
    assert (point.Type, point.Source, point.Destination, point.RW, point.Propagation) == \
        ("bind", "/host/dir", "/data", False, "rslave")
    assert point.spec_mount() == {"destination": "/data", "type": "bind", "source": "/host/dir",
                                  "options": ["rbind", "ro", "rslave"]}
    assert point.to_inspect() == {"Type": "bind", "Source": "/host/dir", "Destination": "/data", "Mode": "ro,rslave",
                                  "RW": False, "Propagation": "rslave"}
    anonymous = parse_bind("/cache", tmp_path)
    assert anonymous.Type == "volume" and anonymous.Source.startswith(str(tmp_path))
    with pytest.raises(errdefs.WhaleError, match="invalid volume specification: '/a:b'"):
        parse_bind("/a:b", tmp_path)
    with pytest.raises(errdefs.WhaleError, match="^invalid mode: bogus$"):
        parse_bind("/a:/b:bogus", tmp_path)
    with pytest.raises(errdefs.InvalidArgument, match="named volumes are not supported"):
        parse_bind("data:/b", tmp_path)
    with pytest.raises(errdefs.InvalidArgument, match="Duplicate mount point: /b"):
        container_mount_points({"Binds": ["/a:/b", "/c:/b"]}, {}, tmp_path)
    with pytest.raises(errdefs.InvalidArgument, match="bind source path does not exist: /no/such"):
        container_mount_points({"Mounts": [{"Type": "bind", "Source": "/no/such", "Target": "/x"}]}, {}, tmp_path)


def test_tmpfs_and_mount_options():
    assert merge_tmpfs_options(["noexec", "nosuid", "nodev", "exec", "size=64m"]) == \
        ["nosuid", "nodev", "exec", "size=64m"]
    flags, propagation, data = parse_options(["ro", "nosuid", "rprivate", "lowerdir=/a", "upperdir=/b"])
    assert flags == 0x1 | 0x2 and propagation == 0x40000 | 0x4000 and data == "lowerdir=/a,upperdir=/b"


def test_network_files():
    host = "nameserver 127.0.0.53\noptions edns0\nsearch lan\n"
    assert resolv_conf(host, [], [], []) == "options edns0\nsearch lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert resolv_conf("nameserver 10.0.0.2\n", ["1.1.1.1"], ["example.com"], ["ndots:2"]) == \
        "nameserver 1.1.1.1\nsearch example.com\noptions ndots:2\n"
    hosts = hosts_file("abc", "", ["db:10.0.0.5"])
    assert hosts.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert hosts.endswith("10.0.0.5\tdb\n")


@pytest.mark.parametrize(("config", "host", "message"), [
    ({"WorkingDir": "rel"}, {}, "the working directory 'rel' is invalid, it needs to be an absolute path"),
    ({}, {"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy 'sometimes'"),
    ({}, {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}},
     "maximum retry count cannot be used with restart policy 'always'"),
    ({}, {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}, "maximum retry count cannot be negative"),
    ({}, {"AutoRemove": True, "RestartPolicy": {"Name": "always"}},
     "can't create 'AutoRemove' container with restart policy"),
    ({}, {"CapAdd": ["NET_BOGUS"]}, 'invalid CapAdd: unknown capability: "CAP_NET_BOGUS"'),
    ({}, {"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
    ({}, {"Runtime": "kata"}, "Unknown runtime specified kata"),
    ({}, {"SecurityOpt": ["bogus=1"]}, 'invalid --security-opt 2: "bogus=1"'),
    ({}, {"SecurityOpt": ["nonsense"]}, 'invalid --security-opt 1: "nonsense"'),
    ({}, {"LogConfig": {"Type": "syslog"}}, "logger: no log driver named 'syslog' is registered"),
    ({}, {"OomScoreAdj": 1001}, "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
])
def test_create_checks(config, host, message):
    with pytest.raises(errdefs.InvalidArgument) as raised:
        verify_container_settings(config, host, RUNTIMES)
    assert str(raised.value) == message


def test_network_modes_at_create():
    assert verify_container_settings({}, {"NetworkMode": "none"}, RUNTIMES) == []
    assert "loopback" in verify_container_settings({}, {"NetworkMode": "default"}, RUNTIMES)[0]
    assert verify_container_settings({}, {"NetworkMode": "mynet"}, RUNTIMES) == []  # fails at start


def test_defaults_as_inspect_shows_them():
    host = {"Memory": 64 << 20, "MemorySwappiness": -1, "PidsLimit": 0}
    adapt_container_settings(host, "runc", 64 << 20)
    assert host["MemorySwap"] == 128 << 20 and host["ShmSize"] == 64 << 20 and host["IpcMode"] == "private"
    assert host["MemorySwappiness"] is None and host["PidsLimit"] is None and host["Runtime"] == "runc"
    assert host["LogConfig"] == {"Type": "json-file", "Config": {}} and host["NetworkMode"] == "default"
    assert host["MaskedPaths"][0] == "/proc/asound" and host["ReadonlyPaths"][-1] == "/proc/sysrq-trigger"
    privileged = {"Privileged": True}
    adapt_container_settings(privileged, "runc", 1)
    assert "MaskedPaths" not in privileged


def test_image_config_fills_what_the_container_leaves_unset():
    config = {"Env": ["A=1"], "Cmd": None, "Entrypoint": None, "Labels": {"b": "2"}, "User": "", "WorkingDir": ""}
    merge_image_config(config, {"Env": ["PATH=/bin", "A=0"], "Cmd": ["sh"], "Labels": {"a": "1", "b": "1"},
                                "WorkingDir": "/w", "User": "nobody", "StopSignal": "SIGQUIT"})
    assert config["Env"] == ["A=1", "PATH=/bin"] and config["Cmd"] == ["sh"]
    assert config["Labels"] == {"a": "1", "b": "2"} and config["WorkingDir"] == "/w" and config["User"] == "nobody"
    assert config["StopSignal"] == "SIGQUIT"
    own = {"Entrypoint": ["/bin/echo"], "Cmd": None}
    merge_image_config(own, {"Cmd": ["sh"], "Entrypoint": ["/x"]})
    assert own["Cmd"] is None and own["Entrypoint"] == ["/bin/echo"]


def test_signals():
    assert [parse_signal(s) for s in ("9", "SIGTERM", "int", "HUP")] == [9, 15, 2, 1]
    for bad in ("SIGBOGUS", "0", "99"):
        with pytest.raises(errdefs.InvalidArgument, match=f"Invalid signal: {bad}"):
            parse_signal(bad)


def test_top_keeps_the_containers_rows():
    output = ("UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\n"
              "root 4242 4200 0 10:01 ? 00:00:00 sleep 1000 now\n")
    assert parse_ps_output(output, [4242]) == {
        "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "Processes": [["root", "4242", "4200", "0", "10:01", "?", "00:00:00", "sleep 1000 now"]]}
    with pytest.raises(errdefs.WhaleError, match="Couldn't find PID field in ps output"):
        parse_ps_output("UID CMD\n", [1])


@pytest.mark.parametrize(("message", "status", "code"), [
    ('failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: '
     'exec: "/nonexistent": stat /nonexistent: no such file or directory: unknown', 400, 127),
    ('OCI runtime create failed: exec: "/etc/passwd": permission denied: unknown', 400, 126),
    ("something else broke", 500, 128),
])
def test_start_errors(message, status, code):
    error, exit_code = translate_start_error("/nonexistent" if code == 127 else "/etc/passwd",
                                             errdefs.WhaleError(message))
    assert (error.http_status, exit_code, str(error)) == (status, code, message)


def test_human_durations():
    assert [human_duration(s) for s in (0.2, 1, 45, 61, 600, 3600, 7200, 3 * 86400)] == [
        "Less than a second", "1 second", "45 seconds", "About a minute", "10 minutes", "About an hour", "2 hours",
        "3 days"]
