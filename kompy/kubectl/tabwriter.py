"""Go's ``text/tabwriter``, the part kubectl uses: ``kubectl describe`` writes
``Name:\\tweb`` lines and lets ``tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)`` align them.

The rules, as Go's implementation has them (so kompy's layout is kubectl's to the space):
a tab ends a cell, and the text after a line's last tab is not part of any column; a column
block is a run of consecutive lines that have a cell in that column, padded to its widest
cell plus ``padding``; a line without any tab flushes everything before it, so blocks never
reach across it; ``\\f`` is a newline that flushes too (kubectl's explicit ``Flush()``
before the Events table).
"""

from __future__ import annotations


def tabwrite(text: str, padding: int = 2) -> str:
    out: list[str] = []
    lines: list[list[str]] = []
    for raw in _lines(text):
        line, flush = raw
        cells = line.split("\t")
        lines.append(cells)
        if flush or len(cells) == 1:
            _format(lines, [], 0, len(lines), padding, out)
            lines = []
    _format(lines, [], 0, len(lines), padding, out)
    return "".join(out)


def _lines(text: str) -> list[tuple[str, bool]]:
    """(line, flushes) for each line ended by ``\\n`` or ``\\f``; a last unended line too."""
    out: list[tuple[str, bool]] = []
    start = 0
    for i, ch in enumerate(text):
        if ch in "\n\f":
            out.append((text[start:i], ch == "\f"))
            start = i + 1
    if start < len(text):
        out.append((text[start:], True))
    return out


def _format(lines: list[list[str]], widths: list[int], line0: int, line1: int, padding: int,
            out: list[str]) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        _write(lines, widths, line0, this, out)
        line0 = this
        width = 0
        while this < line1 and column < len(lines[this]) - 1:
            width = max(width, len(lines[this][column]) + padding)
            this += 1
        widths.append(width)
        _format(lines, widths, line0, this, padding, out)
        widths.pop()
        line0 = this
    _write(lines, widths, line0, line1, out)


def _write(lines: list[list[str]], widths: list[int], line0: int, line1: int,
           out: list[str]) -> None:
    for cells in lines[line0:line1]:
        out.append("".join(cell.ljust(widths[j]) if j < len(widths) else cell
                           for j, cell in enumerate(cells)) + "\n")
