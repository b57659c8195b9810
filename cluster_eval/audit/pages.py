"""Auditing HTML pages and the HTML outputs of executed notebooks (stdlib html.parser, no new dependency)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from .rules import (
    RULE_RECOVERABLE,
    RULE_SMALL,
    THRESHOLD,
    Finding,
    _is_total_label,
    _small,
    is_count_name,
    parse_number,
)


class _Tables(HTMLParser):
    """Collects tables (rows of cells with tag, attributes and text), headings, and data-count values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.stack, self.heading, self.marked = [], [], "", []
        self._cell = None
        self._skip = 0
        self._head_text = None
        self._in_thead = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if "data-count" in a and tag not in ("td", "th"):
            self.marked.append((tag, a.get("data-count")))
        if tag in ("h1", "h2", "h3", "h4"):
            self._head_text = []
        elif tag == "table":
            self.stack.append({"rows": [], "heading": self.heading, "thead": set()})
        elif tag == "thead" and self.stack:
            self._in_thead = True
        elif tag == "tr" and self.stack:
            t = self.stack[-1]
            t["rows"].append([])
            if self._in_thead:
                t["thead"].add(len(t["rows"]) - 1)
        elif tag in ("td", "th") and self.stack and self.stack[-1]["rows"]:
            self._cell = {"tag": tag, "attrs": a, "text": []}
            self.stack[-1]["rows"][-1].append(self._cell)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("h1", "h2", "h3", "h4") and self._head_text is not None:
            self.heading = " ".join("".join(self._head_text).split())
            self._head_text = None
        elif tag == "thead":
            self._in_thead = False
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "table" and self.stack:
            self.tables.append(self.stack.pop())

    def handle_data(self, data):
        if self._skip:
            return
        if self._cell is not None:
            self._cell["text"].append(data)
        if self._head_text is not None:
            self._head_text.append(data)


def _grid(rows):
    """Expand colspan/rowspan into a rectangular grid of cells (a spanned cell repeats)."""
    grid, pending = [], {}
    for r, row in enumerate(rows):
        out, col, it = [], 0, iter(row)
        while True:
            while (r, col) in pending:
                out.append(pending.pop((r, col)))
                col += 1
            cell = next(it, None)
            if cell is None:
                break
            cell["text"] = " ".join("".join(cell["text"]).split()) if isinstance(cell["text"], list) \
                else cell["text"]
            span_c = int(re.sub(r"\D", "", str(cell["attrs"].get("colspan", "1"))) or 1)
            span_r = int(re.sub(r"\D", "", str(cell["attrs"].get("rowspan", "1"))) or 1)
            for k in range(span_c):
                out.append(cell if k == 0 else dict(cell, spanned=True))
                for rr in range(1, span_r):
                    pending[(r + rr, col + k)] = dict(cell, spanned=True)
            col += span_c
        grid.append(out)
    return grid


def _marked(cell) -> bool:
    a = cell["attrs"]
    return "data-count" in a or "count" in str(a.get("class", "")).split()


def audit_html(text: str, file: str, threshold: int = THRESHOLD, where: str = "") -> list[Finding]:
    """Findings in one HTML document: every table, and every element with a ``data-count`` attribute."""
    p = _Tables()
    p.feed(text)
    p.close()
    found = []
    for tag, val in p.marked:
        v = parse_number(val)
        if _small(v, threshold):
            found.append(Finding(file, f"{where}<{tag} data-count>", val, RULE_SMALL))
    for k, table in enumerate(p.tables, start=1):
        found += _audit_html_table(table, k, file, threshold, where)
    return found


def _audit_html_table(table, k, file, threshold, where) -> list[Finding]:
    grid = _grid(table["rows"])
    if not grid:
        return []
    ncol = max(len(r) for r in grid)
    head = set(table["thead"])
    if not head:
        for i, row in enumerate(grid):
            if row and all(c["tag"] == "th" for c in row):
                head.add(i)
            else:
                break
    names = [[] for _ in range(ncol)]
    col_marked = [False] * ncol
    for i in sorted(head):
        for j, c in enumerate(grid[i]):
            if c["text"]:
                names[j].append(c["text"])
            col_marked[j] |= _marked(c)
    name = [" / ".join(n) for n in names]
    count_col = [col_marked[j] or any(is_count_name(n) for n in names[j]) for j in range(ncol)]
    label = f"table {k}" + (f" ({table['heading']!r})" if table["heading"] else "")
    body = [i for i in range(len(grid)) if i not in head]
    found, shown = [], {}
    for i in body:
        row = grid[i]
        rlabel = next((c["text"] for c in row if c["tag"] == "th" and c["text"]), row[0]["text"] if row else "")
        # a row-oriented table (label | value): the row's label may name a count
        count_row = bool(row) and is_count_name(row[0]["text"]) and not _is_total_label(row[0]["text"])
        for j, c in enumerate(row):
            if c.get("spanned"):
                continue
            is_count = _marked(c) or ((count_col[j] or (count_row and j > 0)) and c["tag"] == "td")
            if not is_count:
                continue
            v = parse_number(c["text"])
            loc = f"{where}{label}, row {i + 1} ({rlabel!r}), column {name[j] or j + 1!r}"
            shown[(i, j)] = v
            if _small(v, threshold) and v == round(v):  # a shown fraction is a statistic, not a count
                found.append(Finding(file, loc, c["text"], RULE_SMALL))
            dv = parse_number(c["attrs"].get("data-count", "")) if "data-count" in c["attrs"] else None
            if _small(dv, threshold) and not _small(v, threshold):
                found.append(Finding(file, loc + " data-count", c["attrs"]["data-count"], RULE_SMALL))
    # recoverable from a total row / total column
    tot_rows = [i for i in body if grid[i] and _is_total_label(grid[i][0]["text"])]
    tot_cols = [j for j in range(ncol) if any(_is_total_label(n) for n in names[j])]
    for t in tot_rows[:1]:
        for j in range(ncol):
            cells = [(i, j) for i in body if i != t and (i, j) in shown]
            if (t, j) not in shown or not cells:
                continue
            found += _line(cells, (t, j), shown, grid, file, where, label, name)
    for t in tot_cols[:1]:
        for i in body:
            cells = [(i, j) for j in range(ncol) if j != t and (i, j) in shown]
            if (i, t) not in shown or not cells:
                continue
            found += _line(cells, (i, t), shown, grid, file, where, label, name)
    return found


def _line(parts, total, shown, grid, file, where, label, name) -> list[Finding]:
    hidden = [c for c in parts + [total] if shown[c] is None and grid[c[0]][c[1]]["text"] != ""]
    if len(hidden) != 1:
        return []
    i, j = hidden[0]
    loc = f"{where}{label}, row {i + 1} ({grid[i][0]['text']!r}), column {name[j] or j + 1!r}"
    return [Finding(file, loc, grid[i][j]["text"], RULE_RECOVERABLE)]


def audit_notebook(nb: dict, file: str, threshold: int = THRESHOLD) -> list[Finding]:
    """Findings in the HTML outputs of an executed notebook."""
    found = []
    for c, cell in enumerate(nb.get("cells", []), start=1):
        for o, out in enumerate(cell.get("outputs", []) or [], start=1):
            html = (out.get("data") or {}).get("text/html")
            if html:
                text = "".join(html) if isinstance(html, list) else str(html)
                found += audit_html(text, file, threshold, where=f"cell {c}, output {o}: ")
    return found
