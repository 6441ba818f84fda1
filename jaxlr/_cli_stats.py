"""``jaxlr fit``'s regression statistics: the table it prints and the ``"statistics"`` it writes to JSON."""

from typing import Any

import numpy as np

from jaxlr._cli_problem import json_numbers
from jaxlr._least_squares import RegressionStats

_SCALARS = ("r2", "adj_r2", "rmse", "residual_std_error")
_PER_COEFFICIENT = ("std_errors", "t_values", "p_values", "conf_int_95")


def statistics_table(names: list[str], stats: RegressionStats, *, converged: bool) -> str:
    """statsmodels' coefficient table (coef, std err, t, P>|t|, 95% interval) under a line of fit statistics."""
    whose = "the least-squares solution" + ("" if converged else ", not the unconverged gradient-descent weights")
    r2, adj_r2, rmse, se, df = (np.asarray(getattr(stats, f)).item() for f in (*_SCALARS, "df_resid"))
    lines = [
        f"statistics of {whose}: R² {r2:.6g}, adjusted R² {adj_r2:.6g}, RMSE {rmse:.6g}, "
        f"residual std error {se:.6g} on {int(df)} degrees of freedom"
    ]
    width = max(len("final loss (MSE)"), *(len(n) for n in names))
    lines.append(
        f"{'':<{width}}  {'coef':>16}  {'std err':>11}  {'t':>9}  {'P>|t|':>9}  {'[0.025':>12}  {'0.975]':>12}"
    )
    columns = [np.asarray(getattr(stats, f), np.float64) for f in ("coef", *_PER_COEFFICIENT)]
    for name, coef, se, t, p, (lo, hi) in zip(names, *columns, strict=True):
        lines.append(f"{name:<{width}}  {coef:>16.8g}  {se:>11.6g}  {t:>9.4g}  {p:>9.3g}  {lo:>12.6g}  {hi:>12.6g}")
    return "\n".join(lines)


def statistics_json(names: list[str], stats: RegressionStats) -> dict[str, Any]:
    """The ``"statistics"`` of ``--json``: the scalars, and maps from coefficient name to value (NaN as null)."""
    out: dict[str, Any] = {"describes": "least_squares"}
    for field in (*_SCALARS, *_PER_COEFFICIENT, "df_resid"):
        value = json_numbers(getattr(stats, field))
        out[field] = dict(zip(names, value, strict=True)) if field in _PER_COEFFICIENT else value
    return out
