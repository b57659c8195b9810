"""The cluster report's first screen (cluster_eval.report.first_screen) on hand-made tables, and the short report
of a cluster that took up no topic (sections run in-process on a copy of the shared run without its topics)."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from cluster_eval.report import first_screen as FS

META = pd.DataFrame({"title": ["Antibiotic prescriptions", "Penicillin V share", "HbA1c measured"],
                     "topic": ["antibiotics", "antibiotics", "diabetes"], "unit": ["per 1,000", "%", "%"],
                     "better": ["lower", "higher", "higher"], "primary": [True, False, True]},
                    index=pd.Index(["abx_rate", "abx_penv", "hba1c"], name="indicator_id"))


def funnel_rows(rows):
    """Funnel-table rows: (indicator, practice, phase, value, standing, suppressed)."""
    df = pd.DataFrame(rows, columns=["indicator_id", "practice", "phase", "value", "standing", "suppressed"])
    df["topic"] = df["indicator_id"].map(META["topic"])
    return df


def effect(iid, est, lo, hi, mde=1.0, status="estimated", **kw):
    return {"cluster_id": "K1", "indicator_id": iid, "topic": META.loc[iid, "topic"], "estimate": est,
            "lower": lo, "upper": hi, "mde": mde, "status": status, "placebo_lower": -1.0, "placebo_upper": 1.0,
            **kw}


def test_practice_phrase_names_letters_once_and_in_order():
    assert FS.practice_phrase(["Practice C"]) == "Practice C"
    assert FS.practice_phrase(["Practice F", "Practice C", "Practice F"]) == "Practices C and F"
    assert FS.practice_phrase(["Practice H", "Practice C", "Practice F"]) == "Practices C, F and H"
    assert FS.practice_phrase(["P017", "P002"]) == "Practices P002 and P017"   # codes when not pseudonymised


def test_outside_limits_keeps_only_published_practices_after_the_start():
    fu = funnel_rows([("abx_penv", "Practice C", "after", 40.0, "worse than expected", False),
                      ("abx_penv", "Practice D", "after", np.nan, "worse than expected", True),   # suppressed
                      ("abx_penv", "Practice E", "before", 41.0, "worse than expected", False),  # before
                      ("abx_penv", "Practice F", "after", 70.0, "", False)])                      # inside
    out = FS.outside_limits(fu)
    assert list(out["practice"]) == ["Practice C"]


def test_questions_and_look_next_come_from_the_data():
    fu = funnel_rows([("abx_penv", "Practice C", "after", 40.0, "worse than expected", False),
                      ("abx_penv", "Practice F", "after", 41.0, "worse than expected", False),
                      ("abx_penv", "Practice Q", "after", np.nan, "worse than expected", True),
                      ("abx_rate", "Practice B", "after", 20.0, "better than expected", False)])
    eff = pd.DataFrame([effect("abx_rate", -2.0, -3.0, -1.0), effect("abx_penv", 0.5, -1.0, 2.0, mde=2.5),
                        effect("hba1c", 0.2, -0.5, 0.9, mde=1.2)])
    acts = pd.DataFrame({"topic": ["antibiotics", "diabetes"], "start": pd.to_datetime(["2019-03-01", "2021-06-01"]),
                         "meetings": [4.0, 1.0]})
    fs = FS.summarise(acts, eff, META, fu, pd.DataFrame(), "95% CI")
    # the topics, in order, with their primary indicator; lower is better, so an interval below 0 improved
    assert [(t.topic, t.indicator_id, t.reading) for t in fs.topics][0] == ("antibiotics", "abx_rate", "improved")
    assert fs.topics[1].reading.startswith("no change detected") and "1.20 percentage points" in fs.topics[1].reading
    assert fs.topics[0].effect == "−2.00 per 1,000 (95% CI −3.00 to −1.00)"
    # look next: the primary indicator first, then the secondary; the suppressed practice is never named
    assert fs.look_next[0][0] == "antibiotics" and "Antibiotic prescriptions" in fs.look_next[0][1]
    assert "Practice B better than expected" in fs.look_next[0][1]
    assert "Practices C and F worse than expected" in fs.look_next[1][1]
    text = " ".join(t for _t, t in fs.look_next) + " ".join(fs.questions)
    assert not re.search(r"\bQ\b", text)
    # questions: worse practices, better practices, then the improved primary indicator
    assert len(fs.questions) == 3
    assert fs.questions[0].startswith("Practices C and F did worse than expected on “Penicillin V share”")
    assert fs.questions[1].startswith("Practice B did better than expected") and "from it?" in fs.questions[1]
    assert fs.questions[2].startswith("“Antibiotic prescriptions” improved after the work on antibiotics")
    html = FS.first_screen_html(fs, "", "95% CI")
    assert html.count("<tr>") == 3 and 'href="#topic-antibiotics"' in html and "For the meeting" in html


def test_without_outliers_the_questions_still_come_from_the_readings_and_standing():
    eff = pd.DataFrame([effect("hba1c", 0.2, -0.5, 0.9, mde=1.2)])
    acts = pd.DataFrame({"topic": ["diabetes"], "start": pd.to_datetime(["2021-06-01"]), "meetings": [np.nan]})
    standing = pd.DataFrame({"indicator_id": ["abx_rate"], "title": ["Antibiotic prescriptions"],
                             "topic": ["antibiotics"], "standing": ["worse than expected"]})
    fs = FS.summarise(acts, eff, META, funnel_rows([]), standing, "95% CI")
    assert fs.questions[0].startswith("No change was detected on “HbA1c measured” after the work on diabetes")
    assert "should it be the next one?" in fs.questions[1] and "Antibiotic prescriptions" in fs.questions[1]
    assert fs.look_next == [(None, "Antibiotic prescriptions: worse than expected against the nation over the last "
                                   "12 months; its topic (antibiotics) has not been taken up.")]


def test_detectable_sizes_are_the_median_mde_of_clusters_of_about_that_size():
    eff = pd.DataFrame([effect("abx_rate", 0, -1, 1, mde=m, n_treated=n) for m, n in
                        [(1.0, 4), (3.0, 5), (2.0, 6), (9.0, 12), (np.nan, 5)]]
                       + [effect("abx_rate", 0, -1, 1, mde=0.1, n_treated=5, status="too few practices")])
    sizes = FS.detectable_sizes(eff, META, n_practices=5)
    iid, mde, k, lo, hi = sizes["antibiotics"]
    assert (iid, mde, k, lo, hi) == ("abx_rate", 2.0, 3, 3, 7)     # 4, 5, 6 practices: median of 1, 3, 2
    assert np.isnan(sizes["diabetes"][1]) and sizes["diabetes"][2] == 0


@pytest.fixture
def captured(monkeypatch):
    """The sections' output, collected in-process as HTML/markdown strings instead of notebook displays."""
    from cluster_eval.report import cluster_sections as CS

    shown = []
    monkeypatch.setattr(CS, "show_html", lambda text: shown.append(text))
    monkeypatch.setattr(CS, "show_markdown", lambda text, css_class=None: shown.append(text))
    monkeypatch.setattr(CS, "show_table", lambda df: shown.append(df.to_html()))
    monkeypatch.setattr(CS, "show_figure", lambda fig, dpi, fmt="svg": shown.append("<figure>"))
    return shown


