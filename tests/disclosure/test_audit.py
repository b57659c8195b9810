"""The output audit: passes a clean run folder, finds every planted violation with file and location.

The fake run folder imitates what the batch job writes (index.html, manifest.json, national/overview.html,
clusters/<id>.html, tables/*.parquet, a CSV, an executed notebook), built from a random practice-level
measures table passed through ce.disclosure. Each planted violation is one hand-made edit of one file;
the test states the exact Finding it must produce.
"""
from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from cluster_eval.audit import (
    RULE_COMPLEMENT,
    RULE_DERIVED,
    RULE_RECOVERABLE,
    RULE_SMALL,
    RULE_UNREADABLE,
    Finding,
    audit_dir,
    audit_html,
    is_count_name,
    main_audit,
    parse_number,
)
from cluster_eval.disclosure import SUPPRESSED_TEXT, suppress_measures

# --- building blocks ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("numerator", True), ("denominator", True), ("n", True), ("n_patients", True), ("persons", True),
    ("Listed patients", True), ("event_count", True), ("Antal personer", True), ("count", True),
    ("patients_per_1000", False), ("n_practices", False), ("share (%)", False), ("value", False),
    ("lower", False), ("n_useful", False), ("longest_run", False), ("practices", False),
    ("n_treated", False), ("listed_year", False), ("period", False), ("rate", False),
])
def test_count_names(name, expected):
    assert is_count_name(name) is expected


@pytest.mark.parametrize("text, value", [
    ("12", 12.0), ("1,234", 1234.0), ("1.234", 1234.0), ("3,5", 3.5), ("2.5", 2.5), ("12 (4.1%)", 12.0),
    ("4.1%", None), (SUPPRESSED_TEXT, None), ("–", None), ("", None), ("−3", -3.0), ("1 234", 1234.0),
])
def test_parse_number(text, value):
    assert parse_number(text) == value


# --- a fake run folder -------------------------------------------------------------------------

def measures(seed=3):
    rng = np.random.default_rng(seed)
    n = 24
    df = pd.DataFrame({
        "indicator_id": "copd_spirometry", "period": pd.Timestamp("2024-01-01"),
        "cluster_id": np.repeat(["K01", "K02", "K03", None], 6),
        "practice_id": [f"P{i:03d}" for i in range(n)],
        "denominator": rng.choice([3, 12, 40, 85, 150], size=n)})
    df["numerator"] = rng.binomial(df["denominator"], 0.6)
    df.loc[[0, 7], "numerator"] = [2, 1]  # small numerators to suppress
    df["value"] = df["numerator"] / df["denominator"]
    return df


def html_page(title, tables: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{h}</h2>\n{t}\n" for h, t in tables)
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


def counts_html(df, count_cols) -> str:
    """How a report shows a table: hidden counts as SUPPRESSED_TEXT, count cells marked with data-count."""
    head = "".join(f"<th>{c}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            if c in count_cols:
                cells.append(f'<td class="count">{SUPPRESSED_TEXT}</td>' if pd.isna(v)
                             else f'<td class="count" data-count="{int(v)}">{int(v):,}</td>')
            elif isinstance(v, float):
                cells.append("<td>–</td>" if pd.isna(v) else f"<td>{v:.1%}</td>")
            else:
                cells.append(f"<td>{v}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


@pytest.fixture
def run_dir(tmp_path):
    """A clean run folder: every count went through ce.disclosure."""
    root = tmp_path / "run"
    (root / "tables").mkdir(parents=True)
    (root / "clusters").mkdir()
    (root / "national").mkdir()
    (root / "notebooks").mkdir()
    (root / "logs").mkdir()
    m = suppress_measures(measures(), totals=True)
    practices = m[m.practice_id != "Total"]
    totals = m[m.practice_id == "Total"].drop(columns=["practice_id", "value"])
    practices.to_parquet(root / "tables" / "funnel.parquet", index=False)
    totals.to_parquet(root / "tables" / "cluster_totals.parquet", index=False)
    totals.to_csv(root / "tables" / "cluster_totals.csv", index=False)
    k1 = practices[practices.cluster_id == "K01"][["practice_id", "numerator", "denominator", "value"]]
    profile = ("<table><thead><tr><th></th><th>value</th></tr></thead><tbody>"
               "<tr><td>Cluster</td><td>K01</td></tr><tr><td>Practices</td><td>6</td></tr>"
               "<tr><td>Listed patients</td><td>41,250</td></tr></tbody></table>")
    (root / "clusters" / "K01.html").write_text(html_page("K01", [
        ("Profile", profile), ("Practices", counts_html(k1, ["numerator", "denominator"]))]))
    tot = totals.set_index("cluster_id", drop=False)[["cluster_id", "numerator", "denominator"]]
    (root / "national" / "overview.html").write_text(html_page("Overview", [
        ("Clusters", counts_html(tot.fillna({"cluster_id": "no cluster"}), ["numerator", "denominator"]))]))
    (root / "index.html").write_text(html_page("Index", [(
        "Reports", "<table><tr><th>report</th><th>status</th><th>practices</th></tr>"
                   "<tr><td>K01</td><td>ok</td><td>3</td></tr></table>")]))
    manifest = {"run_id": "2024Q1", "params": {"disclosure": {"threshold": 4, "rounding": None}, "jobs": 2},
                "reports": [{"cluster_id": "K01", "status": "ok", "duration": 3.2, "n_practices": 3}],
                "n_reports": 1}
    (root / "manifest.json").write_text(json.dumps(manifest))
    nb = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "display_data", "data": {"text/html": counts_html(k1, ["numerator", "denominator"]),
                                                 "text/plain": "..."}}]}], "metadata": {}, "nbformat": 4}
    (root / "notebooks" / "K01.ipynb").write_text(json.dumps(nb))
    (root / "logs" / "run.log").write_text("run started\n")
    return root


