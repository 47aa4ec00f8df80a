"""whale-containerd's configuration: containerd's TOML keys, flags over the file, containerd's wording."""

from __future__ import annotations

import pytest

from corelib.containerd import config
from corelib.containerd.main import main


def test_containerds_keys_are_read_and_the_rest_ignored(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('version = 2\nroot = "/r"\nstate = "/s"\ndisabled_plugins = ["x"]\n'
                    '[grpc]\n  address = "/s/c.sock"\n  gid = 7\n[ttrpc]\n  address = "/s/t.sock"\n'
                    '[debug]\n  level = "debug"\n[plugins."io.containerd.grpc.v1.cri"]\n  x = 1\n')
    loaded = config.load(str(path))
    assert (loaded.root, loaded.state, loaded.address, loaded.ttrpc, loaded.log_level, loaded.grpc_gid) == \
        ("/r", "/s", "/s/c.sock", "/s/t.sock", "debug", 7)
    assert config.load(None).ttrpc == config.DEFAULT_ADDRESS + ".ttrpc"


def test_bad_configuration_is_refused_in_containerds_words(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main(["--config", str(missing)]) == 1
    assert f"failed to load TOML: {missing}: open {missing}: no such file or directory" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("root = \n")
    assert main(["--config", str(broken)]) == 1
    assert "failed to load TOML from" in capsys.readouterr().err
    assert main(["--log-level", "loud"]) == 1
    assert 'not a valid logrus Level: "loud"' in capsys.readouterr().err


def test_version_flag(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("whale-containerd ")


def test_flags_are_containerds(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    for flag in ("--address", "--root", "--state", "--config", "--log-level"):
        assert flag in help_text
