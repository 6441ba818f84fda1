"""``jaxlr fit``'s regression statistics: the table it prints and the ``"statistics"`` it writes to JSON."""

import math
from typing import Any

import numpy as np

from jaxlr._stats import RegressionStats

_SCALARS = ("r2", "adj_r2", "rmse", "residual_std_error")
_PER_COEFFICIENT = ("std_errors", "t_values", "p_values")


def statistics_table(names: list[str], stats: RegressionStats, *, converged: bool) -> str:
    """statsmodels' coefficient table (coef, std err, t, P>|t|, 95% interval) under a line of fit statistics."""
    whose = (
        "the least-squares solution"
        if converged
        else ("the least-squares solution, not the unconverged gradient-descent weights")
    )
    df = int(np.asarray(stats.df_resid).item())
    lines = [
        f"statistics of {whose}: R² {_g(stats.r2, 6)}, adjusted R² {_g(stats.adj_r2, 6)}, "
        f"RMSE {_g(stats.rmse, 6)}, residual std error {_g(stats.residual_std_error, 6)} on {df} degrees of freedom"
    ]
    width = max(len("final loss (MSE)"), *(len(n) for n in names))
    header = f"{'':<{width}}  {'coef':>16}  {'std err':>11}  {'t':>9}  {'P>|t|':>9}  {'[0.025':>12}  {'0.975]':>12}"
    lines.append(header)
    columns = [np.asarray(getattr(stats, f), np.float64) for f in ("coef", *_PER_COEFFICIENT)]
    intervals = np.asarray(stats.conf_int_95, np.float64)
    for i, name in enumerate(names):
        coef, se, t, p = (column[i] for column in columns)
        lo, hi = intervals[i]
        lines.append(f"{name:<{width}}  {coef:>16.8g}  {se:>11.6g}  {t:>9.4g}  {p:>9.3g}  {lo:>12.6g}  {hi:>12.6g}")
    return "\n".join(lines)


def statistics_json(names: list[str], stats: RegressionStats) -> dict[str, Any]:
    """The ``"statistics"`` of ``--json``: the scalars, and maps from coefficient name to value (NaN as null)."""
    out: dict[str, Any] = {"describes": "least_squares"}
    for field in _SCALARS:
        out[field] = _number(np.asarray(getattr(stats, field)).item())
    for field in _PER_COEFFICIENT:
        values = np.asarray(getattr(stats, field), np.float64).tolist()
        out[field] = {name: _number(v) for name, v in zip(names, values, strict=True)}
    pairs = np.asarray(stats.conf_int_95, np.float64).tolist()
    out["conf_int_95"] = {name: [_number(lo), _number(hi)] for name, (lo, hi) in zip(names, pairs, strict=True)}
    out["df_resid"] = _number(np.asarray(stats.df_resid).item())
    return out


def _g(value: Any, digits: int) -> str:
    return f"{np.asarray(value).item():.{digits}g}"


def _number(value: float) -> float | None:
    """JSON has no NaN or infinity: ``None`` for those."""
    return value if math.isfinite(value) else None