def test_clean_run_passes(run_dir):
    assert audit_dir(run_dir) == []
    out = io.StringIO()
    assert main_audit(run_dir, out=out) == 0
    assert out.getvalue() == ("audit: clean (8 files checked, 1 other files not read; counts 1-4 are not "
                              "allowed)\n")


def test_fixture_really_holds_suppressed_cells(run_dir):
    # guard against a vacuous clean pass: the clean folder has hidden cells, small raw counts, published
    # totals, and the hidden cells show as SUPPRESSED_TEXT in the HTML
    funnel = pd.read_parquet(run_dir / "tables" / "funnel.parquet")
    assert funnel["numerator"].isna().sum() >= 4
    assert SUPPRESSED_TEXT in (run_dir / "clusters" / "K01.html").read_text()
    assert pd.read_parquet(run_dir / "tables" / "cluster_totals.parquet")["numerator"].notna().all()


def edit_parquet(path, fn):
    df = pd.read_parquet(path)
    fn(df)
    df.to_parquet(path, index=False)


def edit_text(path, old, new, count=1):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def plant_unsuppressed_numerator(root):
    # P000's numerator (2) written back into the practice table
    edit_parquet(root / "tables" / "funnel.parquet", lambda df: df.__setitem__(
        "numerator", df["numerator"].mask(df.practice_id == "P000", 2)))
    return [Finding("tables/funnel.parquet", "row 1 (indicator_id='copd_spirometry', period='2024-01-01', "
                    "cluster_id='K01', practice_id='P000'), column 'numerator'", 2, RULE_SMALL)]


def plant_value_from_hidden(root):
    edit_parquet(root / "tables" / "funnel.parquet", lambda df: df.__setitem__(
        "value", df["value"].mask(df.practice_id == "P000", 2 / 40)))
    return [Finding("tables/funnel.parquet", "row 1 (indicator_id='copd_spirometry', period='2024-01-01', "
                    "cluster_id='K01', practice_id='P000'), column 'value'", 0.05, RULE_DERIVED)]


def plant_complement(root):
    def fn(df):
        i = df.index[df.practice_id == "P005"][0]
        df.loc[i, ["numerator", "denominator"]] = [38, 40]
    edit_parquet(root / "tables" / "funnel.parquet", fn)
    return [Finding("tables/funnel.parquet", "row 6 (indicator_id='copd_spirometry', period='2024-01-01', "
                    "cluster_id='K01', practice_id='P005'), column 'denominator - numerator'", 2.0, RULE_COMPLEMENT)]


def plant_csv_total(root):
    path = root / "tables" / "cluster_totals.csv"
    df = pd.read_csv(path)
    df.loc[0, "denominator"] = 3
    df.to_csv(path, index=False)
    return [Finding("tables/cluster_totals.csv", "row 1 (indicator_id='copd_spirometry', period='2024-01-01', "
                    "cluster_id='K01'), column 'denominator'", 3, RULE_SMALL)]


def plant_html_cell(root):
    edit_text(root / "clusters" / "K01.html", f'<td class="count">{SUPPRESSED_TEXT}</td>', '<td>2</td>')
    return [Finding("clusters/K01.html", "table 2 ('Practices'), row 2 ('P000'), column 'numerator'", "2",
                    RULE_SMALL)]


