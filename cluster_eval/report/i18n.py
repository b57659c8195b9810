"""The reports' languages: one translation function for every text a reader sees.

Convention (gettext): the message id is the English text; placeholders are ``{name}`` fields formatted after
translation, e.g. ``_("Practices {names} are outside the limits").format(names="C, F")``.

This module is the seam that issue 17 fills with message catalogues; until then ``_`` returns the English
text unchanged.
"""
from __future__ import annotations


def _(message: str) -> str:
    """The text in the report's language (English until the catalogues land)."""
    return message
