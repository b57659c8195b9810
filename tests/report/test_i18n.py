"""The reports' languages: complete Danish catalogue, Babel number and date formats, ``report.language``, and
a Danish run with no English words left (names and codes aside)."""
from __future__ import annotations

import html
import random
import re
from pathlib import Path

import pytest
import yaml

from cluster_eval.errors import ConfigError
from cluster_eval.report import i18n

PACKAGE = Path(i18n.__file__).resolve().parents[1]
FIELDS = re.compile(r"\{(\w+)\}")


def _extracted() -> dict[str, str]:
    """Every message of the package marked ``_()`` or ``N_()`` (Babel's extractor, as babel.cfg)."""
    from babel.messages.extract import extract_from_dir

    found = {}
    for fn, lineno, msg, _c, _ctx in extract_from_dir(str(PACKAGE), method_map=[("**.py", "python")],
                                                     keywords={"_": None, "N_": None}):
        if isinstance(msg, str) and msg:
            found.setdefault(msg, f"{fn}:{lineno}")
    return found


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    i18n.set_language("en")


def test_every_message_has_a_danish_translation_with_the_same_fields():
    found = _extracted()
    assert len(found) > 150 and "improved" in found and "Key messages" in found   # the extractor sees them
    catalog = i18n.read_catalog("da")
    problems = []
    for msgid, where in found.items():
        m = catalog.get(msgid)
        if m is None or not m.string:
            problems.append(f"missing: {msgid[:70]!r} ({where})")
        elif m.fuzzy:
            problems.append(f"fuzzy: {msgid[:70]!r} ({where})")
        elif set(FIELDS.findall(msgid)) != set(FIELDS.findall(m.string)):
            problems.append(f"fields differ: {msgid[:70]!r} ({where})")
    assert not problems, "\n".join(problems)


def test_no_message_hides_where_the_extractor_cannot_see_it():
    """A ``_("...")`` inside an f-string is invisible to Babel's extractor on Python 3.11: every one-literal call
    in the source must be among the extracted messages."""
    found = _extracted()
    literal = re.compile(r"""\b_\(\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*\)""")
    hidden = [(p.name, a or b) for p in PACKAGE.rglob("*.py") if p.name != "i18n.py"   # i18n.py: examples only
              for a, b in literal.findall(p.read_text("utf-8"))
              if (a or b) and (a or b) not in found]
    assert not hidden, hidden


def test_registered_estimators_and_spc_texts_are_translated():
    from cluster_eval.impact import ESTIMATORS
    from cluster_eval.spc.relative import FALSE_SIGNAL_RATE, SIGNAL_MEANING

    table = i18n.translations("da")
    for est in ESTIMATORS.values():
        assert est.label in table and est.methods in table, est.name
    # the measured rate in Danish notation: decimal commas, a space before the per cent sign
    assert SIGNAL_MEANING in table and table[FALSE_SIGNAL_RATE] == FALSE_SIGNAL_RATE.replace(".", ",").replace("%", " %")


def test_translation_and_fallback():
    with i18n.language("da"):
        assert i18n._("improved") == "forbedret"
        assert i18n._("worsened") == "forværret"
        assert i18n._("no change detected") == "ingen ændring påvist"
        assert i18n._("an English text with no entry") == "an English text with no entry"
    assert i18n.get_language() == "en" and i18n._("improved") == "improved"


def test_values_written_by_the_analyse_stage_are_translated_by_pattern():
    with i18n.language("da"):
        assert i18n.translate_value("fewer than 3 practices with data (2)") == "færre end 3 praksis med data (2)"
        assert i18n.translate_value("above 99.8% limit") == "over 99,8 %-grænsen"
        assert i18n.translate_value("Practice B") == "Praksis B"
        assert i18n.translate_value("random effects (REML)") == "tilfældige effekter (REML)"
        assert i18n.translate_value("Klynge Odense") == "Klynge Odense"     # a name: unchanged
    assert i18n.translate_value("above 99.8% limit") == "above 99.8% limit"


def test_danish_numbers_and_dates():
    with i18n.language("da"):
        assert i18n.decimal(1.0749, 2) == "1,07"
        assert i18n.integer(12345) == "12.345"
        assert i18n.decimal(-1234.56, 1) == "\u22121.234,6"
        assert i18n.date("2020-04-01") == "1. april 2020"
        assert i18n.date("2020-04-01", "month") == "april 2020"
        assert i18n.percent(0.95) == "95\u00a0%" and i18n.percent(0.975) == "97,5\u00a0%"
        assert i18n.per_cent(45.4) == "45\u00a0%"