def test_a_cluster_without_a_topic_gets_a_short_report(shared_run, cluster_ids, tmp_path, captured):
    from cluster_eval.report.cluster_sections import ClusterReport

    out, _ = shared_run
    run = tmp_path / "run"
    shutil.copytree(out / "tables", run / "tables")
    shutil.copy(out / "run_config.json", run / "run_config.json")
    cid = cluster_ids[0]
    for name in ("activities", "effects"):   # the cluster as if it had taken up nothing
        t = pd.read_parquet(run / "tables" / f"{name}.parquet")
        t[t["cluster_id"] != cid].to_parquet(run / "tables" / f"{name}.parquet")
    rep = ClusterReport(run, cid)
    for section in ("title", "first_screen", "details", "standing", "caveats"):
        getattr(rep, section)()
    text = "\n".join(captured)
    heads = re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", text)
    assert heads[1:] == ["Key messages", "For the meeting", "Standing against the nation", "Methods and caveats"]
    assert "<figure>" not in text and "nothing to show" not in text
    n_topics = pd.read_parquet(run / "tables" / "indicators.parquet")["topic"].nunique()
    start = text.index("Change a cluster of its size could detect")
    would = text[start:text.index("</table>", start)]
    assert would.count('<th scope="row">') == n_topics
    assert "about " in would   # the other clusters of about its size have estimates to show


def test_a_cluster_without_a_topic_is_asked_about_its_largest_gap_on_the_worse_side():
    standing = pd.DataFrame({"indicator_id": ["abx_rate", "hba1c"], "title": ["Antibiotic prescriptions",
                                                                              "HbA1c measured"],
                             "topic": ["antibiotics", "diabetes"], "standing": ["as expected", "as expected"],
                             "value": [33.0, 70.0], "national": [30.0, 80.0]})
    sizes = {"antibiotics": ("abx_rate", 4.0, 3, 3, 7), "diabetes": ("hba1c", np.nan, 0, 3, 7)}
    # lower is better: 33 vs 30 is 10% worse; higher is better: 70 vs 80 is 12.5% worse -> diabetes
    fs = FS.summarise(pd.DataFrame(columns=["topic", "start"]), pd.DataFrame(), META, funnel_rows([]), standing,
                      "95% CI", sizes=sizes)
    assert fs.topics == []
    assert fs.questions[0] == ("On “HbA1c measured” the cluster stands at 70.0 against 80.0 for the nation: would "
                               "diabetes be worth taking up?")
    standing.loc[1, "value"] = 90.0          # now better than the nation: antibiotics, with its detectable size
    q = FS.gap_question(standing, META, sizes)
    assert q == ["On “Antibiotic prescriptions” the cluster stands at 33.0 against 30.0 for the nation: would "
                 "antibiotics be worth taking up? A cluster of its size could detect a change of about 4.00 per "
                 "1,000."]
    standing.loc[0, "value"] = 27.0          # both on the better side: the larger gap, without a size
    assert FS.gap_question(standing, META, sizes) == [
        "On “HbA1c measured” the cluster stands at 90.0 against 80.0 for the nation, on the better side: what do "
        "its practices do that other clusters could learn from?"]


