"""The base of the pre-period-mean estimator: chosen length (``pre="auto"``) or fitted block weights
(``pre="weighted"``), both from placebo estimates before every cluster's start (docs/methods.md, section 1).
"""
from __future__ import annotations

import numpy as np

from .premean_windows import _blocks_for, _placebos

#: Base lengths (months) among which ``pre="auto"`` chooses, per indicator.
AUTO_PRE = (12, 24, 36, 48)


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