def test_english_numbers_and_dates_as_python_formats_them():
    assert i18n.date("2020-04-01") == "01 April 2020" and i18n.date("2020-04-01", "month_short") == "Apr 2020"
    assert i18n.percent(0.95) == "95%" and i18n.percent(0.975) == "97.5%"
    rng = random.Random(7)
    for _ in range(2000):
        x = rng.uniform(-1e5, 1e5) * rng.choice([1, 1e-3, 1e-6])
        d = rng.choice([0, 1, 2, 3])
        assert i18n.decimal(x, d) == f"{x:,.{d}f}".replace("-", "\u2212"), (x, d)
    for x in (2.675, 0.125, 1.005):            # ties on the float's exact value, rounded as Python does
        assert i18n.decimal(x, 2) == f"{x:.2f}"


def test_wording_follows_the_language():
    from cluster_eval.report.wording import Settings, interval, num, verdict

    row = {"status": "estimated", "lower": 0.4, "upper": 2.1, "mde": 0.8, "se": 0.3}
    nochange = {**row, "lower": -0.4}
    assert verdict(row, "higher") == "improved" and interval(1.07, -0.5, 12345.6) == "1.07 (−0.50 to 12,345.6)"
    with i18n.language("da"):
        assert verdict(row, "higher") == "forbedret" and verdict(row, "lower") == "forværret"
        assert verdict(nochange, "higher", "procentpoint") == \
            "ingen ændring påvist (denne klynge kunne påvise ændringer på omkring 0,80 procentpoint eller mere)"
        assert num(1.0749) == "1,07" and interval(1.07, -0.5, 12345.6) == "1,07 (−0,50 til 12.345,6)"
        s = Settings(confidence=0.975, language="da")
        assert s.ci == "97,5\u00a0%-sikkerhedsinterval" and s.fill("{confidence_pct} %") == "97,5 %"


def test_report_language_is_validated(small_data, tmp_path, params_for):
    from cluster_eval.report.config import load_params

    assert load_params(params_for(small_data, tmp_path / "o")).report["language"] == "en"
    assert load_params(params_for(small_data, tmp_path / "o", report={"language": "da"})).report["language"] == "da"
    with pytest.raises(ConfigError, match=r"report.language' must be one of en, da; got 'dan'; did you mean 'da'"):
        load_params(params_for(small_data, tmp_path / "o", report={"language": "dan"}))


def test_demo_params_are_danish_and_manchester_english():
    from cluster_eval.report.demo_run import DEMO_PARAMS

    root = Path(__file__).resolve().parents[2]
    assert yaml.safe_load(DEMO_PARAMS.read_text())["report"]["language"] == "da"
    assert yaml.safe_load((root / "params/examples/manchester.yaml").read_text())["report"]["language"] == "en"


# --- a Danish run: no English words left -------------------------------------------------------------------

#: Words that are English and not Danish (Danish shares "interval", "signal", "start", "data", "region", ...).
ENGLISH = {
    "the", "and", "of", "with", "than", "which", "what", "where", "when", "each", "every", "this", "that", "these",
    "were", "was", "not", "from", "between", "among", "too", "few", "practice", "practices", "cluster",
    "clusters", "effect", "effects", "improved", "worsened", "increased", "decreased", "worse", "better",
    "detected", "change", "expected", "month", "months", "year", "years", "indicator", "indicators", "topic",
    "topics", "pooled", "shrunk", "estimate", "estimates", "estimated", "standing", "limits", "limit", "value",
    "values", "difference", "comparison", "overview", "report", "reports", "methods", "caveats", "cite",
    "crude", "standardised", "funnel", "percentage", "points", "prediction", "reading", "taken", "before",
    "after", "above", "below", "within", "unit", "patients", "listed", "meetings", "first", "profile", "key",
    "messages", "trends", "heterogeneity", "coefficient", "mean", "error", "true", "truth", "minimum",
    "detectable", "nothing", "show", "here", "no",
}


