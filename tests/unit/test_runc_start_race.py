"""`start` after an init that wrote its byte to exec.fifo, exec'd and exited between two of start's
polls: the byte is there, the container did start; it must not be reported as 'already dead'."""

import os
import subprocess
import sys

import pytest

from corelib.runc.commands.start import start
from corelib.runc.container import EXEC_FIFO, STOPPED
from corelib.runc.errors import RuncError


class InitThatRacesAhead:
    """A container whose init, the first time start looks at its status, writes its byte and exits."""

    def __init__(self, directory, writes: bool):
        self.dir = str(directory)
        self.config = {}
        self.writes = writes
        self.looked = 0

    def run_type(self):
        self.looked += 1
        if self.looked == 1 and self.writes:
            writer = "import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.write(fd, b'0')"
            subprocess.run([sys.executable, "-c", writer, os.path.join(self.dir, EXEC_FIFO)], check=True)
        return STOPPED


def test_a_byte_written_just_before_the_init_exited_counts_as_started(tmp_path):
    os.mkfifo(tmp_path / EXEC_FIFO)
    container = InitThatRacesAhead(tmp_path, writes=True)
    start(container)
    assert container.looked == 1 and not (tmp_path / EXEC_FIFO).exists()


def test_an_init_that_died_without_writing_is_already_dead(tmp_path):
    os.mkfifo(tmp_path / EXEC_FIFO)
    with pytest.raises(RuncError, match="container process is already dead"):
        start(InitThatRacesAhead(tmp_path, writes=False))
