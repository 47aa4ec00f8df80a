"""The log line of Go's logrus text formatter, as dockerd and containerd write it:
time="2006-01-02T15:04:05.000000000Z07:00"-like stamp, level=info, msg="..."."""

from __future__ import annotations

import logging
import time


class LogrusFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        level = {"WARNING": "warning", "CRITICAL": "fatal"}.get(record.levelname, record.levelname.lower())
        msg = record.getMessage().replace('"', '\\"')
        line = f'time="{stamp}.{int(record.msecs * 1000):06d}" level={level} msg="{msg}"'
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line
