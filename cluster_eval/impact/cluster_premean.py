r"""Per-cluster effects against a pre-period mean, with a cluster-level variance component from placebos.

For cluster ``c`` starting in month ``s`` (its first meeting on the topic, plus ``lag``), with pre window
``P = s - pre .. s - 1`` and post window ``Q = s .. s + after`` (both cut to the data), every practice ``i``
gets the change of its post mean over its pre mean,

.. math:: D_i = \bar Y_{i,Q} - \bar Y_{i,P},

and the cluster's effect is the difference between its practices and the comparison practices ``C_s``
(never treated on the topic, or first exposed after ``s + after``; not in ``c``), equally weighted or
weighted by each practice's mean denominator:

.. math:: \hat\theta_c = \bar D_c - \bar D_{C_s}.

**Weighted base** (``pre="weighted"``). The pre mean becomes ``sum_b lambda_b mean_{t in B_b} Y_it`` over
the blocks ``BASE_BLOCKS`` of months before the start, with ``lambda >= 0``, ``sum lambda = 1`` minimising
the mean square of the placebo estimates (below) of that base, per indicator and window shape: the time
weights of synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021).

**Variance.** ``v_c = \hat V(\bar D_c) + \hat V(\bar D_{C_s})`` is the practice-level part (each group's
weighted variance of the mean with the ``m/(m-1)`` correction). Shocks shared by a cluster's practices
(and by a region's) are invisible to it, so a cluster-level component ``sigma^2`` is added, estimated
*across clusters* from placebo estimates: the same estimator applied to every cluster at pseudo-starts
``s'`` (every ``placebo_stride`` months) whose whole window ``s' - pre .. s' + after`` lies before that
cluster's real start (so no effect can be in it), against practices not yet treated by ``s' + after``:

.. math:: \hat\sigma^2 = \max\Big(0, \frac1J \sum_{j=1}^J (\hat\theta_j^2 - v_j)\Big),
          \qquad se_c = \sqrt{v_c + \hat\sigma^2},

with ``J`` placebo estimates of the same window shape (pre and post lengths). Under no effect
``E[\hat\theta_j^2] = v_j + \sigma^2`` whatever the cluster's size, so ``\hat\sigma^2`` is unbiased for the
variance a shared shock adds to one cluster's estimate; it needs many clusters, not many treated ones, and
so stays valid with ONE treated cluster (docs/methods.md argues the choice against the placebo
distribution of Conley & Taber 2011 / Ferman & Pinto 2019 and the wild cluster bootstrap). Intervals
use Student's t with Welch-Satterthwaite degrees of freedom

.. math:: df = \frac{(v_T + v_C + \hat\sigma^2)^2}{v_T^2/(m_T - 1) + v_C^2/(m_C - 1) + \hat\sigma^4/(K - 1)},

``m_T``, ``m_C`` the practices of each group and ``K`` the clusters behind the placebos.

**Placebo (pre-trend) test.** The same difference for the contrast "second half of the pre window minus
its first half", ``t = \hat\theta^{pre} / \sqrt{v^{pre} + \hat\sigma^2_{pre}}`` with its own placebo
variance component, two-sided p-value from Student's t (df as above). It is defined for every cluster
with at least 2 practices and, by construction of ``\hat\sigma^2_{pre}``, has the nominal size where
parallel trends hold.

**MDE.** ``MDE = (t_{1-\alpha/2, df} + t_{power, df}) \cdot se_c`` (two-sided test at level alpha,
power ``power``), from the same se.

**Event study.** ``\hat\theta_c(e)`` for ``e = -pre .. after``: the same difference for
``Y_{i,s+e} - \bar Y_{i,P}``, each with its own placebo component ``\hat\sigma^2(e)``.

References: Callaway & Sant'Anna (2021) for the not-yet-treated comparison; Conley & Taber (2011),
Ferman & Pinto (2019) for inference with one treated group; MacKinnon & Webb (2018) on the wild cluster
bootstrap with few treated clusters; Satterthwaite (1946).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from ..validation import check_choice, check_confidence
from .cluster import ClusterEffects, not_estimable_reason
from .estimators import N_, EstimatorInput, EstimatorOutput, register_estimator
from .panel import IndicatorPanel, build_panels

MIN_PRACTICES = 3
#: Fewest placebo estimates (of one window shape) for a cluster-level variance component.
MIN_PLACEBOS = 20
#: Base lengths (months) among which ``pre="auto"`` chooses, per indicator.
AUTO_PRE = (12, 24, 36, 48)
#: ``pre="weighted"``: blocks of months before the start (first, last month back) that share one weight.
BASE_BLOCKS = ((1, 1), (2, 3), (4, 6), (7, 12), (13, 24), (25, 36), (37, 48))


def simplex_weights(a) -> np.ndarray:
    r"""The weights ``w >= 0``, ``sum(w) = 1`` that minimise ``w' A w`` (exact, by enumerating supports).

    For every support ``S`` the equality-constrained minimum is ``w_S = A_SS^+ 1 / (1' A_SS^+ 1)``; the
    minimum over the simplex is the smallest objective among the supports whose solution is non-negative
    (a convex QP's optimum is the equality-constrained optimum of the face it lies in). Ties go to the
    support with more blocks (the flatter weights). Meant for a handful of blocks (``2^n`` supports).

    Parameters
    ----------
    a : array-like, (n, n)
        A symmetric positive semi-definite matrix (here: the mean cross-products of the block contrasts of
        the placebo estimates, so ``w' A w`` is the placebo mean square of the weighted base).

    Returns
    -------
    numpy.ndarray
        The weights (length n).

    References
    ----------
    Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021), Synthetic difference-in-differences, *American
    Economic Review* 111(12): time weights on the simplex chosen from pre-period data.
    """
    a = np.asarray(a, float)
    n = a.shape[0]
    best, best_obj, best_size = None, np.inf, 0
    scale = max(float(np.trace(a)) / max(n, 1), 1e-300)
    for mask in range(1, 2 ** n):
        idx = [i for i in range(n) if mask >> i & 1]
        sub = a[np.ix_(idx, idx)]
        u = np.linalg.pinv(sub) @ np.ones(len(idx))
        tot = u.sum()
        if not np.isfinite(tot) or abs(tot) < 1e-12 / scale:
            continue
        ws = u / tot
        if (ws < -1e-10).any():
            continue
        w = np.zeros(n)
        w[idx] = np.maximum(ws, 0.0)
        w /= w.sum()
        obj = float(w @ a @ w)
        tol = 1e-9 * scale
        if obj < best_obj - tol or (obj <= best_obj + tol and len(idx) > best_size):
            best, best_obj, best_size = w, obj, len(idx)
    return best if best is not None else np.full(n, 1.0 / n)


def _blocks_for(n_pre: int) -> list[tuple[int, int]]:
    """The blocks of BASE_BLOCKS inside a pre window of ``n_pre`` months (the last one cut to it)."""
    return [(lo, min(hi, n_pre)) for lo, hi in BASE_BLOCKS if lo <= n_pre]


def _fit_base_weights(p, w, groups, cluster_start_idx, shape, min_pre, stride, min_practices, min_placebos):
    """``pre="weighted"``: block weights for window ``shape`` from the placebo estimates (pre-start data only).

    Each placebo estimate of the post mean minus block ``b``'s mean is ``theta_jb``; the weighted base's
    placebo estimate is ``sum_b w_b theta_jb``, so its mean square is ``w' A w`` with ``A = Theta' Theta / J``.
    Returns (weights per block, number of placebo estimates); equal weights per month when there are fewer
    than ``min_placebos``.
    """
    blocks = _blocks_for(shape[0])
    th, _, _ = _placebos(p, w, groups, cluster_start_idx, shape, min_pre, stride, min_practices,
                         event_study=False, blocks=True)
    th = th[np.isfinite(th).all(axis=1)] if len(th) else th
    if len(th) < min_placebos:
        sizes = np.array([hi - lo + 1 for lo, hi in blocks], float)
        return sizes / sizes.sum(), len(th)
    return simplex_weights(th.T @ th / len(th)), len(th)


def _describe_base(weights, n_pre: int) -> str:
    """``"-1: 0.21; -3..-2: 0.30; ..."``: the block weights of a weighted base (months before the start)."""
    parts = []
    for (lo, hi), wb in zip(_blocks_for(n_pre), weights):
        name = f"-{lo}" if lo == hi else f"-{hi}..-{lo}"
        parts.append(f"{name}: {wb:.2f}")
    return "; ".join(parts)


def _choose_pre(p, w, groups, cluster_start_idx, after, min_pre, stride, min_practices, min_placebos) -> int:
    """``pre="auto"``: the base length of AUTO_PRE whose placebo estimates have the smallest mean square.

    Every candidate is evaluated on the same pseudo-starts (from the longest candidate that fits on), so the
    candidates differ only in their base; only pre-start data enter (docs/methods.md, section 1).
    """
    nt = p.value.shape[1]
    lengths = [L for L in AUTO_PRE if L + after + 1 <= nt]
    if not lengths:
        return max(2, nt - after - 1)
    first = max(lengths)
    mse = {}
    for L in lengths:
        th, _, _ = _placebos(p, w, groups, cluster_start_idx, (L, after + 1), min_pre, stride, min_practices,
                             event_study=False, first=first)
        t0 = th[:, 0][np.isfinite(th[:, 0])]
        if len(t0) >= min_placebos:
            mse[L] = float(np.mean(t0 ** 2))
    return min(mse, key=mse.get) if mse else 24


def _pre_for_start(s: int, pre: int, auto: bool) -> int:
    """Base length at start ``s``: ``pre``, or with ``auto`` the longest candidate that fits when ``pre`` does not."""
    if not auto or s >= pre:
        return pre
    fits = [L for L in AUTO_PRE if L <= s]
    return max(fits) if fits else pre


class PremeanClusterEffects(ClusterEffects):
    """Per-cluster effects against the pre-period mean; intervals use each row's Satterthwaite ``df``.

    Attributes
    ----------
    effects : pandas.DataFrame
        One row per cluster and indicator: the estimate, its practice and cluster-level variance, ``se``,
        ``df``, interval, MDE and the placebo test (docs/methods.md).
    event_study : pandas.DataFrame
        One row per cluster, indicator and event time.
    base_weights : pandas.DataFrame
        The block weights of a weighted base (``pre="weighted"``), see :func:`cluster_effects_premean`.
    """

    title = "Per-cluster effects (pre-period mean base; practice + cluster-level variance)"

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        (level,) = check_confidence(level)
        e = self.effects
        q = stats.t.ppf(0.5 + level / 2, e["df"].to_numpy(float))
        return pd.DataFrame({"cluster_id": e["cluster_id"], "indicator_id": e["indicator_id"],
                             "lower": e["value"] - q * e["se"], "upper": e["value"] + q * e["se"],
                             "confidence": level})


def _window_contrasts(value: np.ndarray, s: int, pre: int, after: int, min_pre: int, event_study: bool = True,
                      base_w=None, blocks: bool = False):
    """Per-practice contrasts for a start ``s``: (X (P, 2 + E), window shape (n_pre, n_post), event times).

    Columns: 0 = post mean - pre mean; 1 = second half of the pre window - first half; 2.. = the event-time
    values ``Y_{s+e} - pre mean`` for ``e = -n_pre .. n_post - 1``. NaN where a practice lacks the months.
    ``base_w`` (weights of the blocks ``_blocks_for(n_pre)``): the base is the weighted mean of the block
    means (renormalised over the blocks a practice has values in) instead of the plain pre mean.
    ``blocks``: instead, one column per block, post mean - block mean (for fitting the weights).
    """
    nt = value.shape[1]
    lo, hi = max(s - pre, 0), min(s + after, nt - 1)
    n_pre, n_post = s - lo, hi - s + 1
    pre_block = value[:, lo:s]
    post_block = value[:, s:hi + 1]
    cnt_pre = np.isfinite(pre_block).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        base = np.nansum(pre_block, 1) / cnt_pre
        base[cnt_pre < min(min_pre, n_pre)] = np.nan
        cnt_post = np.isfinite(post_block).sum(1)
        post = np.nansum(post_block, 1) / cnt_post
        if base_w is not None or blocks:
            bl = _blocks_for(n_pre)
            bm = np.column_stack([np.nansum(value[:, s - hi:s - lo + 1], 1)
                                  / np.isfinite(value[:, s - hi:s - lo + 1]).sum(1) for lo, hi in bl])
            if blocks:
                bm[cnt_pre < min(min_pre, n_pre)] = np.nan
                return post[:, None] - bm, (n_pre, n_post), None
            wb = np.where(np.isfinite(bm), np.asarray(base_w, float)[None, :], 0.0)
            base = (np.where(np.isfinite(bm), bm, 0.0) * wb).sum(1) / wb.sum(1)
            base[cnt_pre < min(min_pre, n_pre)] = np.nan
        h = n_pre // 2
        early, late = pre_block[:, :n_pre - h], pre_block[:, n_pre - h:]
        ce, cl = np.isfinite(early).sum(1), np.isfinite(late).sum(1)
        pt = np.nansum(late, 1) / cl - np.nansum(early, 1) / ce
    if h == 0:
        pt[:] = np.nan
    x = np.empty((value.shape[0], 2 + (n_pre + n_post if event_study else 0)))
    x[:, 0] = post - base
    x[:, 1] = pt
    if event_study:
        x[:, 2:] = value[:, lo:hi + 1] - base[:, None]
    return x, (n_pre, n_post), np.arange(-n_pre, n_post)


class _Groups:
    """Practices sorted by group, for group sums with ``np.add.reduceat`` (code -1 = in no group)."""

    def __init__(self, codes: np.ndarray, n_groups: int):
        inc = np.flatnonzero(codes >= 0)
        self.order = inc[np.argsort(codes[inc], kind="stable")]
        counts = np.bincount(codes[inc], minlength=n_groups)
        self.present = np.flatnonzero(counts > 0)
        self.bounds = (np.cumsum(counts) - counts)[self.present]
        self.n_groups = n_groups

    def sums(self, a: np.ndarray) -> np.ndarray:
        """(n_groups, columns) sums of the rows of ``a`` (practices, columns) by group."""
        out = np.zeros((self.n_groups, a.shape[1]))
        if len(self.order):
            out[self.present] = np.add.reduceat(a[self.order], self.bounds, axis=0)
        return out


def _group_differences(x: np.ndarray, w: np.ndarray | None, groups: _Groups, control: np.ndarray):
    """For every group g and column: mean of g's practices minus mean of the control practices not in g.

    ``w`` None means equal weights. Returns value, v_t, v_c, m_t, m_c, arrays (groups, columns): the
    difference, the practice-level
    variances of the two weighted means (with the m/(m-1) correction) and the practice counts.
    """
    fin = np.isfinite(x)
    cnt = fin.sum(0)
    centre = np.where(cnt > 0, np.where(fin, x, 0.0).sum(0) / np.maximum(cnt, 1), 0.0)
    x0 = np.where(fin, x - centre, 0.0)      # centred per column: the differences and variances are unchanged
    E = x.shape[1]
    equal = w is None
    if equal:   # unit weights: s0 = s2w = n, s2x = s1
        parts = np.concatenate([fin, x0, x0 * x0], axis=1)                  # (P, 3E)
    else:
        wf = np.where(fin, w[:, None], 0.0)
        parts = np.concatenate([fin, wf, wf * x0, wf * wf, wf * wf * x0, wf * wf * x0 * x0], axis=1)  # (P, 6E)
    grp = groups.sums(parts)
    pc = np.where(control[:, None], parts, 0.0)
    ctl = pc.sum(axis=0)[None, :] - groups.sums(pc)

    def stats_of(a):
        if equal:
            n, s1, s2xx = (a[:, i * E:(i + 1) * E] for i in range(3))
            s0, s2w, s2x = n, n, s1
        else:
            n, s0, s1, s2w, s2x, s2xx = (a[:, i * E:(i + 1) * E] for i in range(6))
        with np.errstate(invalid="ignore", divide="ignore"):
            m = s1 / s0
            v = (s2xx - 2 * m * s2x + m * m * s2w) / s0 ** 2 * n / (n - 1)
        v = np.where(n > 1, np.maximum(v, 0.0), np.nan)
        m = np.where(n > 0, m, np.nan)
        return m, v, n

    mt, vt, nt_ = stats_of(grp)
    mc, vc, nc_ = stats_of(ctl)
    return mt - mc, vt, vc, nt_, nc_


def _sigma2(theta: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Method-of-moments cluster-level variance per column and the placebo count: max(0, mean(theta^2 - v))."""
    ok = np.isfinite(theta) & np.isfinite(v)
    n = ok.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = np.where(ok, theta ** 2 - v, 0.0).sum(0) / n
    return np.where(n > 0, np.maximum(s2, 0.0), np.nan), n


def cluster_variance_component(theta, v) -> float:
    r"""The cluster-level variance component from placebo estimates (one contrast).

    .. math:: \hat\sigma^2 = \max\Big(0, \frac1J\sum_j (\hat\theta_j^2 - v_j)\Big)

    Parameters
    ----------
    theta, v : array-like
        Placebo estimates (no effect in their windows) and their practice-level variances.

    Returns
    -------
    float
        ``sigma^2`` (NaN without a finite pair).
    """
    s2, _ = _sigma2(np.asarray(theta, float)[:, None], np.asarray(v, float)[:, None])
    return float(s2[0])


def _placebos(p: IndicatorPanel, w, groups, cluster_start_idx, shape, min_pre, stride, min_practices,
              event_study=True, first: int = 0, base_w=None, blocks: bool = False):
    """Placebo estimates of every cluster at pseudo-starts whose window lies before its real start.

    Returns (theta (J, columns), v (J, columns), group code per estimate) for windows of ``shape``, at
    pseudo-starts from ``max(n_pre, first)`` on. ``base_w``, ``blocks``: as :func:`_window_contrasts`.
    """
    n_pre, n_post = shape
    nt = p.value.shape[1]
    thetas, vs, who = [], [], []
    g = p.start_index
    for s in range(max(n_pre, first), nt - n_post + 1, stride):
        x, shp, _ = _window_contrasts(p.value, s, n_pre, n_post - 1, min_pre, event_study, base_w, blocks)
        if shp != shape:
            continue
        control = np.isinf(g) | (g > s + n_post - 1)
        val, vt, vc, mt, mc = _group_differences(x, w, groups, control)
        ok = (cluster_start_idx > s + n_post - 1) & (mt[:, 0] >= min_practices) & (mc[:, 0] >= 2)
        if ok.any():
            thetas.append(val[ok])
            vs.append(vt[ok] + vc[ok])
            who.append(np.flatnonzero(ok))
    if not thetas:
        k = len(_blocks_for(n_pre)) if blocks else 2 + (n_pre + n_post if event_study else 0)
        return np.empty((0, k)), np.empty((0, k)), np.empty(0, int)
    return np.concatenate(thetas), np.concatenate(vs), np.concatenate(who)


def cluster_effects_premean(measures: pd.DataFrame | None = None, practices: pd.DataFrame | None = None,
                            activities: pd.DataFrame | None = None, indicators=None, *, pre: int | str = 12,
                            after: int = 12, lag: int = 0, weight: str | None = None,
                            min_practices: int = MIN_PRACTICES, min_pre_months: int = 3,
                            placebo_stride: int = 3, min_placebos: int = MIN_PLACEBOS,
                            confidence: float = 0.95, power: float = 0.80, event_study: bool = True,
                            only=None, panels: dict | None = None) -> PremeanClusterEffects:
    """Effect of each cluster's topic work against its practices' pre-period mean (see the module docstring).

    Parameters
    ----------
    measures, practices, activities, indicators
        Contract tables and the indicator -> topic mapping, as :func:`cluster_effects` (not needed when
        ``panels`` is given).
    pre : int, "auto" or "weighted"
        Months in the pre window (the base is their mean). ``"auto"``: per indicator, the length among
        ``AUTO_PRE`` (12, 24, 36, 48) whose placebo estimates (before every cluster's start, on common
        pseudo-starts) have the smallest mean square; a start with fewer months before it gets the longest
        candidate that fits. ``"weighted"``: the base is a weighted mean of the 48 months before the start
        (36, 24 or 12 where fewer precede it) with non-negative weights summing to 1 on the blocks
        ``BASE_BLOCKS`` (months -1, -3..-2, -6..-4, -12..-7, -24..-13, -36..-25, -48..-37; a block's months
        share its weight), chosen per indicator and window shape to minimise the mean square of the placebo
        estimates (:func:`simplex_weights`; the time weights of synthetic DiD, Arkhangelsky et al. 2021);
        the cluster-level variance component is then estimated for those weights. The row's ``n_pre`` and
        ``base`` say what was used.
    after : int
        Post window: event times ``0 .. after``.
    lag : int
        Months between the first meeting and the first exposed month.
    weight : {None, "denominator"}
        Equal practice weights, or each practice's mean denominator.
    min_practices : int
        Clusters with fewer practices with data get ``estimable = False``.
    min_pre_months : int
        A practice needs this many months with a value in the pre window (fewer when the window is shorter).
    placebo_stride : int
        Months between pseudo-starts of the placebo estimates.
    min_placebos : int
        Fewest placebo estimates for a cluster-level variance component; with fewer the row says
        ``se_basis = "practice only"`` (and the interval ignores cluster-wide shocks).
    confidence, power : float
    event_study : bool
        Also estimate the event-time effects (False: only the post-period average and the placebo test,
        several times faster; ``event_study`` is then empty).
    only : iterable of indicator ids, optional
    panels : dict, optional
        Prebuilt :func:`build_panels` output.

    Returns
    -------
    ClusterEffects
        ``effects``: the columns of :func:`cluster_effects` (value, se, lower, upper, pre_* = the pre-trend
        placebo contrast, placebo_statistic = its t, placebo_df, placebo_p_value, mde, ...) plus
        se_practice, pre_se_practice (the practice-level parts of se and pre_se), var_cluster, df, n_placebos,
        se_basis, base (the base in words, with the block weights of ``"weighted"``). ``event_study``:
        cluster_id, indicator_id, event_time, value, se, lower, upper, n_treated, n_control.
        ``base_weights`` (attribute): with ``pre="weighted"`` one row per indicator, window shape and block:
        indicator_id, n_pre, n_post, first_month, last_month (months relative to the start), weight,
        n_placebos (the placebo estimates the weights were fitted on); empty otherwise.
    """
    check_choice(weight, "weight", (None, "denominator"))
    (confidence,) = check_confidence(confidence)
    (power,) = check_confidence(power)
    weighted = isinstance(pre, str) and pre == "weighted"
    auto = isinstance(pre, str) and pre == "auto"
    checks = (("after", after, 0), ("lag", lag, 0), ("placebo_stride", placebo_stride, 1),
              ("min_practices", min_practices, 2), ("min_pre_months", min_pre_months, 1))
    for name, v, lo in checks if auto or weighted else (("pre", pre, 2),) + checks:
        if isinstance(v, bool | str) or not float(v).is_integer() or v < lo:
            from ..errors import ArgumentError
            raise ArgumentError(f"{name} must be a whole number >= {lo}"
                                + (' or "auto" or "weighted"' if name == "pre" else "") + f"; got {v!r}")
    pre, after = (pre if auto or weighted else int(pre)), int(after)
    if panels is None:
        panels = build_panels(measures, practices, activities, indicators, lag=lag, only=only)
    eff_rows, es_parts, weight_rows = [], [], []
    for ind, p in panels.items():
        nt = p.value.shape[1]
        if weight == "denominator":
            with np.errstate(invalid="ignore"):
                w = np.nan_to_num(np.nanmean(np.where(p.denominator > 0, p.denominator, np.nan), axis=1))
        else:
            w = None                       # equal weights
        has_data = np.isfinite(p.value).any(axis=1)
        codes, names = pd.factorize(pd.Series(p.cluster_ids, dtype=object), use_na_sentinel=True)
        codes = np.where(has_data, codes, -1)
        groups = _Groups(codes, len(names))
        pos = {c: i for i, c in enumerate(names)}
        starts = dict(zip(p.cluster_start["cluster_id"], p.cluster_start["start_index"]))
        cluster_start_idx = np.array([starts.get(c, np.inf) for c in names], float)
        if weighted:
            pre_ind = BASE_BLOCKS[-1][1]
        elif auto:
            pre_ind = _choose_pre(p, w, groups, cluster_start_idx, after, min_pre_months, placebo_stride,
                                  min_practices, min_placebos)
        else:
            pre_ind = pre
        # --- real estimates, one start month at a time (all clusters of that month at once)
        real, base_w = {}, {}
        for s in sorted({int(v) for v in p.cluster_start["start_index"] if 1 <= v < nt}):
            pre_s = _pre_for_start(s, pre_ind, auto or weighted)
            bw = None
            if weighted:      # block weights per window shape, from that shape's placebos
                shape = (s - max(s - pre_s, 0), min(s + after, nt - 1) - s + 1)
                if shape not in base_w:
                    base_w[shape] = _fit_base_weights(p, w, groups, cluster_start_idx, shape, min_pre_months,
                                                      placebo_stride, min_practices, min_placebos)
                    weight_rows += [{"indicator_id": ind, "n_pre": shape[0], "n_post": shape[1],
                                     "first_month": -hi, "last_month": -lo, "weight": float(wb),
                                     "n_placebos": base_w[shape][1]}
                                    for (lo, hi), wb in zip(_blocks_for(shape[0]), base_w[shape][0])]
                bw = base_w[shape][0]
            x, shape, ev = _window_contrasts(p.value, s, pre_s, after, min_pre_months, event_study, bw)
            control = np.isinf(p.start_index) | (p.start_index > s + shape[1] - 1)
            real[s] = (shape, ev, *_group_differences(x, w, groups, control))
        # --- cluster-level variance components per window shape, from placebos (with the shape's base)
        comp = {}
        for shape in {r[0] for r in real.values()}:
            th, v, who = _placebos(p, w, groups, cluster_start_idx, shape, min_pre_months, placebo_stride,
                                   min_practices, event_study, base_w=base_w[shape][0] if weighted else None)
            s2, n_pl = _sigma2(th, v)
            comp[shape] = (s2, n_pl, len(np.unique(who)))
        for cid, sidx, start in zip(p.cluster_start["cluster_id"], p.cluster_start["start_index"],
                                    p.cluster_start["start"]):
            g = pos.get(cid)
            n_pr = int((codes == g).sum()) if g is not None else 0
            row = dict(cluster_id=cid, topic=p.topic, indicator_id=ind, start=start, n_practices=n_pr)
            reason = not_estimable_reason(int(sidx), nt, n_pr, min_practices)
            if reason:
                eff_rows.append({**row, "n_control": 0, "estimable": False, "reason": reason})
                continue
            shape, ev, val, vt, vc, mt, mc = real[int(sidx)]
            s2, n_pl, k_pl = comp[shape]
            val, vt, vc, mt, mc = val[g], vt[g], vc[g], mt[g], mc[g]
            if not (mt[0] >= min_practices and mc[0] >= 2 and np.isfinite(val[0])):
                eff_rows.append({**row, "n_control": int(mc[0]), "estimable": False,
                                 "reason": f"fewer than {min_practices} practices with pre- and post-period "
                                           "values, or fewer than 2 comparison practices"})
                continue
            enough = n_pl >= min_placebos
            s2u = np.where(enough & np.isfinite(s2), s2, 0.0)
            vt0, vc0 = np.nan_to_num(vt), np.nan_to_num(vc)
            var = vt0 + vc0 + s2u
            with np.errstate(invalid="ignore", divide="ignore"):
                den = (vt0 ** 2 / np.maximum(mt - 1, 1) + vc0 ** 2 / np.maximum(mc - 1, 1)
                       + np.where(enough, s2u ** 2 / max(k_pl - 1, 1), 0.0))
                df = np.where(den > 0, var ** 2 / den, np.inf)
            df = np.maximum(df, 1.0)
            se = np.sqrt(var)
            tq = special.stdtrit(df, 0.5 + confidence / 2)          # Student's t quantiles (ufunc: fast)
            if event_study:
                es_parts.append(pd.DataFrame({
                    "cluster_id": cid, "indicator_id": ind, "event_time": ev, "value": val[2:], "se": se[2:],
                    "lower": val[2:] - tq[2:] * se[2:], "upper": val[2:] + tq[2:] * se[2:],
                    "n_treated": mt[2:].astype(int), "n_control": mc[2:].astype(int)}))
            v0, se0, df0, t0 = float(val[0]), float(se[0]), float(df[0]), float(tq[0])
            base_txt = (f"weighted mean of {shape[0]} months ({_describe_base(base_w[shape][0], shape[0])})"
                        if weighted else f"mean of {shape[0]} months")
            out = {**row, "n_control": int(mc[0]), "n_pre": shape[0], "n_post": shape[1], "base": base_txt,
                   "value": v0, "se": se0,
                   "lower": v0 - t0 * se0, "upper": v0 + t0 * se0,
                   "mde": (t0 + special.stdtrit(df0, power)) * se0, "se_practice": float(np.sqrt(vt0[0] + vc0[0])),
                   "var_cluster": float(s2[0]) if enough[0] else np.nan, "df": df0, "n_placebos": int(n_pl[0]),
                   "se_basis": "practice + cluster" if enough[0] else "practice only",
                   "estimable": True, "reason": ""}
            if np.isfinite(val[1]) and se[1] > 0:
                v1, se1, df1 = float(val[1]), float(se[1]), float(df[1])
                tstat = v1 / se1
                p1 = float(2 * special.stdtr(df1, -abs(tstat)))
                out.update(pre_value=v1, pre_se=se1, pre_lower=v1 - tq[1] * se1, pre_upper=v1 + tq[1] * se1,
                           pre_p_value=p1, placebo_statistic=tstat,
                           placebo_df=df1, placebo_df2=np.nan, pre_se_practice=float(np.sqrt(vt0[1] + vc0[1])),
                           placebo_p_value=p1)
            eff_rows.append(out)
    cols = ["cluster_id", "topic", "indicator_id", "start", "n_practices", "n_control", "n_pre", "n_post", "base",
            "value",
            "se", "lower", "upper", "pre_value", "pre_se", "pre_lower", "pre_upper", "pre_p_value",
            "placebo_statistic", "placebo_df", "placebo_df2", "placebo_p_value", "mde", "se_practice",
            "pre_se_practice",
            "var_cluster", "df", "n_placebos", "se_basis", "estimable", "reason"]
    effects = pd.DataFrame(eff_rows).reindex(columns=cols)
    effects["estimable"] = effects["estimable"].astype(bool)
    effects["confidence"] = confidence
    effects["method"] = "premean-placebo-variance" + ("-denominator-weighted" if weight else "")
    es_cols = ["cluster_id", "indicator_id", "event_time", "value", "se", "lower", "upper", "n_treated",
               "n_control"]
    event_study = pd.concat(es_parts, ignore_index=True) if es_parts else pd.DataFrame(columns=es_cols)
    if weighted:
        base_set = ("weighted mean of the 48 months before the start (36, 24 or 12 where fewer precede it): "
                    "non-negative weights summing to 1 on the blocks of months -1, -3..-2, -6..-4, -12..-7, "
                    "-24..-13, -36..-25, -48..-37, per indicator and window shape the smallest placebo mean "
                    "square (synthetic DiD time weights)")
    elif auto:
        base_set = ("mean of the months before the start (12, 24, 36 or 48 per indicator: the smallest "
                    "placebo mean square)")
    else:
        base_set = f"mean of the {pre} months before the start"
    settings = {"base": base_set, "window": f"{pre if isinstance(pre, str) else -pre} .. {after} months",
                "lag": lag, "comparison": "not yet treated by the end of the window, or never",
                "weights": weight or "equal", "minimum practices": min_practices, "confidence": confidence,
                "inference": "practice-level variance + cluster-level component from placebo estimates"}
    res = PremeanClusterEffects(effects, event_study, settings)
    res.base_weights = pd.DataFrame(weight_rows, columns=["indicator_id", "n_pre", "n_post", "first_month",
                                                          "last_month", "weight", "n_placebos"])
    return res


@register_estimator(
    "premean-placebo",
    label=N_("Pre-period mean base; practice-level plus cluster-level variance from placebo estimates"),
    methods=N_(
        "- **What an effect is.** For each practice, its mean over the {post} months from the start minus its "
        "mean over the {base} months before the start (the base); the cluster's effect is the average of its practices' "
        "changes minus the average change of practices in clusters {comparison} on the topic throughout that "
        "window (Callaway & Sant'Anna 2021). The start is the month of the first meeting on the topic plus a "
        "lag of {lag} months.\n"
        "- **Intervals** are {confidence_pct}% confidence intervals whose variance adds to the practice-level "
        "variance of the two averages a cluster-level component: how much more than their practice-level "
        "variance the same estimates vary in placebo windows before each cluster's start, across all clusters "
        "(shocks a cluster's practices share; valid with one treated cluster; Conley & Taber 2011, Ferman & "
        "Pinto 2019). Student's t with Welch-Satterthwaite degrees of freedom. The minimum detectable effect is "
        "(t₁₋α/₂ + t₀.₈) × the same standard error.\n"
        "- **Placebo test.** The same difference for the second half of the pre-period minus its first half, "
        "with its own cluster-level component: p < 0.05 flags a cluster that was already moving before its "
        "start (a pre-existing trend, or a bad spell that prompted the uptake and inflates the effect).\n"
        "- **Many clusters.** Each effect is also shown shrunk toward the pooled effect of all clusters "
        "(empirical Bayes with the random-effects variance between clusters; Efron & Morris 1975), and the "
        "national overview gives false-discovery-rate q-values (Benjamini & Hochberg 1995). "
        "docs/methods.md states every formula."))
def premean_placebo(data: EstimatorInput) -> EstimatorOutput:
    """:func:`cluster_effects_premean` in the estimator schema of :mod:`cluster_eval.impact.estimators`."""
    base = max(int(data.before), 2) if data.base is None else data.base
    res = cluster_effects_premean(pre=base, after=data.after, lag=data.lag, weight=data.weight,
                                  min_practices=max(int(data.min_practices), 2), confidence=data.confidence,
                                  panels=data.panels)
    e = res.effects
    eff = e.rename(columns={"value": "estimate", "pre_value": "placebo", "pre_se": "placebo_se",
                            "pre_lower": "placebo_lower", "pre_upper": "placebo_upper", "n_pre": "pre_months",
                            "n_post": "post_months"})
    eff["reason"] = eff["reason"].fillna("")
    es = res.event_study.rename(columns={"value": "estimate"})
    es = es[es["event_time"] >= -int(data.before)]         # the run's window, whatever the base length
    return EstimatorOutput(effects=eff, event_study=es)
