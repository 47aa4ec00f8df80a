"""`whale`: the console script."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from corelib.client.cli import run

    status = run(sys.argv[1:] if argv is None else argv)
    sys.exit(status)


if __name__ == "__main__":
    main()