def plant_html_profile_row(root):
    edit_text(root / "clusters" / "K01.html", "<td>41,250</td>", "<td>4</td>")
    return [Finding("clusters/K01.html", "table 1 ('Profile'), row 4 ('Listed patients'), column 'value'", "4",
                    RULE_SMALL)]


def plant_data_count_attribute(root):
    edit_text(root / "index.html", "<td>3</td>", '<td>3</td><td><span data-count="1">one</span></td>')
    return [Finding("index.html", "<span data-count>", "1", RULE_SMALL)]


def plant_json(root):
    path = root / "manifest.json"
    m = json.loads(path.read_text())
    m["reports"][0]["n_patients"] = 3
    path.write_text(json.dumps(m))
    return [Finding("manifest.json", "$.reports[0].n_patients", 3, RULE_SMALL)]


def plant_notebook(root):
    edit_text(root / "notebooks" / "K01.ipynb", f'<td class=\\"count\\">{SUPPRESSED_TEXT}</td>', "<td>4</td>")
    return [Finding("notebooks/K01.ipynb", "cell 1, output 1: table 1, row 2 ('P000'), column 'numerator'",
                    "4", RULE_SMALL)]


def plant_unreadable(root):
    (root / "tables" / "broken.parquet").write_bytes(b"PAR1 not really")
    return [RULE_UNREADABLE]


def plant_recoverable_html_total(root):
    # a practice table with a total row and one hidden cell: 'Total' minus the others gives it away
    table = ("<table><thead><tr><th>practice</th><th>patients</th></tr></thead><tbody>"
             f"<tr><td>A</td><td>{SUPPRESSED_TEXT}</td></tr><tr><td>B</td><td>120</td></tr>"
             "<tr><td>Total</td><td>123</td></tr></tbody></table>")
    (root / "clusters" / "K02.html").write_text(html_page("K02", [("Practices", table)]))
    return [Finding("clusters/K02.html", "table 1 ('Practices'), row 2 ('A'), column 'patients'", SUPPRESSED_TEXT,
                    RULE_RECOVERABLE)]


def plant_recoverable_parquet_total(root):
    df = pd.DataFrame({"cluster_id": ["K09", "K09", "K09"], "practice_id": ["P1", "P2", "Total"],
                       "persons": [np.nan, 50.0, 53.0]})
    df.to_parquet(root / "tables" / "k09.parquet", index=False)
    return [Finding("tables/k09.parquet", "row 1 (cluster_id='K09', practice_id='P1'), column 'persons'", None,
                    RULE_RECOVERABLE)]


PLANTS = [plant_unsuppressed_numerator, plant_value_from_hidden, plant_complement, plant_csv_total,
          plant_html_cell, plant_html_profile_row, plant_data_count_attribute, plant_json, plant_notebook,
          plant_unreadable, plant_recoverable_html_total, plant_recoverable_parquet_total]


@pytest.mark.parametrize("plant", PLANTS, ids=lambda f: f.__name__)
def test_audit_finds_planted_violation(run_dir, plant):
    expected = plant(run_dir)
    found = audit_dir(run_dir)
    if expected == [RULE_UNREADABLE]:
        assert [(f.file, f.rule) for f in found] == [("tables/broken.parquet", RULE_UNREADABLE)]
    else:
        assert found == expected
    out = io.StringIO()
    assert main_audit(run_dir, out=out) == 1
    assert out.getvalue().splitlines()[-1].startswith("audit: 1 finding in 1 file (")


def test_all_plants_at_once(run_dir):
    expected = []
    for plant in PLANTS:
        if plant is plant_value_from_hidden:  # P000's numerator is shown by another plant: not hidden any more
            continue
        expected += plant(run_dir)
    found = audit_dir(run_dir)
    assert len(found) == len(expected)
    assert {f.rule for f in found} == {RULE_SMALL, RULE_COMPLEMENT, RULE_RECOVERABLE, RULE_UNREADABLE}
    key = lambda f: (f.file, f.location)  # noqa: E731
    assert sorted((f for f in found if f.rule != RULE_UNREADABLE), key=key) == \
        sorted((e for e in expected if e != RULE_UNREADABLE), key=key)


