"""The reports' languages: one translation function for every text a reader sees, and numbers and dates in
the report's locale.

Convention (gettext): the message id is the English text; placeholders are ``{name}`` fields formatted after
translation, e.g. ``_("Practices {names} are outside the limits").format(names="C, F")``.

The catalogues are gettext ``.po`` files, ``locale/<language>/LC_MESSAGES/cluster_eval.po`` beside this module,
read at run time with Babel (:func:`babel.messages.pofile.read_po`, once per process): there is no compiled
``.mo`` that could be stale. English is the message ids themselves (no catalogue). A missing or fuzzy entry
falls back to the English text; ``tests/report/test_i18n.py`` fails on any such entry for a ``_()`` of the
package. docs/architecture.md ("Where a text change goes") says how to add a message or a language.

The language is per process: :class:`cluster_eval.report.display.SectionsBase` sets it from the run's settings
(``report.language`` in ``run_config.json``) when a report notebook builds its report object; the runner sets
it around the index and the job titles (:func:`language`).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "da")
DEFAULT_LANGUAGE = "en"
DOMAIN = "cluster_eval"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: Babel locale of each language (number and date formats).
LOCALES = {"en": "en", "da": "da_DK"}
#: Date patterns (CLDR) per style; the English ones reproduce the reports' former ``strftime`` output.
DATE_PATTERNS = {
    "en": {"day": "dd MMMM y", "date": "d MMMM y", "month": "MMMM y", "month_short": "MMM y", "ym": "y-MM"},
    "da": {"day": "d. MMMM y", "date": "d. MMMM y", "month": "MMMM y", "month_short": "MMM y", "ym": "y-MM"},
}
MINUS = "\u2212"

_state = {"language": DEFAULT_LANGUAGE}


def check_language(lang) -> str:
    """``lang`` if it is a supported language, else :class:`cluster_eval.errors.ConfigError` with a hint."""
    if lang not in LANGUAGES:
        from ..errors import ConfigError
        from ..validation import hint

        raise ConfigError(f"report language must be one of {', '.join(LANGUAGES)}; got {lang!r}"
                          f"{hint(str(lang), LANGUAGES)}")
    return lang


def set_language(lang: str) -> None:
    """Make ``lang`` ("en" or "da") the language of every following text of this process."""
    _state["language"] = check_language(lang)


def get_language() -> str:
    """The current language ("en" or "da")."""
    return _state["language"]


@contextmanager
def language(lang: str):
    """Within the block, texts are in ``lang``; the former language afterwards."""
    before = _state["language"]
    set_language(lang)
    try:
        yield
    finally:
        _state["language"] = before


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def read_catalog(lang: str):
    """The Babel :class:`~babel.messages.catalog.Catalog` of ``lang`` (read once per process)."""
    from babel.messages.pofile import read_po

    with open(po_path(lang), "rb") as f:
        return read_po(f, locale=LOCALES[lang], domain=DOMAIN)


@cache
def translations(lang: str) -> dict[str, str]:
    """msgid -> msgstr of ``lang``: translated, non-fuzzy entries only (English: empty, the ids are the text)."""
    if lang == "en":
        return {}
    out = {}
    for m in read_catalog(lang):
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy:
            out[m.id] = m.string
    return out


def _(message: str) -> str:
    """The text in the current report language (the English ``message`` itself when untranslated)."""
    if _state["language"] == "en":
        return message
    return translations(_state["language"]).get(message, message)


def N_(message: str) -> str:
    """Marks ``message`` for extraction without translating it (a value translated later with :func:`_`)."""
    return message


@cache
def _patterns(lang: str) -> list[tuple[re.Pattern, str]]:
    """The value messages (:data:`cluster_eval.report.vocabulary.VALUES`) with ``{name}`` fields as regular
    expressions (longest first)."""
    from .vocabulary import VALUES

    out = []
    table = translations(lang)
    for msgid in VALUES:
        msgstr = table.get(msgid)
        if "{" not in msgid or not msgstr:
            continue
        parts = re.split(r"\{(\w+)\}", msgid)
        rx, seen = "", set()
        for i, part in enumerate(parts):
            if i % 2 == 0:
                rx += re.escape(part)
            elif part in seen:
                rx += f"(?P={part})"
            else:
                seen.add(part)
                rx += f"(?P<{part}>.+?)"
        out.append((re.compile(rx + r"\Z", re.DOTALL), msgstr))
    out.sort(key=lambda p: -len(p[0].pattern))
    return out


def translate_value(text) -> str:
    """A value written in English by the analyse stage (a status, a reason, a position) in the current
    language: the catalogue's entry for the whole text, or for a value message with ``{fields}``
    (:mod:`.vocabulary`) that matches it (e.g. "fewer than {n} months before the start"), its fields translated
    in turn; the text unchanged when nothing matches."""
    text = "" if text is None else str(text)
    lang = _state["language"]
    if lang == "en" or not text:
        return text
    table = translations(lang)
    if text in table:
        return table[text]
    for rx, msgstr in _patterns(lang):
        m = rx.match(text)
        if m:
            return msgstr.format(**{k: translate_value(v) for k, v in m.groupdict().items()})
    return text


# --- numbers and dates in the report's locale (Babel) ------------------------------------------------------

def _locale() -> str:
    return LOCALES[_state["language"]]


def _finite(x) -> bool:
    try:
        return x is not None and Decimal(float(x)).is_finite()
    except (TypeError, ValueError):
        return False


def decimal(x, digits: int) -> str:
    """``x`` with ``digits`` decimals and the locale's separators ("1,234.57" / "1.234,57"), a real minus
    sign; "–" when missing. Rounded half-even on the float's exact value (as Python's own formatting)."""
    from babel.numbers import format_decimal

    if not _finite(x):
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(Decimal(float(x)), format=pattern, locale=_locale()).replace("-", MINUS)


def integer(x) -> str:
    """A whole number with the locale's thousands separator: "12,345" / "12.345"."""
    return decimal(x, 0)


def percent(fraction, max_digits: int = 3) -> str:
    """A fraction as a percentage without trailing zeros: 0.95 -> "95%" / "95 %"; 0.975 -> "97.5%" / "97,5 %"."""
    from babel import Locale
    from babel.numbers import format_percent

    if not _finite(fraction):
        return "–"
    std = Locale.parse(_locale()).percent_formats[None].pattern   # "#,##0%" (en), "#,##0 %" (da)
    end = std.rfind("0") + 1
    pattern = std[:end] + ("." + "#" * max_digits if max_digits > 0 else "") + std[end:]
    return format_percent(Decimal(repr(float(fraction))), format=pattern, locale=_locale()).replace("-", MINUS)


def per_cent(value, digits: int = 0) -> str:
    """A value already in per cent with ``digits`` decimals and the locale's sign: "45%" / "45 %"."""
    if not _finite(value):
        return "–"
    return decimal(value, digits) + ("%" if _state["language"] == "en" else "\u00a0%")


def date(value, style: str = "day") -> str:
    """A date in the locale: style "day" ("01 April 2020" / "1. april 2020"), "date" ("1 April 2020" /
    "1. april 2020"), "month" ("April 2020" /
    "april 2020"), "month_short" ("Apr 2020" / "apr. 2020") or "ym" ("2020-04")."""
    import pandas as pd
    from babel.dates import format_date

    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return "–"
    return format_date(ts.date(), DATE_PATTERNS[_state["language"]][style], locale=_locale())