def _reader_text(page: str, names: list[str]) -> str:
    """What a reader sees, the figures' text and images' alternative text included: tags, scripts, styles and
    SVG metadata removed, and references, names, codes, file names and identifiers removed."""
    import base64

    from cluster_eval.report.citation import REFERENCES

    figures = [base64.b64decode(b).decode("utf-8")                  # figures embedded as data URIs
               for b in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", page)]
    alts = re.findall(r'\balt="([^"]*)"', page)                      # what a screen reader says for an image
    t = " ".join([page, *figures, *alts])
    t = re.sub(r"<(script|style|metadata)\b.*?</\1>", " ", t, flags=re.S | re.I)
    t = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", " ", t)
    t = html.unescape(re.sub(r"<[^>]+>", " ", t))
    for ref in REFERENCES:
        t = t.replace(ref, " ")
    for name in sorted(names, key=len, reverse=True):
        t = t.replace(name, " ")
    t = re.sub(r"\S*[/_`@]\S*", " ", t)                      # paths, ids, code spans, e-mail
    return t


@pytest.fixture(scope="module")
def danish_run(small_data, tmp_path_factory, params_for):
    """An English params file (the default) run with ``cluster-eval run --language da``: the flag reaches
    every page."""
    from cluster_eval.cli import main

    out = tmp_path_factory.mktemp("runs") / "danish"
    params = out.parent / "danish.yaml"
    cfg = params_for(small_data, out, impact={"base": "weighted"})     # the demo's base, in Danish too
    assert cfg.get("report", {}).get("language", "en") == "en"
    params.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    status = main(["run", str(params), "--language", "da", "--quiet"])
    return out, status


def test_language_flag_is_checked(small_data, tmp_path, params_for, capsys):
    from cluster_eval.cli import main
    from cluster_eval.report import run

    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump(params_for(small_data, tmp_path / "o")), encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["run", str(params), "--language", "dk"])
    assert exc.value.code == 2 and "invalid choice: 'dk'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"language must be one of en, da; got 'dan'; did you mean 'da'"):
        run(str(params), language="dan")
    assert not (tmp_path / "o").exists()


def test_danish_run_has_no_english_words(danish_run):
    import pandas as pd

    out, status = danish_run
    assert status == 0
    tables = out / "tables"
    names = [*pd.read_parquet(tables / "clusters.parquet")["name"].astype(str),
             *pd.read_parquet(tables / "clusters.parquet")["region"].astype(str),
             *pd.read_parquet(tables / "indicators.parquet")["indicator_id"].astype(str),
             "Callaway & Sant'Anna", "Spiegelhalter", "DerSimonian-Laird", "Benjamini & Hochberg", "Efron & Morris",
             "Conley & Taber", "Ferman & Pinto", "Welch-Satterthwaite", "Students t", "Bayes", "cluster_eval", "test"]
    pages = [out / "index.html", out / "national" / "overview.html", *sorted((out / "clusters").glob("*.html"))]
    assert len(pages) >= 3
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert '<html lang="da">' in text, page.name
        words = re.findall(r"[A-Za-z]+", _reader_text(text, names))
        left = sorted({w for w in words if w.lower() in ENGLISH})
        assert not left, f"{page.name}: English words {left}"


def test_every_english_value_of_the_tables_has_a_danish_translation(danish_run):
    """Statuses, reasons, funnel positions, standings, topics, pooling methods and practice labels are written in
    English by the analyse stage; each value a report can show has a Danish translation (vocabulary.py)."""
    import pandas as pd

    out, _ = danish_run
    t = out / "tables"
    shown = {"effects": ["status", "topic"], "funnel": ["position", "standing", "standing_95", "practice"],
             "standing": ["standing"], "spc": ["reason"], "pooled": ["method"], "variation": ["status"]}
    table_da, patterns = i18n.translations("da"), i18n._patterns("da")
    missing, seen = set(), 0
    for table, cols in shown.items():
        df = pd.read_parquet(t / f"{table}.parquet")
        for col in cols:
            for v in set(df[col].dropna().astype(str)) - {""}:
                seen += 1
                if v not in table_da and not any(rx.match(v) for rx, _msg in patterns):
                    missing.add((table, col, v))
    assert seen > 20 and not missing, sorted(missing)


def test_danish_run_numbers_and_verdicts(danish_run):
    out, _ = danish_run
    overview = (out / "national" / "overview.html").read_text(encoding="utf-8")
    assert "Landsoversigt" in overview and "sikkerhedsinterval" in overview
    assert re.search(r"\d,\d\d \(", overview)                          # decimal commas in the intervals
    assert not re.search(r"\d\.\d\d \(", overview)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "rapporter i orden" in index and re.search(r"\d+ (forbedret|ingen ændring påvist|forværret)", index)


def test_english_run_keeps_html_lang_en(shared_run):
    out, _ = shared_run
    for page in (out / "index.html", out / "national" / "overview.html"):
        assert '<html lang="en">' in page.read_text(encoding="utf-8")
