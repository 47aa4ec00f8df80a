"""Go's text/tabwriter (elastic tabstops), as docker/cli uses it for tables: cells end with a tab,
a column is as wide as its widest cell plus padding (at least minwidth), the text after a line's last
tab is not part of a column, and a line without tabs ends the block of lines aligned together."""

from __future__ import annotations


def text_width(s: str) -> int:
    """Display width as go-runewidth counts it: East Asian wide and fullwidth runes take two cells."""
    if s.isascii():
        return len(s)
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in s)


class TabWriter:
    def __init__(self, minwidth: int = 0, tabwidth: int = 8, padding: int = 1, padchar: str = " "):
        self.minwidth, self.tabwidth, self.padding, self.padchar = minwidth, tabwidth, padding, padchar
        self._text: list[str] = []

    def write(self, text: str) -> None:
        self._text.append(text)

    def flush(self) -> str:
        """The aligned text of everything written so far."""
        *terminated, tail = "".join(self._text).split("\n")
        self._text = []
        out: list[str] = []
        block: list[list[str]] = []
        for line in terminated:
            block.append(line.split("\t"))
            if len(block[-1]) == 1:  # Go flushes after a line of one cell: it cannot align anything
                self._format(out, block, 0, len(block), [], len(block))
                block = []
        block.append(tail.split("\t") if tail else [])
        self._format(out, block, 0, len(block), [], len(block) - 1)
        return "".join(out)

    def _format(self, out: list[str], lines: list[list[str]], line0: int, line1: int, widths: list[int],
                terminated: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            self._write_lines(out, lines, line0, this, widths, terminated)
            line0 = this
            width = self.minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, text_width(lines[this][column]) + self.padding)
                this += 1
            self._format(out, lines, line0, this, [*widths, width], terminated)
            line0 = this
        self._write_lines(out, lines, line0, line1, widths, terminated)

    def _write_lines(self, out: list[str], lines: list[list[str]], line0: int, line1: int, widths: list[int],
                     terminated: int) -> None:
        for i in range(line0, line1):
            for j, cell in enumerate(lines[i]):
                out.append(cell)
                if j < len(widths):
                    out.append(self.padchar * (widths[j] - text_width(cell)))
            if i < terminated:
                out.append("\n")


def tabulate(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """docker/cli's table writer: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)."""
    tw = TabWriter(minwidth, 1, padding)
    tw.write(text)
    return tw.flush()
