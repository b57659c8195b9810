"""Window contrasts, group differences and placebo estimates of the pre-period-mean estimator.

The building blocks of :func:`cluster_eval.impact.cluster_premean.cluster_effects_premean` (the formulas are
in that module's docstring and docs/methods.md): per-practice contrasts of one start month
(:func:`_window_contrasts`), a group's mean minus the comparison practices' mean with practice-level
variances for all groups at once (:func:`_group_differences`), the cluster-level variance component
(:func:`cluster_variance_component`) and the placebo estimates it is estimated from (:func:`_placebos`).
"""
from __future__ import annotations

import numpy as np

from .panel import IndicatorPanel

#: ``pre="weighted"``: blocks of months before the start (first, last month back) that share one weight.
BASE_BLOCKS = ((1, 1), (2, 3), (4, 6), (7, 12), (13, 24), (25, 36), (37, 48))
#: The dip check: the last DIP_MONTHS months before the start against the earlier months of the pre window.
DIP_MONTHS = 6
#: Contrast columns before the event-time columns: effect, pre-trend placebo, dip check.
N_CONTRASTS = 3


def _blocks_for(n_pre: int) -> list[tuple[int, int]]:
    """The blocks of BASE_BLOCKS inside a pre window of ``n_pre`` months (the last one cut to it)."""
    return [(lo, min(hi, n_pre)) for lo, hi in BASE_BLOCKS if lo <= n_pre]




def _window_contrasts(value: np.ndarray, s: int, pre: int, after: int, min_pre: int, event_study: bool = True,
                      base_w=None, blocks: bool = False):
    """Per-practice contrasts for a start ``s``: (X (P, 2 + E), window shape (n_pre, n_post), event times).

    Columns: 0 = post mean - pre mean; 1 = second half of the pre window - first half; 2 = the dip check,
    mean of the last ``DIP_MONTHS`` months before the start - mean of the earlier months of the pre window
    (NaN for a pre window shorter than ``2 * DIP_MONTHS``); 3.. = the event-time values ``Y_{s+e} - pre mean``
    for ``e = -n_pre .. n_post - 1``. NaN where a practice lacks the months.
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
        if n_pre >= 2 * DIP_MONTHS:
            recent, before = pre_block[:, n_pre - DIP_MONTHS:], pre_block[:, :n_pre - DIP_MONTHS]
            dip = (np.nansum(recent, 1) / np.isfinite(recent).sum(1)
                   - np.nansum(before, 1) / np.isfinite(before).sum(1))
        else:
            dip = np.full(value.shape[0], np.nan)
    if h == 0:
        pt[:] = np.nan
    x = np.empty((value.shape[0], N_CONTRASTS + (n_pre + n_post if event_study else 0)))
    x[:, 0] = post - base
    x[:, 1] = pt
    x[:, 2] = dip
    if event_study:
        x[:, N_CONTRASTS:] = value[:, lo:hi + 1] - base[:, None]
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
        k = len(_blocks_for(n_pre)) if blocks else N_CONTRASTS + (n_pre + n_post if event_study else 0)
        return np.empty((0, k)), np.empty((0, k)), np.empty(0, int)
    return np.concatenate(thetas), np.concatenate(vs), np.concatenate(who)


