"""Go's encoding/json.Indent: re-indent JSON text as it is, strings and numbers untouched (so
`docker inspect` shows exactly what the daemon sent, laid out with four spaces)."""

from __future__ import annotations


def indent(raw: str, prefix: str = "", step: str = "    ") -> str:
    out: list[str] = []
    depth = 0
    i, n = 0, len(raw)
    pending_open = False  # just wrote `{` or `[`: the newline waits to see whether it is empty
    while i < n:
        c = raw[i]
        if c in " \t\r\n":
            i += 1
            continue
        if pending_open and c not in "]}":
            out.append("\n" + prefix + step * depth)
        pending_open = False
        if c == '"':
            j = i + 1
            while raw[j] != '"':
                j += 2 if raw[j] == "\\" else 1
            out.append(raw[i:j + 1])
            i = j + 1
            continue
        if c in "{[":
            depth += 1
            out.append(c)
            pending_open = True
        elif c in "}]":
            depth -= 1
            if out and out[-1] not in "{[":
                out.append("\n" + prefix + step * depth)
            out.append(c)
        elif c == ",":
            out.append(",\n" + prefix + step * depth)
        elif c == ":":
            out.append(": ")
        else:
            j = i
            while j < n and raw[j] not in ' \t\r\n,:]}"':
                j += 1
            out.append(raw[i:j])
            i = j
            continue
        i += 1
    return "".join(out)
