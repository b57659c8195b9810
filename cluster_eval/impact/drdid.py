"""Two-period panel DiD estimators with their influence functions (Sant'Anna & Zhao 2020).

These are the building blocks of :func:`cluster_eval.impact.att_gt`: for one group-time cell the panel is
reduced to one row per unit (the change ``dy`` of the outcome between the base and the current period), a
treated indicator ``d``, covariates ``x`` (with an intercept column) and unit weights ``w``. Each function
returns ``(att, inf)`` where ``inf`` is the influence function on the units passed, scaled as in R's
``DRDID`` (``se = sqrt(mean(inf**2) / n)``).

They follow ``DRDID::reg_did_panel``, ``DRDID::std_ipw_did_panel`` and ``DRDID::drdid_panel`` (the versions
that R ``did`` calls), including propensity scores capped at ``1 - 1e-6`` and comparison units trimmed at a
propensity score of 0.995.

References
----------
Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences estimators. Journal of
Econometrics 219(1), 101-122.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import EstimationWarning

TRIM_LEVEL = 0.995
PS_CAP = 1 - 1e-6


def _logit(x: np.ndarray, d: np.ndarray, w: np.ndarray, max_iter: int = 50, tol: float = 1e-10):
    """Weighted logistic regression by Newton-Raphson (IRLS). Returns fitted probabilities and X'WX."""
    beta = np.zeros(x.shape[1])
    # start from the intercept-only solution, as glm does through its mustart
    p = np.full(len(d), np.clip(np.sum(w * d) / np.sum(w), 1e-6, 1 - 1e-6))
    eta = np.log(p / (1 - p))
    beta = np.linalg.lstsq(x, eta, rcond=None)[0]
    converged = False
    for _ in range(max_iter):
        eta = np.clip(x @ beta, -30, 30)
        p = 1 / (1 + np.exp(-eta))
        v = w * p * (1 - p)
        grad = x.T @ (w * (d - p))
        hess = (x * v[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as exc:
            raise EstimationWarning("the propensity score design matrix is singular") from exc
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    eta = np.clip(x @ beta, -30, 30)
    p = 1 / (1 + np.exp(-eta))
    return p, converged


def _wols(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    xw = x * w[:, None]
    return np.linalg.solve(xw.T @ x, xw.T @ y)


def reg_did_panel(dy, d, x, w):
    """Outcome-regression DiD (Heckman, Ichimura & Todd 1997), as ``DRDID::reg_did_panel``."""
    n = len(d)
    w = w / np.mean(w)
    beta = _wols(x[d == 0], dy[d == 0], w[d == 0])
    out_delta = x @ beta
    w_treat = w * d
    w_cont = w * d
    att_treat = w_treat * dy
    att_cont = w_cont * out_delta
    eta_treat = np.mean(att_treat) / np.mean(w_treat)
    eta_cont = np.mean(att_cont) / np.mean(w_cont)
    att = eta_treat - eta_cont
    w_ols = w * (1 - d)
    xpx_inv = np.linalg.inv((x * w_ols[:, None]).T @ x / n)
    lin_ols = (x * (w_ols * (dy - out_delta))[:, None]) @ xpx_inv
    inf_treat = (att_treat - w_treat * eta_treat) / np.mean(w_treat)
    inf_cont_1 = att_cont - w_cont * eta_cont
    m1 = np.mean(x * w_cont[:, None], axis=0)
    inf_control = (inf_cont_1 + lin_ols @ m1) / np.mean(w_cont)
    return att, inf_treat - inf_control


def _pscore(x, d, w):
    p, converged = _logit(x, d, w)
    if not converged:
        warnings.warn("propensity score estimation did not converge", EstimationWarning, stacklevel=3)
    p = np.minimum(p, PS_CAP)
    trim = np.where(d == 1, p < 1.01, p < TRIM_LEVEL).astype(float)
    xtwx = (x * (p * (1 - p) * w)[:, None]).T @ x
    hessian = np.linalg.inv(xtwx) * len(d)
    lin_ps = (x * (w * (d - p))[:, None]) @ hessian
    return p, trim, lin_ps


def std_ipw_did_panel(dy, d, x, w):
    """Standardised (Hajek) inverse-probability-weighted DiD (Abadie 2005), as ``DRDID::std_ipw_did_panel``."""
    w = w / np.mean(w)
    p, trim, lin_ps = _pscore(x, d, w)
    w_treat = trim * w * d
    w_cont = trim * w * p * (1 - d) / (1 - p)
    att_treat = w_treat * dy
    att_cont = w_cont * dy
    eta_treat = np.mean(att_treat) / np.mean(w_treat)
    eta_cont = np.mean(att_cont) / np.mean(w_cont)
    att = eta_treat - eta_cont
    inf_treat = (att_treat - w_treat * eta_treat) / np.mean(w_treat)
    inf_cont = (att_cont - w_cont * eta_cont) / np.mean(w_cont)
    m2 = np.mean(x * (w_cont * (dy - eta_cont))[:, None], axis=0) / np.mean(w_cont)
    inf_cont = inf_cont + lin_ps @ m2
    return att, inf_treat - inf_cont


def drdid_panel(dy, d, x, w):
    """Locally efficient doubly robust DiD (Sant'Anna & Zhao 2020), as ``DRDID::drdid_panel``."""
    n = len(d)
    w = w / np.mean(w)
    p, trim, lin_ps = _pscore(x, d, w)
    beta = _wols(x[d == 0], dy[d == 0], w[d == 0])
    out_delta = x @ beta
    w_treat = trim * w * d
    w_cont = trim * w * p * (1 - d) / (1 - p)
    resid = dy - out_delta
    att_treat = w_treat * resid
    att_cont = w_cont * resid
    eta_treat = np.mean(att_treat) / np.mean(w_treat)
    eta_cont = np.mean(att_cont) / np.mean(w_cont)
    att = eta_treat - eta_cont
    w_ols = w * (1 - d)
    xpx_inv = np.linalg.inv((x * w_ols[:, None]).T @ x / n)
    lin_ols = (x * (w_ols * resid)[:, None]) @ xpx_inv
    m1 = np.mean(x * w_treat[:, None], axis=0)
    inf_treat = (att_treat - w_treat * eta_treat - lin_ols @ m1) / np.mean(w_treat)
    m2 = np.mean(x * (w_cont * (resid - eta_cont))[:, None], axis=0)
    m3 = np.mean(x * w_cont[:, None], axis=0)
    inf_control = (att_cont - w_cont * eta_cont + lin_ps @ m2 - lin_ols @ m3) / np.mean(w_cont)
    return att, inf_treat - inf_control


ESTIMATORS = {"reg": reg_did_panel, "ipw": std_ipw_did_panel, "dr": drdid_panel}
