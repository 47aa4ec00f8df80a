"""Decoding POST /containers/create as Go's encoding/json does: canonical fields, Docker's
defaults, and Go's own error wording (observed from the real dockerd 20.10)."""

from __future__ import annotations

import json

import pytest

from corelib import errdefs
from corelib.daemon.container.config import HOST_CONFIG_FIELDS, decode_create_body
from corelib.daemon.server.httputils import decode_json

# What the docker CLI 20.10 sends for `docker create --name c20 busybox:local echo hello` (captured).
CLI_BODY = json.loads(
    '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,'
    '"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hello"],"Image":"busybox:local",'
    '"Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,'
    '"NetworkMode":"default","RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,'
    '"CapAdd":null,"Dns":[],"ShmSize":0,"ConsoleSize":[0,0],"MemorySwappiness":-1,"PidsLimit":0,"Ulimits":null},'
    '"NetworkingConfig":{"EndpointsConfig":{}}}')


def test_cli_body_decodes_to_canonical_config():
    config, host, networking = decode_create_body(CLI_BODY)
    assert config["Cmd"] == ["echo", "hello"] and config["Env"] is None and config["Entrypoint"] is None
    assert list(config)[:3] == ["Hostname", "Domainname", "User"]
    assert "ExposedPorts" not in config and "StopSignal" not in config  # omitempty, unset
    assert [f.name for f in HOST_CONFIG_FIELDS if not f.omitempty] == [k for k in host if k in
                                                                       {f.name for f in HOST_CONFIG_FIELDS}]
    assert host["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert host["MemorySwappiness"] == -1 and host["PidsLimit"] == 0 and host["OomKillDisable"] is None
    assert networking == {"EndpointsConfig": {}}


def test_docker_py_sparse_body_gets_zero_values():
    config, host, _ = decode_create_body({"Image": "busybox", "Cmd": "true", "hostconfig": {"networkmode": "host"}})
    assert config["Cmd"] == ["true"]  # strslice: a bare string is one word
    assert config["Tty"] is False and config["Labels"] is None and config["Hostname"] == ""
    assert host["NetworkMode"] == "host"  # Go matches field names case-insensitively
    assert host["Binds"] is None and host["LogConfig"] == {"Type": "", "Config": None}


def test_unknown_fields_are_ignored():
    config, _, _ = decode_create_body({"Image": "busybox", "Foo": 1, "HostConfig": {"Bar": [1]}})
    assert "Foo" not in config and config["Image"] == "busybox"


@pytest.mark.parametrize(("body", "message"), [
    ({"Image": "busybox", "Cmd": 5},
     "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string"),
    ({"Image": "busybox", "Tty": "yes"},
     "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type bool"),
    ({"Image": "busybox", "HostConfig": {"Memory": "x"}},
     "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ({"Image": "busybox", "HostConfig": {"Memory": 1.5}},
     "json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": 3}}},
     "json: cannot unmarshal number into Go struct field RestartPolicy.HostConfig.RestartPolicy.Name of type string"),
    ({"Image": "busybox", "Env": "A=1"},
     "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string"),
])
def test_wrong_types_fail_like_go(body, message):
    with pytest.raises(errdefs.WhaleError) as raised:
        decode_create_body(body)
    assert str(raised.value) == message and raised.value.http_status == 500


@pytest.mark.parametrize(("text", "message"), [
    ("{bad", "invalid character 'b' looking for beginning of object key string"),
    ("", "EOF"),
    ('{"Image": "busybox"', "unexpected EOF"),
    ('{"Image" "busybox"}', "invalid character '\"' after object key"),
    ('{"Cmd": ["a" "b"]}', "invalid character '\"' after array element"),
])
def test_syntax_errors_read_like_go(text, message):
    with pytest.raises(errdefs.WhaleError) as raised:
        decode_json(text.encode())
    assert str(raised.value) == message


def test_like_gos_decoder_one_value_is_read_and_the_rest_ignored():
    assert decode_json(b' {"Image": "busybox"} trailing') == {"Image": "busybox"}
