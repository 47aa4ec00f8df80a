"""`whale run` and `create`/`start` against the real dockerd, checked against the real docker CLI on the
same daemon: output, exit status, error wording."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.interop.client.conftest import ID_RE


def test_run_attached_exit_status_and_streams(clients):
    script = "echo out; echo err >&2; exit 3"
    whale, docker = clients.both("run", "--rm", "--network", "none", "busybox", "sh", "-c", script)
    assert (whale.rc, whale.out, whale.err) == (3, "out\n", "err\n")
    assert whale.as_docker() == docker.as_docker()


def test_run_piped_stdin_reaches_eof(clients):
    """-i without a TTY: stdin is copied raw, then half-closed, and the output still arrives."""
    data = "".join(f"line {i}\n" for i in range(2000))
    whale = clients.whale("run", "--rm", "-i", "--network", "none", "busybox", "sh", "-c", "cat; echo done",
                          input=data)
    assert (whale.rc, whale.err) == (0, "")
    assert whale.out == data + "done\n"


def test_run_detached_prints_id_and_container_runs(clients):
    whale = clients.whale("run", "-d", "--name", "wr-detached", "--network", "none", "busybox", "sleep", "30")
    assert whale.rc == 0 and ID_RE.fullmatch(whale.out.strip()), whale
    try:
        state = clients.docker("inspect", "-f", "{{.State.Running}} {{.Name}}", "wr-detached")
        assert state.out == "true /wr-detached\n"
    finally:
        clients.docker("rm", "-f", "wr-detached")


def test_run_failing_commands_exit_127_and_126(clients):
    for args, status in ((["/nonexistent"], 127), (["/etc"], 126)):
        whale, docker = clients.both("run", "--rm", "--network", "none", "busybox", *args)
        assert whale.rc == docker.rc == status, whale
        # docker's own message; what a daemon may have streamed before the start failed (whaled does)
        # reaches docker's stderr or not depending on its streamer's timing.
        rc, out, err = docker.as_docker()
        assert whale.as_docker() == (rc, out, err[err.index("docker: "):])
        assert whale.err.startswith("whale: Error response from daemon: ")
        assert whale.err.endswith("\n\nRun 'whale run --help' for more information\n")


def test_run_rm_leaves_nothing(clients):
    before = clients.docker("ps", "-aq").out
    whale = clients.whale("run", "--rm", "--network", "none", "busybox", "true")
    assert (whale.rc, whale.out, whale.err) == (0, "", "")
    assert clients.docker("ps", "-aq").out == before


def test_create_then_start_attached(clients):
    created = clients.whale("create", "--name", "wr-created", "--network", "none", "-e", "GREETING=hello",
                            "busybox", "sh", "-c", "echo $GREETING; exit 5")
    assert created.rc == 0 and ID_RE.fullmatch(created.out.strip()), created
    try:
        assert clients.docker("inspect", "-f", "{{.State.Status}}", "wr-created").out == "created\n"
        started = clients.whale("start", "-a", "wr-created")
        assert (started.rc, started.out) == (5, "hello\n")
        again = clients.whale("start", "wr-created")
        assert (again.rc, again.out) == (0, "wr-created\n")
        waited = clients.whale("wait", "wr-created")
        assert (waited.rc, waited.out) == (0, "5\n")
    finally:
        clients.docker("rm", "-f", "wr-created")


def test_run_flags_reach_the_container(clients, env_file):
    script = "id -u; hostname; pwd; echo $FOO $BAR; cat /proc/self/status | grep -c NoNewPrivs"
    whale = clients.whale("run", "--rm", "--network", "none", "-u", "1234", "-h", "wbhost", "-w", "/tmp",
                          "-e", "FOO=foo", "--env-file", str(env_file), "--read-only",
                          "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", "--cap-drop", "ALL",
                          "-l", "a=b", "--init", "--stop-signal", "SIGUSR1", "--stop-timeout", "3",
                          "busybox", "sh", "-c", script)
    assert whale.rc == 0, whale
    assert whale.out.splitlines()[:4] == ["1234", "wbhost", "/tmp", "foo bar"]


def test_run_host_config_as_docker_sends_it(clients):
    """The same flags give the same container, whichever client created it."""
    args = ["--network", "none", "-m", "64m", "--pids-limit", "50", "--cpus", "1.5", "--cap-add", "NET_ADMIN",
            "--cap-drop", "MKNOD", "--read-only", "--privileged", "-l", "k=v", "--restart", "on-failure:2",
            "--init", "--stop-signal", "SIGUSR1", "--stop-timeout", "7", "--tmpfs", "/run:size=1m",
            "--security-opt", "no-new-privileges", "-v", "/tmp:/host-tmp:ro", "-h", "hn", "-u", "1:2",
            "-w", "/w", "--entrypoint", "/bin/sh", "busybox", "-c", "true"]
    fmt = "{{json .HostConfig}} {{json .Config.Labels}} {{.Config.StopSignal}} {{.Config.StopTimeout}} " \
          "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.User}} {{.Config.WorkingDir}}"
    try:
        assert clients.whale("create", "--name", "wr-cfg-w", *args).rc == 0
        assert clients.docker("create", "--name", "wr-cfg-d", *args).rc == 0
        whale = clients.docker("inspect", "-f", fmt, "wr-cfg-w").out
        docker = clients.docker("inspect", "-f", fmt, "wr-cfg-d").out
        assert whale == docker
    finally:
        clients.docker("rm", "-f", "wr-cfg-w", "wr-cfg-d")


def test_proxies_from_the_config_file(clients, tmp_path):
    (clients.whale_config / "config.json").write_text(
        '{"proxies": {"default": {"httpProxy": "http://proxy.example:3128", "noProxy": "localhost"}}}')
    try:
        whale = clients.whale("run", "--rm", "--network", "none", "-e", "NO_PROXY=mine", "busybox", "env")
    finally:
        (clients.whale_config / "config.json").unlink()
    env = set(whale.out.splitlines())
    assert {"HTTP_PROXY=http://proxy.example:3128", "http_proxy=http://proxy.example:3128",
            "NO_PROXY=mine", "no_proxy=localhost"} <= env


def test_ctrl_c_is_forwarded_as_a_kill(clients):
    script = 'trap "echo got INT; exit 4" INT; echo ready; while true; do sleep 0.1; done'
    proc = subprocess.Popen([clients.whale_bin, "-H", clients.dockerd.host, "run", "--rm", "--name", "wr-sig",
                             "--network", "none", "busybox", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert (proc.returncode, out, err) == (4, "got INT\n", "")
    finally:
        if proc.poll() is None:
            proc.kill()
        clients.docker("rm", "-f", "wr-sig")


def test_name_conflict_and_usage_errors_match_docker(clients):
    assert clients.whale("create", "--name", "wr-dup", "busybox").rc == 0
    try:
        for args in (["run", "--name", "wr-dup", "busybox"], ["create", "--name", "wr-dup", "busybox"],
                     ["run", "--foo", "busybox"], ["run"], ["run", "-z", "busybox"], ["run", "--name"],
                     ["run", "-m", "abc", "busybox"], ["run", "--cpus", "x", "busybox"],
                     ["run", "--rm", "--restart", "always", "busybox"], ["run", "BUSYBOX"],
                     ["run", "-e", "=x", "busybox"], ["create", "-e", "=x", "busybox"], ["ps", "x"], ["logs"],
                     ["rename", "a"], ["start"], ["stop", "-t", "x", "c"], ["bogus"]):
            whale, docker = clients.both(*args)
            assert whale.as_docker() == docker.as_docker(), args
    finally:
        clients.docker("rm", "-f", "wr-dup")


def test_missing_daemon(clients, tmp_path):
    sock = f"unix://{tmp_path}/none.sock"
    for args, status in ((["ps"], 1), (["run", "busybox"], 125)):
        whale = clients.whale("-H", sock, *args)
        assert whale.rc == status
        assert f"Cannot connect to the Docker daemon at {sock}. Is the docker daemon running?" in whale.err


def test_whale_host_from_the_environment(clients):
    env = {**os.environ, "WHALE_CONFIG": str(clients.whale_config), "WHALE_HOST": clients.dockerd.host}
    proc = subprocess.run([clients.whale_bin, "version", "-f", "{{.Server.Version}}"], capture_output=True,
                          text=True, env=env, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("20.10"), proc.stderr


def test_run_with_tty_needs_a_terminal(clients):
    whale, docker = clients.both("run", "--rm", "-it", "busybox", "true")
    assert whale.rc == 1 and "the input device is not a TTY" in whale.err
    assert whale.rc == docker.rc

