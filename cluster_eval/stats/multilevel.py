"""Random-intercept GLMM for one count per unit, by maximum likelihood with adaptive Gauss-Hermite
quadrature: the between-unit variance of a proportion (logit scale) or a rate (log scale).

Model: y_i | b_i ~ Binomial(n_i, expit(β + b_i))  or  Poisson(n_i·exp(β + b_i)),  b_i ~ N(0, σ²).
The marginal likelihood of each unit is integrated with adaptive Gauss-Hermite quadrature centred at
the conditional mode of b_i (Pinheiro & Bates 1995; the method of lme4 ``glmer(nAGQ = k)``; k = 1 is
the Laplace approximation, glmer's default). (β, log σ) maximise the summed log-likelihood (BFGS);
the standard error of log σ comes from a finite-difference Hessian, and the interval for σ² from the
profile likelihood (β re-maximised at each σ; the lower end is 0 when σ → 0 stays within the
χ²₁ cut-off), which behaves near the boundary where a Wald interval does not.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from ..errors import EstimationWarning


@dataclass(frozen=True)
class RandomInterceptFit:
    """Result of :func:`fit_random_intercept`."""

    family: str
    intercept: float
    sigma2: float
    log_sigma_se: float
    loglik: float
    nagq: int
    n_units: int
    n_events: float
    converged: bool
    confidence: float = float("nan")
    sigma2_lower: float = float("nan")
    sigma2_upper: float = float("nan")

    def sigma2_interval(self, confidence: float | None = None) -> tuple[float, float]:
        """Profile-likelihood interval for σ² at the fit's level (default), or a Wald interval on log σ
        at another level (NaN if the standard error is not available)."""
        if confidence is None or confidence == self.confidence:
            return self.sigma2_lower, self.sigma2_upper
        z = stats.norm.ppf(0.5 + confidence / 2)
        if not np.isfinite(self.log_sigma_se) or self.sigma2 <= 0:
            return float("nan"), float("nan")
        log_s = 0.5 * math.log(self.sigma2)
        return math.exp(2 * (log_s - z * self.log_sigma_se)), math.exp(2 * (log_s + z * self.log_sigma_se))


def _cond_loglik(family, y, n, eta):
    """log f(y | eta) without the constant (binomial coefficient or log y!)."""
    if family == "binomial":
        return y * eta - n * np.logaddexp(0.0, eta)
    return y * (eta + np.log(n)) - n * np.exp(eta)


def _cond_mean_var(family, n, eta):
    if family == "binomial":
        p = special.expit(eta)
        return n * p, n * p * (1 - p)
    mu = n * np.exp(eta)
    return mu, mu


def _modes(family, y, n, beta, sigma, b0):
    """Conditional modes of b_i and the curvature there (vectorised Newton on a concave function)."""
    b = b0.copy()
    s2 = sigma * sigma
    for _ in range(50):
        mu, var = _cond_mean_var(family, n, beta + b)
        grad = y - mu - b / s2
        hess = -var - 1 / s2
        step = grad / hess
        b = b - step
        if np.max(np.abs(step)) < 1e-10:
            break
    _, var = _cond_mean_var(family, n, beta + b)
    return b, var + 1 / s2


def marginal_loglik(family, y, n, beta, log_sigma, nagq=10, b0=None):
    """Σ_i log ∫ f(y_i | β + b) φ(b; 0, σ²) db by adaptive Gauss-Hermite quadrature (up to a constant)."""
    sigma = math.exp(log_sigma)
    b0 = np.zeros_like(y) if b0 is None else b0
    mode, curv = _modes(family, y, n, beta, sigma, b0)
    scale = 1 / np.sqrt(curv)
    x, w = np.polynomial.hermite.hermgauss(nagq)
    nodes = mode[:, None] + math.sqrt(2) * scale[:, None] * x[None, :]
    logf = (_cond_loglik(family, y[:, None], n[:, None], beta + nodes)
            - 0.5 * (nodes / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi))
    terms = logf + x[None, :] ** 2 + np.log(w)[None, :]
    per_unit = special.logsumexp(terms, axis=1) + math.log(math.sqrt(2)) + np.log(scale)
    return float(per_unit.sum()), mode


def _constant(family, y, n):
    if family == "binomial":
        return float(np.sum(special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)))
    return float(-np.sum(special.gammaln(y + 1)))


def _profile_interval(family, y, n, beta, log_sigma, ll_max, nagq, confidence):
    """Profile-likelihood interval for σ²: {σ : 2(ℓ̂ − max_β ℓ(β, σ)) ≤ χ²₁(confidence)}."""
    crit = stats.chi2.ppf(confidence, 1) / 2

    def gap(log_s):
        res = optimize.minimize_scalar(
            lambda b: -marginal_loglik(family, y, n, b, log_s, nagq)[0],
            bounds=(beta - 5, beta + 5), method="bounded", options={"xatol": 1e-9})
        return ll_max + res.fun - crit

    floor = -12.0
    if gap(floor) < 0:
        lower = 0.0
    else:
        lower = math.exp(2 * optimize.brentq(gap, floor, log_sigma, xtol=1e-8))
    hi = log_sigma + 0.5
    while gap(hi) < 0 and hi < log_sigma + 20:
        hi += 1.0
    upper = math.exp(2 * optimize.brentq(gap, log_sigma, hi, xtol=1e-8)) if gap(hi) >= 0 else float("inf")
    return lower, upper


def fit_random_intercept(y, n, family: str = "binomial", nagq: int = 10,
                         confidence: float = 0.95) -> RandomInterceptFit:
    """Maximum-likelihood fit of the random-intercept model (see the module docstring).

    Parameters
    ----------
    y, n : array-like
        Events and trials (binomial) or events and exposure (Poisson), one per unit, n > 0.
    family : {"binomial", "poisson"}
    nagq : int
        Quadrature points per unit (1 = Laplace).
    """
    y = np.asarray(y, dtype=float)
    n = np.asarray(n, dtype=float)
    if family == "binomial":
        p = np.clip((y + 0.5) / (n + 1), 1e-6, 1 - 1e-6)
        eta = special.logit(p)
    else:
        eta = np.log((y + 0.5) / n)
    beta0 = float(np.average(eta, weights=n / n.sum()))
    sd0 = float(max(np.std(eta), 0.05))
    state = {"b0": np.zeros_like(y)}

    def negll(theta):
        ll, mode = marginal_loglik(family, y, n, theta[0], theta[1], nagq, state["b0"])
        if np.all(np.isfinite(mode)):
            state["b0"] = mode
        return -ll if np.isfinite(ll) else 1e300

    res = optimize.minimize(negll, x0=np.array([beta0, math.log(sd0)]), method="BFGS",
                            options={"gtol": 1e-7})
    beta, log_sigma = res.x
    boundary = log_sigma < -8  # the variance sits on its boundary (no between-unit variation)
    if boundary:
        res2 = optimize.minimize_scalar(lambda b: negll(np.array([b, -12.0])), bracket=(beta - 1, beta + 1))
        beta, log_sigma = float(res2.x), -12.0
    # standard error of log sigma from a central-difference Hessian
    h = 1e-4
    theta = np.array([beta, log_sigma])
    hess = np.zeros((2, 2))
    f0 = negll(theta)
    for i in range(2):
        for j in range(i, 2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            if i == j:
                hess[i, i] = (negll(theta + ei) - 2 * f0 + negll(theta - ei)) / h ** 2
            else:
                hess[i, j] = hess[j, i] = (negll(theta + ei + ej) - negll(theta + ei - ej)
                                           - negll(theta - ei + ej) + negll(theta - ei - ej)) / (4 * h * h)
    try:
        cov = np.linalg.inv(hess)
        se = float(math.sqrt(cov[1, 1])) if cov[1, 1] > 0 and not boundary else float("nan")
    except np.linalg.LinAlgError:
        se = float("nan")
    small_gradient = res.jac is not None and float(np.max(np.abs(res.jac))) < 1e-3
    converged = bool(res.success) or small_gradient or boundary
    if not converged:
        warnings.warn(f"random-intercept model did not converge: {res.message}", EstimationWarning,
                      stacklevel=2)
    ll_max = -negll(theta)
    lower, upper = _profile_interval(family, y, n, float(beta), float(log_sigma), ll_max, nagq, confidence)
    return RandomInterceptFit(family=family, intercept=float(beta), sigma2=float(math.exp(2 * log_sigma)),
                              log_sigma_se=se, loglik=float(ll_max + _constant(family, y, n)), nagq=int(nagq),
                              n_units=int(len(y)), n_events=float(y.sum()), converged=converged,
                              confidence=float(confidence), sigma2_lower=lower, sigma2_upper=upper)
