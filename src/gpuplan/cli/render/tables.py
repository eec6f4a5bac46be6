"""Tables that read well at 80 columns and in pipes: ids and numbers whole, prose wrapped.

Every terminal table of gpuplan is a ``FlexTable``. Its columns say what they
hold, and that decides how they behave when space runs out:

* ``id`` (model ids, names, quantizations) and ``num`` (MiB, counts) never wrap
  and are never cut with an ellipsis;
* ``text`` (descriptions, reasons) wraps at word boundaries and absorbs the
  squeeze;
* a column with ``drop`` > 0 is left out when the table would not fit otherwise,
  highest ``drop`` first — a narrow terminal gets fewer columns, not broken ones.

The width is the console's at print time (80 in a pipe, or ``COLUMNS``), so the
same renderable gives 80- and 120-column views; the golden tests render both.
Borders are horizontal rules only: vertical bars cost three characters a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

__all__ = ["Col", "FlexTable"]

Kind = Literal["id", "num", "text"]

TEXT_MIN_WIDTH = 16
"""A wrapped prose column narrower than this reads one word a line."""

GAP = 3
"""Characters between two columns: a padding space, the (blank) rule, a padding space."""


@dataclass(frozen=True)
class Col:
    """One column: its header, what it holds, and when it may be left out."""

    header: str
    kind: Kind = "id"
    drop: int = 0
    """0: always shown; otherwise dropped on narrow consoles, highest first."""
    justify: Literal["left", "right", "center"] | None = None
    style: str | None = None


def _cell_width(cell: RenderableType) -> int:
    if isinstance(cell, Text):
        return cell.cell_len
    if isinstance(cell, str):
        return Text.from_markup(cell).cell_len
    return 0


@dataclass
class FlexTable:
    """Rows of cells under ``Col``s, laid out for the width it is printed at."""

    columns: Sequence[Col]
    title: str | None = None
    caption: str | None = None
    rows: list[tuple[tuple[RenderableType, ...], str | None]] = field(default_factory=list)

    def add_row(self, *cells: RenderableType, style: str | None = None) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append((cells, style))

    def _widest(self, index: int) -> int:
        col = self.columns[index]
        widest = max((_cell_width(cells[index]) for cells, _ in self.rows), default=0)
        return max(widest, Text.from_markup(col.header).cell_len)

    def _least(self, index: int) -> int:
        """The narrowest a column may be: whole ids and numbers, prose at 16."""
        widest = self._widest(index)
        return min(widest, TEXT_MIN_WIDTH) if self.columns[index].kind == "text" else widest

    @staticmethod
    def _gaps(count: int) -> int:
        return GAP * max(count - 1, 0)

    def shown(self, width: int) -> list[int]:
        """Indices of the columns that fit ``width``, dropping droppable ones as needed."""
        keep = list(range(len(self.columns)))
        droppable = sorted(
            (i for i, c in enumerate(self.columns) if c.drop > 0),
            key=lambda i: (-self.columns[i].drop, -i),
        )
        for index in droppable:
            if sum(self._least(i) for i in keep) + self._gaps(len(keep)) <= width:
                break
            keep.remove(index)
        return keep

    def widths(self, width: int) -> dict[int, int]:
        """Each shown column's width: ids and numbers whole, prose shares what is left."""
        keep = self.shown(width)
        sized = {i: self._widest(i) for i in keep if self.columns[i].kind != "text"}
        prose = [i for i in keep if self.columns[i].kind == "text"]
        room = width - sum(sized.values()) - self._gaps(len(keep))
        # Give each prose column its full width if all fit, else share the room,
        # narrowest wants first, never below its least width.
        for position, index in enumerate(sorted(prose, key=self._widest)):
            share = room // (len(prose) - position)
            sized[index] = max(self._least(index), min(self._widest(index), share))
            room -= sized[index]
        return sized

    def build(self, width: int) -> Table:
        """The rich table for a console ``width`` characters wide."""
        keep = self.shown(width)
        sized = self.widths(width)
        table = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            expand=False,
        )
        for index in keep:
            col = self.columns[index]
            table.add_column(
                col.header,
                justify=col.justify or ("right" if col.kind == "num" else "left"),
                style=col.style,
                no_wrap=col.kind != "text",
                overflow="fold",
                width=sized[index],
            )
        for cells, style in self.rows:
            table.add_row(*(cells[i] for i in keep), style=style)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Title and caption are prose: they wrap at the console's width, not the table's.
        if self.title:
            yield Text(self.title, style="bold")
        yield self.build(options.max_width)
        if self.caption:
            yield Text(self.caption, style="dim")
