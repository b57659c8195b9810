"""The one look of every figure of the package: seaborn's theme with its colour-blind-safe palette.

Every figure function (``cluster_eval.plots`` and the reports' ``cluster_eval.report.figures``) is decorated
with :func:`styled`: it draws inside :func:`themed`, a ``matplotlib.rc_context`` holding seaborn's theme
(``sns.set_theme(style="ticks", context="paper", palette="colorblind")``, computed once), so a figure looks
the same in a report, a notebook or a script, and the caller's own matplotlib settings are left alone.

The named colours below are the palette's (seaborn's ``colorblind``, after Okabe & Ito): the highlighted unit
in vermillion, its region in blue, comparison bands in sky blue, the others in grey; blue and vermillion stay
distinct in the three common colour-vision deficiencies.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

#: seaborn's "colorblind" palette (``seaborn.color_palette("colorblind").as_hex()``; tests/test_style.py checks it)
PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133",
           "#56b4e9")
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, BROWN, PINK, GREY, YELLOW, SKY = PALETTE
#: roles of colours in the reports' figures
HIGHLIGHT = VERMILLION     # the cluster (unit) a figure is about
REGION = BLUE
BAND = SKY                 # pooled effects, comparison bands
OTHER = GREY               # every other unit
NATION = "#4d4d4d"         # the national reference line: dark grey, no hue
THEME = {"style": "ticks", "context": "paper", "palette": "colorblind"}

_RC: dict | None = None


def rc() -> dict:
    """The rcParams of the theme: what ``seaborn.set_theme(**THEME)`` would set (computed once)."""
    global _RC
    if _RC is None:
        import matplotlib
        import seaborn as sns

        with matplotlib.rc_context():   # the theme's changes to matplotlib's defaults, whatever the caller set
            matplotlib.rcdefaults()
            before = dict(matplotlib.rcParams)
            sns.set_theme(**THEME)
            _RC = {k: v for k, v in matplotlib.rcParams.items()
                   if k not in ("backend", "backend_fallback") and before.get(k) != v}
    return dict(_RC)


@contextmanager
def themed():
    """Draw inside the theme (the caller's rcParams are restored afterwards)."""
    import matplotlib

    with matplotlib.rc_context(rc()):
        yield


def styled(func):
    """Decorator of a figure function: it draws inside :func:`themed`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with themed():
            return func(*args, **kwargs)

    return wrapper


def apply() -> None:
    """Make the theme the process's default (for a notebook or script that draws with pyplot itself)."""
    import seaborn as sns

    sns.set_theme(**THEME)
