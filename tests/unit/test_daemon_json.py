"""whaled's --config-file: daemon.json directives merged under the flags, with dockerd's errors."""

from __future__ import annotations

import json

import pytest

from corelib.daemon.config import RUNC_SHIM, WHALE_SHIM
from corelib.daemon.main import make_config, parse_args


def config_from(tmp_path, directives: object, *flags: str):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(directives))
    return make_config(parse_args(["--config-file", str(path), "--data-root", str(tmp_path / "data"), *flags]))


def test_directives_set_what_the_flags_would(tmp_path):
    config = config_from(tmp_path, {"exec-root": str(tmp_path / "exec"), "log-level": "warn", "live-restore": True})
    assert config.exec_root == str(tmp_path / "exec") and config.log_level == "warn" and config.live_restore


def test_a_runtime_type_names_a_shim_and_a_path_a_binary_under_the_default_one(tmp_path):
    config = config_from(tmp_path, {"runtimes": {"whale": {"runtimeType": WHALE_SHIM},
                                                 "named": {"runtimeType": WHALE_SHIM,
                                                           "options": {"BinaryName": "/opt/whale-runc"}},
                                                 "mine": {"path": "/usr/sbin/runc"}},
                                    "default-runtime": "whale"}, "--containerd", "/run/elsewhere.sock")
    assert config.default_runtime == "whale"
    assert (config.runtimes["whale"].shim, config.runtimes["whale"].path) == (WHALE_SHIM, "")
    assert (config.runtimes["named"].shim, config.runtimes["named"].path) == (WHALE_SHIM, "/opt/whale-runc")
    assert (config.runtimes["mine"].shim, config.runtimes["mine"].path) == (RUNC_SHIM, "/usr/sbin/runc")


@pytest.mark.parametrize(("directives", "flags", "message"), [
    ({"bogus": 1, "iptables": False}, (),
     "the following directives don't match any configuration option: bogus, iptables"),
    ({"exec-root": "/x"}, ("--exec-root", "/y"),
     "the following directives are specified both as a flag and in the configuration file: "
     "exec-root: (from flag: /y, from file: /x)"),
    ({"debug": True}, ("-D",), "specified both as a flag and in the configuration file: debug"),
    ({"runtimes": {"runc": {"path": "/bin/true"}}}, (), "runtime name 'runc' is reserved"),
    ({"runtimes": {"x": {"path": "/a", "runtimeType": WHALE_SHIM}}}, (), "exactly one of path and runtimeType"),
    ({"default-runtime": "nope"}, (), "default runtime 'nope' is not a known runtime"),
])
def test_bad_files_are_refused_in_dockerds_words(tmp_path, directives, flags, message):
    with pytest.raises(SystemExit) as e:
        config_from(tmp_path, directives, *flags)
    assert message in str(e.value)


def test_the_default_file_may_be_absent_but_a_named_one_may_not(tmp_path):
    assert parse_args(["--data-root", str(tmp_path)]).runtimes == {}
    with pytest.raises(SystemExit) as e:
        parse_args(["--config-file", str(tmp_path / "absent.json")])
    assert "no such file or directory" in str(e.value)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SystemExit) as e:
        parse_args(["--config-file", str(tmp_path / "bad.json")])
    assert "unable to configure the Docker daemon with file" in str(e.value)
