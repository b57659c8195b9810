"""Display helpers of the report notebooks: markdown, HTML, tables and figures into the notebook's output, and
the base of the section classes (the run folder, its indicator table and settings)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import figures as F
from . import i18n
from .i18n import _
from .tables import read_table
from .texts import section_markdown
from .wording import Settings, unit_text


def _display(obj):
    from IPython.display import display

    display(obj)


def show_markdown(text: str, css_class: str | None = None):
    """Markdown into the notebook; with ``css_class``, rendered here (mistune, as nbconvert does) inside a
    ``<div class="css_class">`` so the report's stylesheet can set it apart (e.g. smaller print)."""
    if css_class:
        import mistune

        show_html(f'<div class="{css_class}">{mistune.html(text)}</div>')
        return
    from IPython.display import Markdown

    _display(Markdown(text))


def show_html(text: str):
    from IPython.display import HTML

    _display(HTML(text))


def show_figure(fig, dpi: int, fmt: str = "svg", title: str | None = None, desc: str | None = None):
    """Display a figure as inline SVG (default) or PNG at ``dpi``, named for assistive technology: the SVG's
    ``<title>``/``<desc>`` (:func:`.figures.svg`) or the PNG's ``alt``; ``title`` defaults to the figure's label
    and ``desc`` to its panels (:func:`.figures.describe`)."""
    if fmt == "svg":   # as HTML: inline in the page (nbconvert would make image/svg+xml an <img> without a name)
        show_html(F.svg(fig, title, desc))
        return
    import base64
    import html

    alt = " ".join(x for x in (title or fig.get_label() or "", desc if desc is not None else F.describe(fig)) if x)
    data = base64.b64encode(F.png(fig, dpi=dpi)).decode()
    show_html(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">')


def show_table(df: pd.DataFrame):
    show_html(df.to_html(index=False, na_rep="–", escape=True, classes="ce-table", border=0))


def localise_meta(meta: pd.DataFrame) -> pd.DataFrame:
    """The indicators table in the report's language: the catalogue's title in it (``title_da`` for Danish),
    and the unit ("%", "per 1,000" / "pr. 1.000") in the locale. Ids, topics and directions stay as they are."""
    meta = meta.copy()
    own = f"title_{i18n.get_language()}"
    if own in meta:
        meta["title"] = meta[own].where(meta[own].notna() & (meta[own] != ""), meta["title"])
    if {"kind", "multiplier"} <= set(meta):
        meta["unit"] = [unit_text(k, m) for k, m in zip(meta["kind"], meta["multiplier"])]
    return meta


def topic_name(topic) -> str:
    """A topic (the catalogue's id, e.g. "antibiotics") as the reader sees it in the report's language."""
    return i18n.translate_value(topic)


def columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its column names translated (``_``): the table's headers in the report's language."""
    return df.rename(columns={c: _(c) for c in df.columns if isinstance(c, str)})


class SectionsBase:
    """What every report reads first: the run folder, the indicator table and the run's settings.

    A section is one method that reads table slices and shows one part; adding one is a method here (or in a
    subclass) and one notebook cell calling it.
    """

    def __init__(self, run_dir, dpi: int = 80):
        self.run = Path(run_dir)
        self.dpi = int(dpi)
        cfg = self.run / "run_config.json"
        self.config = json.loads(cfg.read_text()) if cfg.exists() else {}
        self.settings = Settings.from_config(self.config)
        i18n.set_language(self.settings.language)   # every text of this report from here on
        self.meta = localise_meta(read_table(self.run, "indicators").set_index("indicator_id"))
        self.fmt = (self.config.get("report") or {}).get("figure_format", "svg")

    def section(self, name: str):
        """A section's heading and its introduction for the reader (:mod:`.texts`), in the report's language."""
        show_markdown(section_markdown(name))

    def methods_text(self) -> str:
        return self.settings.methods_text()

    def settings_note(self):
        """One line under a section: the estimator, the interval level, windows, lag and comparison group."""
        show_markdown(f"*{self.settings.note()}*")

    def how_to_cite(self):
        """The methods page, this run's package version, commit and run id (manifest.json), and the references."""
        from .citation import how_to_cite

        show_markdown(how_to_cite(self.run))
