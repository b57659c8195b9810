"""Reference values for att_gt on mpdta from an independent implementation: the `differences` package.

R's `did` is not installable on this machine (no r-cran-did in Debian; CRAN is not reachable), so the
analytic standard errors come from `differences` 0.3.0 (PyPI), which implements Callaway & Sant'Anna's
influence-function standard errors independently of cluster_eval. Its point estimates agree with the R did
README (../shared/data/reference/did/did_readme_attgt.csv) to the printed 4 decimals.

Run (needs `pip install differences`, the 'bench' extra):
    .venv/bin/python tests/reference/did_mpdta_differences.py ../shared/data/reference/did/mpdta.csv
writes tests/reference/did_mpdta_differences.csv.
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from differences import ATTgt

warnings.simplefilter("ignore")
src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/reference/did/mpdta.csv"
d = pd.read_csv(src).set_index(["countyreal", "year"])
d["cohort"] = d["first.treat"].replace(0, np.nan)
rows = []
for spec, formula, method in [("nocov", "lemp", "reg"), ("lpop_dr", "lemp ~ lpop", "dr"),
                              ("lpop_reg", "lemp ~ lpop", "reg"), ("lpop_ipw", "lemp ~ lpop", "std_ipw-mle"),
                              ("nocov_antic1", "lemp", "reg"), ("nocov_universal", "lemp", "reg")]:
    for control in ("never_treated", "not_yet_treated"):
        att = ATTgt(data=d, cohort_column="cohort",
                    base_period="universal" if spec == "nocov_universal" else "varying",
                    anticipation=1 if spec == "nocov_antic1" else 0)
        r = att.fit(formula=formula, est_method=method, control_group=control, n_jobs=1, progress_bar=False)
        tab = att.results().copy()
        tab.columns = [c[-1] for c in tab.columns]
        tab = tab.reset_index()
        ctrl = control.replace("_", "")
        for _, row in tab.iterrows():
            rows.append(dict(spec=spec, control_group=ctrl, kind="att_gt", group=row["cohort"], time=row["time"],
                             event_time=np.nan, att=row["ATT"], se=row["std_error"]))
        if spec not in ("nocov", "lpop_dr"):
            continue
        for kind, diffkind, key in [("simple", "simple", None), ("dynamic", "event", "relative_period"),
                                    ("group", "cohort", "cohort"), ("calendar", "time", "time")]:
            if kind != "simple":
                a = att.aggregate(diffkind)
                a.columns = [c[-1] for c in a.columns]
                a = a.reset_index()
                for _, row in a.iterrows():
                    rows.append(dict(spec=spec, control_group=ctrl, kind=kind,
                                     group=row[key] if kind == "group" else np.nan,
                                     time=row[key] if kind == "calendar" else np.nan,
                                     event_time=row[key] if kind == "dynamic" else np.nan,
                                     att=row["ATT"], se=row["std_error"]))
            o = att.aggregate(diffkind, overall=True) if kind != "simple" else att.aggregate("simple")
            o.columns = [c[-1] for c in o.columns]
            rows.append(dict(spec=spec, control_group=ctrl, kind=f"{kind}_overall", group=np.nan, time=np.nan,
                             event_time=np.nan, att=o["ATT"].iloc[0], se=o["std_error"].iloc[0]))
out = Path(__file__).with_name("did_mpdta_differences.csv")
pd.DataFrame(rows).to_csv(out, index=False, float_format="%.10g")
print(f"wrote {out} ({len(rows)} rows)")