def test_threshold_from_manifest_and_argument(run_dir):
    # the run's own stricter threshold (9) applies: the index's '3 practices' is not a count, but a
    # denominator of 8 in the CSV now is
    m = json.loads((run_dir / "manifest.json").read_text())
    m["params"]["disclosure"]["threshold"] = 9
    (run_dir / "manifest.json").write_text(json.dumps(m))
    path = run_dir / "tables" / "cluster_totals.csv"
    df = pd.read_csv(path)
    df.loc[0, "denominator"] = 8
    df.to_csv(path, index=False)
    assert audit_dir(run_dir) == []  # threshold 4
    out = io.StringIO()
    assert main_audit(run_dir, out=out) == 1
    assert "counts 1-9 are not allowed" in out.getvalue()
    planted = Finding("tables/cluster_totals.csv", "row 1 (indicator_id='copd_spirometry', period='2024-01-01', "
                      "cluster_id='K01'), column 'denominator'", 8, RULE_SMALL)
    assert planted in audit_dir(run_dir, threshold=9)
    assert planted not in audit_dir(run_dir, threshold=7)


def test_main_audit_missing_folder_and_output_limit(tmp_path, run_dir):
    out = io.StringIO()
    assert main_audit(tmp_path / "nope", out=out) == 2
    assert out.getvalue() == f"audit: {str(tmp_path / 'nope')!r} is not a folder\n"
    shutil.copy(run_dir / "tables" / "funnel.parquet", tmp_path / "f.parquet")
    df = pd.DataFrame({"n": [1, 2, 3, 4, 5]})
    df.to_csv(run_dir / "small.csv", index=False)
    out = io.StringIO()
    assert main_audit(run_dir, out=out, limit=2) == 1
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["small.csv: row 1, column 'n': 1 (small count)", "small.csv: row 2, column 'n': 2 (small count)",
                         "... and 2 more"]


def test_html_without_thead_and_with_spans():
    html = ("<table><tr><th rowspan='2'>cluster</th><th colspan='2'>persons</th></tr>"
            "<tr><th>2023</th><th>2024</th></tr>"
            "<tr><td>K1</td><td>17</td><td>3</td></tr></table>")
    assert audit_html(html, "x.html") == [
        Finding("x.html", "table 1, row 3 ('K1'), column 'persons / 2024'", "3", RULE_SMALL)]


def test_pandas_html_renderings_are_read():
    # DataFrame.to_html (index as <th>), a MultiIndex header with colspan, and a Styler table
    df = pd.DataFrame({"numerator": [12, 3], "denominator": [40, 50], "value": [0.3, 0.06]},
                      index=pd.Index(["P1", "P2"], name="practice"))
    plain = audit_html(df.to_html(), "a.html")
    assert [(f.location, f.value) for f in plain] == [("table 1, row 4 ('P2'), column 'numerator'", "3")]
    wide = df.copy()
    wide.columns = pd.MultiIndex.from_tuples([("counts", "numerator"), ("counts", "denominator"), ("", "value")])
    assert [(f.location, f.value) for f in audit_html(wide.to_html(), "b.html")] == [
        ("table 1, row 5 ('P2'), column 'counts / numerator'", "3")]  # 3 header rows
    pytest.importorskip("jinja2")
    styled = df.style.format({"value": "{:.1%}"}).to_html()
    assert [(f.rule, f.value) for f in audit_html(styled, "c.html")] == [(RULE_SMALL, "3")]


def test_bad_threshold(run_dir):
    from cluster_eval.errors import ArgumentError

    with pytest.raises(ArgumentError) as err:
        audit_dir(run_dir, threshold=0)
    assert str(err.value) == "threshold must be a whole number of at least 1; got 0"
    out = io.StringIO()
    assert main_audit(run_dir, threshold=-1, out=out) == 2
    assert out.getvalue() == "audit: threshold must be a whole number of at least 1; got -1\n"


def test_declared_count_columns_and_json_tables(tmp_path):
    # a count column with a neutral name, declared in the Parquet metadata (DataFrame.attrs)
    df = pd.DataFrame({"cluster": ["K1", "K2"], "k": [3, 40]})
    df.attrs["count_columns"] = ["k"]
    df.to_parquet(tmp_path / "declared.parquet", index=False)
    undeclared = pd.DataFrame({"cluster": ["K1"], "k": [3]})
    undeclared.to_parquet(tmp_path / "plain.parquet", index=False)
    # a pandas 'split' JSON table
    (tmp_path / "split.json").write_text(json.dumps({"columns": ["cluster", "persons"], "data": [["K1", 3]]}))
    assert audit_dir(tmp_path) == [
        Finding("declared.parquet", "row 1 (cluster='K1'), column 'k'", 3, RULE_SMALL),
        Finding("split.json", "$: row 1 (cluster='K1'), column 'persons'", 3, RULE_SMALL),
    ]
