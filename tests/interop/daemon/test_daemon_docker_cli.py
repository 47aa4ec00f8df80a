"""The real docker CLIs (20.10 from Debian and 28.2) against whaled on the real containerd: the
issue's commands, output and exit codes as a user of Docker sees them."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time

import pytest

from tests.integration.daemon.harness import wait_for

pytestmark = pytest.mark.interop


def test_version_and_info(whaled, cli):
    version = whaled.docker("version", cli=cli).stdout
    assert re.search(r"Server: Whalebone Engine", version) and "20.10.24+whalebone" in version
    assert re.search(r"API version:\s+1\.41", version)
    info = whaled.docker("info", cli=cli).stdout
    assert "Server Version: 20.10.24+whalebone" in info and "Logging Driver: json-file" in info
    assert "Security Options:" in info and "seccomp" in info


def test_run_attached_with_piped_stdin(whaled, cli):
    result = whaled.docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo err >&2; exit 3", cli=cli,
                           input="hello from a pipe\n", check=False)
    assert result.returncode == 3 and result.stdout == "hello from a pipe\n"
    assert result.stderr.splitlines()[-1] == "err"


def test_run_detached_logs_follow_and_wait(whaled, cli):
    cid = whaled.docker("run", "-d", "busybox", "sh", "-c", "for i in 1 2 3; do echo n$i; sleep 0.3; done; exit 2",
                        cli=cli).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    assert whaled.docker("logs", "-f", cid, cli=cli).stdout == "n1\nn2\nn3\n"
    assert whaled.docker("wait", cid, cli=cli).stdout.strip() == "2"
    assert whaled.docker("ps", "-a", "--filter", f"id={cid}", "--format", "{{.Status}}", cli=cli).stdout \
        .startswith("Exited (2)")
    whaled.docker("rm", cid, cli=cli)


def test_run_rm_and_failing_commands(whaled, cli):
    assert whaled.docker("run", "--rm", "busybox", "echo", "gone", cli=cli).stdout == "gone\n"
    missing = whaled.docker("run", "--rm", "busybox", "nosuchcommand", cli=cli, check=False)
    assert missing.returncode == 127 and 'exec: "nosuchcommand": executable file not found in $PATH' \
        in missing.stderr
    denied = whaled.docker("run", "--rm", "busybox", "/etc/passwd", cli=cli, check=False)
    assert denied.returncode == 126 and "permission denied" in denied.stderr
    assert whaled.docker("ps", "-aq", cli=cli).stdout == ""


def test_missing_image_is_pulled_from_the_local_registry(whaled, registry, cli):
    image = f"{registry.host}/pulled/busybox:test"
    result = whaled.docker("run", "--rm", image, "echo", "pulled", cli=cli)
    assert result.stdout == "pulled\n"
    assert f"Unable to find image '{image}' locally" in result.stderr
    assert "Status: Downloaded newer image" in result.stderr
    assert image in whaled.docker("images", "--format", "{{.Repository}}:{{.Tag}}", cli=cli).stdout
    whaled.docker("rmi", image, cli=cli)


def test_events_with_filters(whaled, cli):
    name = f"ev{secrets.token_hex(4)}"
    since = str(int(time.time()) - 1)
    whaled.docker("run", "--rm", "--name", name, "--label", "team=blue", "busybox", "true", cli=cli)
    until = str(int(time.time()) + 1)
    common = ["events", "--since", since, "--until", until, "--format", "{{.Type}} {{.Action}}"]
    assert whaled.docker(*common, "--filter", f"container={name}", cli=cli).stdout.splitlines() == [
        "container create", "container attach", "container start", "container die", "container destroy"]
    assert whaled.docker(*common, "--filter", f"container={name}", "--filter", "event=start", "--filter",
                         "event=die", cli=cli).stdout.splitlines() == ["container start", "container die"]
    labelled = whaled.docker(*common, "--filter", "label=team=blue", "--filter", "type=container", "--filter",
                             f"container={name}", cli=cli).stdout
    assert labelled.count("\n") == 5
    assert whaled.docker(*common, "--filter", "label=team=red", cli=cli).stdout == ""


def test_events_are_streamed_as_they_happen(whaled, cli):
    env = {**os.environ, "DOCKER_CONFIG": str(whaled.dir / "cli-config")}
    follower = subprocess.Popen([cli, "-H", whaled.host, "events", "--filter", "container=live1", "--format",
                                 "{{.Action}}"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        wait_for(lambda: whaled.api_json("GET", "/v1.41/info")[1]["NEventsListener"] >= 1, what="the listener")
        whaled.docker("run", "--rm", "--name", "live1", "busybox", "true", cli=cli)
        lines = [follower.stdout.readline().strip() for _ in range(5)]
        assert lines == ["create", "attach", "start", "die", "destroy"]
    finally:
        follower.kill()
        follower.wait()


def test_container_commands(whaled, cli):
    d = whaled
    cid = d.docker("create", "--name", "cc1", "-e", "X=1", "busybox", "sh", "-c", "trap 'exit 0' TERM; "
                   "while true; do sleep 0.1; done", cli=cli).stdout.strip()
    assert d.docker("start", "cc1", cli=cli).stdout.strip() == "cc1"
    assert d.docker("start", "cc1", cli=cli).returncode == 0  # already running: 304, not an error
    assert "X=1" in d.docker("exec", "cc1", "env", cli=cli).stdout
    assert d.docker("top", "cc1", cli=cli).stdout.splitlines()[0].split()[:2] == ["UID", "PID"]
    d.docker("pause", "cc1", cli=cli)
    assert d.docker("ps", "--format", "{{.Names}} {{.Status}}", cli=cli).stdout.strip().endswith("(Paused)")
    d.docker("unpause", "cc1", cli=cli)
    d.docker("rename", "cc1", "cc2", cli=cli)
    assert json.loads(d.docker("inspect", "cc2", cli=cli).stdout)[0]["Id"] == cid
    d.docker("restart", "-t", "5", "cc2", cli=cli)
    assert d.docker("inspect", "-f", "{{.State.Running}}", "cc2", cli=cli).stdout.strip() == "true"
    d.docker("stop", "cc2", cli=cli)
    assert d.docker("inspect", "-f", "{{.State.ExitCode}}", "cc2", cli=cli).stdout.strip() == "0"
    d.docker("start", "cc2", cli=cli)
    d.docker("kill", "-s", "KILL", "cc2", cli=cli)
    assert d.docker("wait", "cc2", cli=cli).stdout.strip() == "137"
    d.docker("rm", "cc2", cli=cli)
    assert d.docker("rm", "-f", "cc2", cli=cli, check=False).returncode == 0  # missing, but -f: exit 0
    assert "No such object: cc2" in d.docker("inspect", "cc2", cli=cli, check=False).stderr  # as with dockerd


def test_rm_of_a_running_container_and_attach(whaled, cli):
    cid = whaled.docker("run", "-d", "--name", "att1", "busybox", "sh", "-c", "sleep 1; echo attached-out",
                        cli=cli).stdout.strip()
    refused = whaled.docker("rm", "att1", cli=cli, check=False)
    assert refused.returncode == 1 and (f"You cannot remove a running container {cid}. Stop the container before "
                                        "attempting removal or force remove") in refused.stderr
    attached = whaled.docker("attach", "att1", cli=cli, check=False)
    assert attached.stdout == "attached-out\n" and attached.returncode == 0
    whaled.docker("rm", "att1", cli=cli)


def test_run_with_a_tty(whaled, cli):
    script = f"{cli} -H {whaled.host} run --rm -it busybox sh -c 'tty; echo tty-ok; exit 5'"
    result = subprocess.run(["script", "-qfec", script, "/dev/null"], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    output = result.stdout.replace("\r", "")
    assert "/dev/pts/0\ntty-ok\n" in output and result.returncode == 5


def test_image_commands(whaled, registry, cli, tmp_path):
    d = whaled
    image = f"{registry.host}/pulled/busybox:test"
    pulled = d.docker("pull", image, cli=cli).stdout
    assert "Status: Downloaded newer image" in pulled or "Image is up to date" in pulled
    d.docker("tag", image, "retagged:v1", cli=cli)
    listed = d.docker("images", "--format", "{{.Repository}}:{{.Tag}}", cli=cli).stdout.split()
    assert "retagged:v1" in listed and "busybox:latest" in listed
    archive = tmp_path / "saved.tar"
    d.docker("save", "-o", str(archive), "retagged:v1", cli=cli)
    d.docker("rmi", "retagged:v1", image, cli=cli)
    assert "Loaded image: retagged:v1" in d.docker("load", "-i", str(archive), cli=cli).stdout
    rootfs = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", "/", "-cf", str(rootfs), "etc/hostname"], check=True)
    imported = d.docker("import", "-c", "CMD [\"sh\"]", str(rootfs), "imported:v1", cli=cli).stdout.strip()
    assert imported.startswith("sha256:")
    d.docker("rmi", "retagged:v1", "imported:v1", cli=cli)
    missing = d.docker("pull", f"{registry.host}/pulled/busybox:nope", cli=cli, check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_system_df_and_prunes(whaled, cli):
    whaled.docker("run", "--name", "prunable", "--label", "prune=me", "busybox", "true", cli=cli)
    df = whaled.docker("system", "df", cli=cli).stdout
    assert df.splitlines()[0].split()[:2] == ["TYPE", "TOTAL"] and "Containers" in df and "Images" in df
    pruned = whaled.docker("container", "prune", "-f", "--filter", "label=prune=me", cli=cli).stdout
    assert "Deleted Containers:" in pruned and "Total reclaimed space" in pruned
    assert whaled.docker("ps", "-aq", "--filter", "name=prunable", cli=cli).stdout == ""
    assert "Total reclaimed space" in whaled.docker("image", "prune", "-f", cli=cli).stdout
    assert "busybox" in whaled.docker("images", cli=cli).stdout  # in use by nothing, but tagged: kept

