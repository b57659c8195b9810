"""Display helpers of the report notebooks: markdown, HTML, tables and figures into the notebook's output, and
the base of the section classes (the run folder, its indicator table and settings)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import figures as F
from .tables import read_table
from .wording import Settings


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


def show_figure(fig, dpi: int, fmt: str = "svg"):
    """Display a figure as inline SVG (default) or PNG at ``dpi``."""
    if fmt == "svg":
        from IPython.display import display

        display({"image/svg+xml": F.svg(fig)}, raw=True)
        return
    from IPython.display import Image

    _display(Image(data=F.png(fig, dpi=dpi), format="png"))


def show_table(df: pd.DataFrame):
    show_html(df.to_html(index=False, na_rep="–", escape=True, classes="ce-table", border=0))


class SectionsBase:
    """What every report reads first: the run folder, the indicator table and the run's settings.

    A section is one method that reads table slices and shows one part; adding one is a method here (or in a
    subclass) and one notebook cell calling it.
    """

    def __init__(self, run_dir, dpi: int = 80):
        self.run = Path(run_dir)
        self.dpi = int(dpi)
        self.meta = read_table(self.run, "indicators").set_index("indicator_id")
        cfg = self.run / "run_config.json"
        self.config = json.loads(cfg.read_text()) if cfg.exists() else {}
        self.settings = Settings.from_config(self.config)
        self.fmt = (self.config.get("report") or {}).get("figure_format", "svg")

    def methods_text(self) -> str:
        return self.settings.methods_text()

    def settings_note(self):
        """One line under a section: the estimator, the interval level, windows, lag and comparison group."""
        show_markdown(f"*{self.settings.note()}*")

    def how_to_cite(self):
        """The methods page, this run's package version, commit and run id (manifest.json), and the references."""
        from .citation import how_to_cite

        show_markdown(how_to_cite(self.run))
