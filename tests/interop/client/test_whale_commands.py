"""whale's other commands against the real dockerd, compared with the real docker CLI on the same daemon."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from tests.interop.client.conftest import timeless, wait_until


@pytest.fixture(scope="module")
def sleeper(clients):
    """A running container with some output, for ps, logs, top, exec, inspect."""
    script = "echo first; echo second >&2; echo third; exec sleep 300"
    assert clients.docker("run", "-d", "--name", "wc-sleeper", "-l", "role=sleeper", "--network", "none",
                          "busybox", "sh", "-c", script).rc == 0
    wait_until(lambda: clients.docker("logs", "wc-sleeper").out == "first\nthird\n")
    yield "wc-sleeper"
    clients.docker("rm", "-f", "wc-sleeper")


def test_ps_and_images_tables(clients, sleeper):
    for args in (["ps"], ["ps", "-a"], ["ps", "--no-trunc"], ["ps", "-q"], ["ps", "-a", "-q", "--no-trunc"],
                 ["ps", "--filter", "label=role=sleeper", "--format",
                  "{{.Names}} {{.Label \"role\"}} {{.State}}"],
                 ["ps", "--format", "table {{.ID}}\t{{.Names}}\t{{.Labels}}"], ["ps", "-n", "1", "--format", "json"],
                 ["images"], ["images", "-q"], ["images", "--no-trunc"], ["images", "busybox"],
                 ["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"], ["images", "--digests"]):
        whale, docker = clients.both(*args)
        assert whale.rc == docker.rc == 0, args
        assert rows_in_any_order(timeless(whale.out)) == rows_in_any_order(timeless(docker.out)), args


def test_logs(clients, sleeper):
    for args in (["logs", sleeper], ["logs", "--tail", "1", sleeper], ["logs", "-n", "0", sleeper],
                 ["logs", "--since", "0", sleeper], ["logs", "nosuch"]):
        whale, docker = clients.both(*args)
        assert whale.as_docker() == docker.as_docker(), args
    stamped = clients.whale("logs", "-t", sleeper).out.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["first", "third"]
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ", line) for line in stamped)


def test_logs_follow_streams_until_the_container_exits(clients):
    assert clients.docker("run", "-d", "--name", "wc-follow", "--network", "none", "busybox", "sh", "-c",
                          "for i in 1 2 3; do echo tick $i; sleep 0.2; done").rc == 0
    try:
        whale = clients.whale("logs", "-f", "wc-follow", timeout=60)
        assert (whale.rc, whale.out) == (0, "tick 1\ntick 2\ntick 3\n")
    finally:
        clients.docker("rm", "-f", "wc-follow")


def test_inspect(clients, sleeper):
    for args in (["inspect", sleeper], ["inspect", "busybox"],
                 ["inspect", "-f", "{{.State.Status}} {{.Name}}", sleeper],
                 ["inspect", "--format", "{{json .Config.Labels}}", sleeper], ["inspect", "nosuch"],
                 ["inspect", "-f", "{{.Id}}", "nosuch"], ["inspect", "--type", "container", "nosuch"],
                 ["inspect", "-f", "{{.Id}}", sleeper, "nosuch"],
                 ["inspect", "--type", "image", "-f", "{{.Os}}", "busybox"],
                 ["container", "inspect", "-f", "{{.Config.Cmd}}", sleeper],
                 ["image", "inspect", "-f", "{{.Architecture}}", "busybox"]):
        whale, docker = clients.both(*args)
        assert whale.as_docker() == docker.as_docker(), args


def test_top_and_exec(clients, sleeper):
    whale = clients.whale("top", sleeper)
    docker = clients.docker("top", sleeper)
    assert whale.rc == 0 and whale.out.splitlines()[0] == docker.out.splitlines()[0]
    assert "sleep 300" in whale.out
    for args in (["exec", sleeper, "echo", "hi"], ["exec", sleeper, "sh", "-c", "echo out; echo err >&2; exit 7"],
                 ["exec", "-e", "X=1", "-w", "/tmp", "-u", "1000", sleeper, "sh", "-c", "echo $X $(pwd) $(id -u)"],
                 ["exec", sleeper, "/nonexistent"], ["exec", "nosuch", "true"]):
        whale, docker = clients.both(*args)
        assert whale.as_docker() == docker.as_docker(), args
    piped = clients.whale("exec", "-i", sleeper, "sh", "-c", "cat; echo end", input="in\n")
    assert (piped.rc, piped.out) == (0, "in\nend\n")
    detached = clients.whale("exec", "-d", sleeper, "touch", "/tmp/wc-detached")
    assert (detached.rc, detached.out) == (0, "")
    wait_until(lambda: clients.docker("exec", sleeper, "test", "-e", "/tmp/wc-detached").rc == 0)


def test_attach_stdin_reaches_the_container(clients, tmp_path):
    """Piped stdin goes in; at its end the daemon ends the attach (the container was not started with
    stdin-once), and whale waits for the exit status."""
    assert clients.docker("run", "-d", "-i", "--name", "wc-attach-in", "--network", "none", "-v",
                          f"{tmp_path}:/out", "busybox", "sh", "-c", "read line; echo $line > /out/got; exit 6").rc == 0
    try:
        whale = clients.whale("attach", "wc-attach-in", input="hello\n")
        assert whale.rc == 6, whale
        assert (tmp_path / "got").read_text() == "hello\n"
        whale, docker = clients.both("attach", "wc-attach-in")
        assert whale.as_docker() == docker.as_docker()
        assert whale.err == "You cannot attach to a stopped container, start it first\n"
    finally:
        clients.docker("rm", "-f", "wc-attach-in")


def test_attach_streams_output_until_exit(clients):
    script = "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo late; echo later >&2; exit 7"
    since = str(time.time() - 1)
    assert clients.docker("run", "-d", "--name", "wc-attach-out", "--network", "none", "busybox", "sh", "-c",
                          script).rc == 0
    proc = subprocess.Popen([clients.whale_bin, "-H", clients.dockerd.host, "attach", "--no-stdin", "wc-attach-out"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: "attach" in clients.docker(
            "events", "--since", since, "--until", str(time.time()), "--filter", "container=wc-attach-out",
            "--format", "{{.Action}}").out.split())
        assert clients.docker("exec", "wc-attach-out", "touch", "/tmp/go").rc == 0
        out, err = proc.communicate(timeout=30)
        assert (proc.returncode, out, err) == (7, "late\n", "later\n")
    finally:
        if proc.poll() is None:
            proc.kill()
        clients.docker("rm", "-f", "wc-attach-out")


def test_lifecycle_commands(clients):
    assert clients.whale("run", "-d", "--name", "wc-life", "--network", "none", "busybox", "sleep", "300").rc == 0
    try:
        assert clients.whale("pause", "wc-life").out == "wc-life\n"
        assert state(clients, "wc-life") == "paused"
        assert clients.whale("unpause", "wc-life").out == "wc-life\n"
        assert state(clients, "wc-life") == "running"
        assert clients.whale("rename", "wc-life", "wc-life2").rc == 0
        assert clients.whale("restart", "-t", "0", "wc-life2").out == "wc-life2\n"
        assert clients.whale("kill", "-s", "KILL", "wc-life2").out == "wc-life2\n"
        assert clients.whale("wait", "wc-life2").out == "137\n"
        assert clients.whale("start", "wc-life2").out == "wc-life2\n"
        assert clients.whale("stop", "-t", "0", "wc-life2").out == "wc-life2\n"
        assert state(clients, "wc-life2") == "exited"
        assert clients.whale("rm", "wc-life2").out == "wc-life2\n"
    finally:
        clients.docker("rm", "-f", "wc-life", "wc-life2")


def test_errors_of_container_commands(clients):
    assert clients.docker("run", "-d", "--name", "wc-running", "--network", "none", "busybox", "sleep", "300").rc == 0
    try:
        for args in (["rm", "nosuch"], ["rm", "-f", "nosuch"], ["stop", "nosuch", "other"], ["kill", "nosuch"],
                     ["wait", "nosuch"], ["top", "nosuch"], ["pause", "nosuch"], ["rename", "nosuch", "x"],
                     ["start", "nosuch"], ["restart", "nosuch"], ["attach", "nosuch"], ["rm", "wc-running"],
                     ["unpause", "wc-running"], ["rename", "wc-running", "wc-running"]):
            whale, docker = clients.both(*args)
            assert whale.as_docker() == docker.as_docker(), args
    finally:
        clients.docker("rm", "-f", "wc-running")


def test_image_commands(clients, dockerd, tmp_path):
    assert clients.whale("tag", "busybox", "wc-tagged:one").rc == 0
    assert clients.docker("tag", "busybox", "wc-tagged:two").rc == 0
    whale, docker = clients.both("images", "wc-tagged")
    assert rows_in_any_order(whale.out) == rows_in_any_order(docker.out)
    assert "wc-tagged    one" in whale.out and "wc-tagged    two" in whale.out
    whale, docker = clients.whale("rmi", "wc-tagged:one"), clients.docker("rmi", "wc-tagged:two")
    assert (whale.rc, whale.out, whale.err) == (0, "Untagged: wc-tagged:one\n", "")
    assert whale.as_docker() == docker.as_docker()[:1] + (docker.out.replace("two", "one"), docker.err)
    for args in (["rmi", "nosuch"], ["tag", "nosuch", "x"], ["tag", "busybox", "BAD"], ["pull", "BAD"]):
        whale, docker = clients.both(*args)
        assert whale.as_docker() == docker.as_docker(), args
    saved = tmp_path / "saved.tar"
    assert clients.whale("save", "-o", str(saved), "busybox").rc == 0
    assert json.loads(subprocess.run(["tar", "-xOf", str(saved), "manifest.json"], capture_output=True,
                                     check=True).stdout)[0]["RepoTags"] == ["busybox:latest"]
    streamed = subprocess.run([clients.whale_bin, "-H", dockerd.host, "save", "busybox"], capture_output=True,
                              timeout=60)
    assert streamed.returncode == 0 and streamed.stdout == saved.read_bytes()
    assert clients.whale("rmi", "-f", "busybox").out.startswith("Untagged: busybox:latest\n")
    loaded = clients.whale("load", "-i", str(saved))
    assert (loaded.rc, loaded.out) == (0, "Loaded image: busybox:latest\n")
    with open(saved, "rb") as archive:
        piped = subprocess.run([clients.whale_bin, "-H", dockerd.host, "load"], stdin=archive,
                               capture_output=True, text=True, timeout=60)
    assert (piped.returncode, piped.stdout) == (0, "Loaded image: busybox:latest\n")


def test_import(clients, busybox_rootfs, tmp_path):
    rootfs_tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(busybox_rootfs), "-cf", str(rootfs_tar), "."], check=True)
    whale = clients.whale("import", "-c", "CMD [\"/bin/echo\", \"imported\"]", "-m", "from whale", str(rootfs_tar),
                          "wc-imported:1")
    assert whale.rc == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}\n", whale.out), whale
    try:
        ran = clients.whale("run", "--rm", "--network", "none", "wc-imported:1")
        assert ran.out == "imported\n"
        assert clients.docker("inspect", "-f", "{{.Comment}}", "wc-imported:1").out == "from whale\n"
        piped = clients.whale("import", "-", "wc-imported:2", input=rootfs_tar.read_bytes())
        assert piped.rc == 0 and piped.out.startswith(b"sha256:" if isinstance(piped.out, bytes) else "sha256:")
    finally:
        clients.docker("rmi", "-f", "wc-imported:1", "wc-imported:2")


def test_events_replayed_with_filters(clients):
    since = str(int(time.time()) - 1)
    assert clients.whale("run", "--rm", "--name", "wc-events", "--network", "none", "busybox", "true").rc == 0
    assert clients.whale("run", "--rm", "--name", "wc-events2", "--network", "none", "busybox", "true").rc == 0
    until = str(int(time.time()) + 1)
    time.sleep(1.1)  # `until` must be in the past for the stream to end after the replay
    for args in (["events", "--since", since, "--until", until],
                 ["events", "--since", since, "--until", until, "--filter", "container=wc-events",
                  "--filter", "event=start", "--filter", "event=die"],
                 ["events", "--since", since, "--until", until, "--filter", "type=container", "--format",
                  "{{.Action}} {{.Actor.Attributes.name}}"],
                 ["events", "--since", since, "--until", until, "--format", "json"]):
        whale, docker = clients.both(*args)
        assert whale.rc == 0 and whale.out, args
        assert whale.as_docker() == docker.as_docker(), args
    names = clients.whale("events", "--since", since, "--until", until, "-f", "container=wc-events2", "--format",
                          "{{.Action}}").out.split()
    assert names == ["create", "attach", "start", "die", "destroy"]


def test_version_and_info(clients):
    for args in (["version", "-f", "{{.Server.Version}} {{.Server.Os}}"],
                 ["info", "-f", "{{.Containers}} {{.Images}}"], ["version", "--format", "{{json .Server.Components}}"]):
        whale, docker = clients.both(*args)
        assert whale.as_docker() == docker.as_docker(), args
    whale, docker = clients.both("info")
    assert whale.rc == 0
    server = whale.out.split("\nServer:\n", 1)[1]
    assert sorted_runtimes(server) == sorted_runtimes(docker.out.split("\nServer:\n", 1)[1])
    whale, docker = clients.both("version")
    assert whale.out.split("\nServer:", 1)[1] == docker.out.split("\nServer:", 1)[1]
    assert whale.out.startswith("Client: Whalebone\n Version:           0.1.0\n API version:       1.41\n")


def rows_in_any_order(table: str) -> tuple[str, list[str]]:
    """The header and the rows of a table: docker lists an image's repositories in Go's map order,
    which changes from run to run."""
    header, _, rows = table.partition("\n")
    return header, sorted(rows.splitlines())


def sorted_runtimes(info: str) -> str:
    """docker lists the runtimes in Go's map order, which changes from run to run; whale sorts them."""
    return re.sub(r"(?m)^( Runtimes: )(.*)$", lambda m: m.group(1) + " ".join(sorted(m.group(2).split())), info)


def state(clients, name: str) -> str:
    return clients.docker("inspect", "-f", "{{.State.Status}}", name).out.strip()



def test_events_follow_live(clients):
    """Without --until the stream stays open: events arrive as they happen (--since covers the moment
    before whale's request reached the daemon)."""
    since = str(time.time() - 1)
    proc = subprocess.Popen([clients.whale_bin, "-H", clients.dockerd.host, "events", "--since", since, "--filter",
                             "container=wc-live", "--format", "{{.Action}} {{.Actor.Attributes.name}}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert clients.docker("run", "--rm", "--name", "wc-live", "--network", "none", "busybox", "true").rc == 0
        seen = []
        while not seen or seen[-1] != "destroy wc-live":
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            seen.append(line.strip())
        assert seen == ["create wc-live", "attach wc-live", "start wc-live", "die wc-live", "destroy wc-live"]
        assert proc.poll() is None  # still following
    finally:
        proc.kill()
        proc.wait()
