"""run/create's flags made into the create request, the CLI config file, --since/--until values."""

from __future__ import annotations

import base64
import json

import pytest

from corelib.client.cli import parse
from corelib.client.cli.container import opts as copts
from corelib.client.cli.timetypes import get_timestamp
from corelib.client.config import ConfigFile, load_config


def body(*argv: str) -> dict:
    inv = parse(["create", *argv])
    return copts.parse(inv.options, inv.args[0], inv.args[1:])


def test_flags_to_config_and_host_config(tmp_path, monkeypatch):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=1\n  B=two words\nFROM_HOST\nNOT_SET_ANYWHERE\n")
    monkeypatch.setenv("FROM_HOST", "h")
    b = body("-it", "-e", "C=3", "-e", "FROM_HOST", "--env-file", str(env_file), "-v", "/a:/b:ro", "-v", "/anon",
             "-w", "/w", "-u", "1:2", "--entrypoint", "", "-h", "hn", "--network", "none", "-m", "1g", "--cpus",
             "0.25", "--pids-limit", "9", "--cap-add", "net_admin", "--cap-add", "ALL", "--cap-drop", "chown",
             "--read-only", "--privileged", "-l", "k=v", "-l", "bare", "--restart", "on-failure:3", "--init",
             "--stop-signal", "SIGUSR1", "--stop-timeout", "4", "--tmpfs", "/run:size=1m", "--security-opt",
             "systempaths=unconfined", "--runtime", "runc", "busybox", "sh")
    assert (b["Tty"], b["OpenStdin"], b["AttachStdin"], b["StdinOnce"]) == (True, True, True, True)
    assert b["Env"] == ["A=1", "B=two words", "FROM_HOST=h", "C=3", "FROM_HOST=h"]
    assert (b["Cmd"], b["Entrypoint"], b["Image"], b["WorkingDir"], b["User"]) == (["sh"], [""], "busybox", "/w", "1:2")
    assert (b["Volumes"], b["Labels"], b["StopSignal"], b["StopTimeout"]) == (
        {"/anon": {}}, {"k": "v", "bare": ""}, "SIGUSR1", 4)
    h = b["HostConfig"]
    assert h["Binds"] == ["/a:/b:ro"] and h["NetworkMode"] == "none"
    assert (h["Memory"], h["NanoCpus"], h["PidsLimit"]) == (1 << 30, 250_000_000, 9)
    assert (h["CapAdd"], h["CapDrop"]) == (["ALL"], ["CAP_CHOWN"])
    assert h["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert (h["Init"], h["Tmpfs"], h["Runtime"], h["ReadonlyRootfs"], h["Privileged"]) == (
        True, {"/run": "size=1m"}, "runc", True, True)
    assert (h["MaskedPaths"], h["ReadonlyPaths"], h["SecurityOpt"]) == ([], [], None)


def test_defaults_leave_optional_fields_out():
    b = body("busybox")
    assert (b["Cmd"], b["Env"], b["Entrypoint"], b["AttachStdout"], b["AttachStdin"]) == (None, None, None, True, False)
    assert "StopTimeout" not in b and "Init" not in b["HostConfig"] and "Tmpfs" not in b["HostConfig"]
    assert b["HostConfig"]["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert body("-a", "stdin", "busybox")["AttachStdout"] is False


@pytest.mark.parametrize("argv, message", [
    (["--rm", "--restart", "always", "busybox"], "conflicting options: cannot specify both --restart and --rm"),
    (["--restart", ":3", "busybox"], "invalid restart policy format: no policy provided before colon"),
    (["--restart", "on-failure:x", "busybox"], "invalid restart policy format: maximum retry count must be an integer"),
    (["--security-opt", "bogus", "busybox"], 'Invalid --security-opt: "bogus"'),
    (["--security-opt", "seccomp=/nonexistent.json", "busybox"],
     "opening seccomp profile (/nonexistent.json) failed: open /nonexistent.json: no such file or directory"),
    (["--env-file", "/nonexistent.env", "busybox"], "open /nonexistent.env: no such file or directory"),
    (["-v", "a:b:c:d", "busybox"], "invalid spec: a:b:c:d: too many colons"),
])
def test_bad_flags(argv, message):
    with pytest.raises(ValueError) as e:
        body(*argv)
    assert str(e.value) == message


def test_seccomp_profile_is_sent_compacted(tmp_path):
    profile = tmp_path / "p.json"
    profile.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n')
    assert body("--security-opt", f"seccomp={profile}", "busybox")["HostConfig"]["SecurityOpt"] == [
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']


def test_proxies_for_the_daemon_host():
    config = ConfigFile({"proxies": {"default": {"httpProxy": "http://p:1", "noProxy": "x"},
                                     "tcp://other:2375": {"httpsProxy": "https://q"}}})
    env = config.parse_proxy_config("unix:///run/whalebone/whaled.sock", {"HTTP_PROXY": "mine", "BARE": None})
    assert env == {"HTTP_PROXY": "mine", "BARE": None, "http_proxy": "http://p:1", "NO_PROXY": "x", "no_proxy": "x"}
    assert config.parse_proxy_config("tcp://other:2375", {}) == {"HTTPS_PROXY": "https://q", "https_proxy": "https://q"}


def test_registry_auth_header():
    auth = base64.b64encode(b"user:secret").decode()
    config = ConfigFile({"auths": {"127.0.0.1:5000": {"auth": auth}}})
    decoded = json.loads(base64.urlsafe_b64decode(config.encoded_auth("127.0.0.1:5000")))
    assert decoded == {"username": "user", "password": "secret", "serveraddress": "127.0.0.1:5000"}
    assert config.encoded_auth("docker.io") == "e30="


def test_config_file_places(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text('{"detachKeys": "ctrl-x,x", "psFormat": "{{.ID}}"}')
    monkeypatch.setenv("WHALE_CONFIG", str(tmp_path))
    config = load_config()
    assert (config.detach_keys, config.ps_format) == ("ctrl-x,x", "{{.ID}}")
    (tmp_path / "config.json").write_text("{broken")
    warnings = []
    assert load_config(warn=warnings.append).proxies == {}
    assert warnings[0].startswith(f"WARNING: Error loading config file: {tmp_path}/config.json: ")


def test_timestamps_for_since_and_until():
    assert get_timestamp("1700000000") == "1700000000"
    assert get_timestamp("1h30m", now=10000.0) == "4600.000000000"
    assert get_timestamp("2026-11-29T20:00:00Z") == f"{1795982400:.9f}"
    assert get_timestamp("") is None
    with pytest.raises(ValueError, match='parsing time "yesterday"'):
        get_timestamp("yesterday")