def test_look_next_falls_back_on_spc_signals_then_practices_outside_the_95_limits():
    eff = pd.DataFrame([effect("abx_rate", 0.1, -1.0, 1.2), effect("abx_penv", 0.5, -1.0, 2.0)])
    acts = pd.DataFrame({"topic": ["antibiotics"], "start": pd.to_datetime(["2019-03-01"]), "meetings": [2.0]})
    fu = funnel_rows([("abx_penv", "Practice D", "after", 50.0, "", False),
                      ("abx_penv", "Practice E", "after", np.nan, "", True)])
    fu["standing_95"] = ["worse than expected", "worse than expected"]     # E is suppressed: never named
    spc = pd.DataFrame({"indicator_id": ["abx_rate", "abx_penv"], "signal": [True, None],
                        "direction": ["below", "above"]})
    fs = FS.summarise(acts, eff, META, fu, pd.DataFrame(), "95% CI", spc=spc)
    # lower is better: a shift below the baseline reads "better than expected"
    assert fs.look_next == [
        ("antibiotics", "Antibiotic prescriptions (antibiotics): relative to the nation, the SPC chart signals a "
                        "shift after the start (better than expected)."),
        ("antibiotics", "Penicillin V share (antibiotics): Practice D worse than expected, outside the 95% limits "
                        "after the start (about 1 practice in 20 is, by chance).")]


def test_choices_do_not_depend_on_the_language_of_the_readings(monkeypatch):
    """The readings may be translated (report.language: da): the first screen decides on the intervals."""
    monkeypatch.setattr(FS, "verdict", lambda row, better, unit="": "EN ANDEN SPROGFORM")
    eff = pd.DataFrame([effect("abx_rate", -2.0, -3.0, -1.0), effect("hba1c", 0.2, -0.5, 0.9)])
    acts = pd.DataFrame({"topic": ["antibiotics", "diabetes"], "start": pd.to_datetime(["2019-03-01", "2021-06-01"]),
                         "meetings": [4.0, 1.0]})
    fs = FS.summarise(acts, eff, META, funnel_rows([]), pd.DataFrame(), "95% CI")
    assert [t.code for t in fs.topics] == ["improved", "no change"]
    assert fs.topics[0].reading == "EN ANDEN SPROGFORM"
    assert fs.questions[0].startswith("“Antibiotic prescriptions” improved after the work on antibiotics")
    assert fs.questions[1].startswith("No change was detected on “HbA1c measured”")
    assert "<strong>EN ANDEN SPROGFORM</strong>" in FS.first_screen_html(fs, "", "95% CI")


def test_placebo_and_dip_cautions_beside_the_reading():
    """A flagged placebo or dip check (interval excluding 0) puts its caution beside the topic's reading; a row
    without the optional dip columns (another estimator) gets only the placebo's."""
    acts = pd.DataFrame({"topic": ["antibiotics", "diabetes"], "start": pd.to_datetime(["2019-03-01", "2021-06-01"]),
                         "meetings": [4.0, 1.0]})
    eff = pd.DataFrame([effect("abx_rate", -2.0, -3.0, -1.0, dip_lower=0.5, dip_upper=2.0),          # dip only
                        effect("hba1c", 0.2, -0.5, 0.9, placebo_lower=0.1, placebo_upper=0.8)])  # placebo only
    fs = FS.summarise(acts, eff, META, funnel_rows([]), pd.DataFrame(), "95% CI")
    assert fs.topics[0].caution == ("caution: the months just before the start were unusual (dip check); part of "
                                    "the change may be a return to normal")
    assert fs.topics[1].caution == "caution: already moving before the start (placebo check)"
    html = FS.topics_table(fs.topics, "95% CI")
    assert html.count("<em>caution:") == 2 and "dip check" in html and "placebo check" in html
    both = pd.DataFrame([effect("abx_rate", -2.0, -3.0, -1.0, dip_lower=-2.0, dip_upper=-0.1, placebo_lower=0.2,
                                placebo_upper=1.0)])
    assert FS.summarise(acts[:1], both, META, funnel_rows([]), pd.DataFrame(), "95% CI").topics[0].caution.count(
        "caution:") == 2
    quiet = pd.DataFrame([effect("abx_rate", -2.0, -3.0, -1.0, dip_lower=-0.5, dip_upper=0.5)])
    assert FS.summarise(acts[:1], quiet, META, funnel_rows([]), pd.DataFrame(), "95% CI").topics[0].caution == ""
