"""Input checks at the public boundary.

Only metadata is inspected here (types, shapes, dtypes), so a check costs the
same for four samples as for a billion, and works on arrays sharded across
processes that no single host can read. Finiteness of the data is checked on the
device, inside the compiled fit (see ``jaxlr._train``).

The dtype rule:

* floating inputs (float16, bfloat16, float32, float64) are computed in the
  widest of their dtypes, but never below float32;
* integer inputs are treated as numbers and computed in float32 (or wider, when
  another input is wider);
* float64 needs ``jax.config.update("jax_enable_x64", True)``; without it JAX
  computes in float32, as it does for every float64 input;
* bool, complex and non-numeric inputs raise ``TypeError``.
"""

import functools
import math
import numbers
import operator
from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

from jaxlr._model import Params

# The step counter is an int32 inside the compiled loop.
MAX_ITERS = 2**31 - 1
# A history larger than this is refused before the fit allocates it.
MAX_HISTORY_BYTES = 2 * 2**30


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def _as_array(fn: str, name: str, value: Any) -> Any:
    """``value`` as an array (jax arrays and tracers are kept as they are)."""
    if isinstance(value, jax.Array):
        return value
    if value is None:
        raise TypeError(f"{fn}: {name} must be an array of numbers, got None")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(
            f"{fn}: {name} must be a rectangular array of numbers, got {type(value).__name__} ({e})"
        ) from None
    return array


def _check_dtype(fn: str, name: str, dtype: Any) -> None:
    problem = _dtype_problem(dtype)
    if problem is not None:
        raise TypeError(problem.format(fn=fn, name=name))


@functools.lru_cache(maxsize=64)
def _dtype_problem(dtype: Any) -> str | None:
    """What is wrong with ``dtype`` as a message template, or ``None``. Cached: checks stay cheap per call."""
    if dtype == np.bool_:
        return (
            "{fn}: {name} has dtype bool; expected real numbers (float or int). "
            "Cast it explicitly, e.g. {name}.astype(float), if 0/1 values are meant."
        )
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return f"{{fn}}: {{name}} has complex dtype {dtype}; expected real numbers (float or int)"
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
        return f"{{fn}}: {{name}} has dtype {dtype}; expected real numbers (float or int)"
    return None


def _cast(value: Any, dtype: Any, *, keep_numpy: bool = False) -> jax.Array:
    """``value`` as an array of ``dtype``; a NumPy input stays on the host if ``keep_numpy``."""
    if isinstance(value, jax.Array) and value.dtype == dtype:
        return value
    if isinstance(value, jax.Array):
        return value.astype(dtype)
    if keep_numpy:  # for a jitted callee, which transfers it faster than jnp.asarray
        return np.asarray(value, dtype=dtype)
    return jnp.asarray(value, dtype=dtype)


def _check_params(fn: str, params: Any) -> tuple[Any, Any]:
    if not isinstance(params, Params):
        raise TypeError(f"{fn}: params must be jaxlr.Params(w, b=None), got {_describe(params)}")
    w = _as_array(fn, "params.w", params.w)
    _check_dtype(fn, "params.w", w.dtype)
    if w.ndim > 1:
        raise ValueError(
            f"{fn}: params.w must be a scalar (the lesson's f = w * x) or a vector of shape (d,); "
            f"got shape {tuple(w.shape)}"
        )
    b = params.b
    if b is not None:
        b = _as_array(fn, "params.b", b)
        _check_dtype(fn, "params.b", b.dtype)
        if b.ndim != 0:
            raise ValueError(f"{fn}: params.b must be a scalar or None, got shape {tuple(b.shape)}")
    return w, b


def _is_python_number(value: Any) -> bool:
    """A Python int or float, or one passed through ``jax.jit`` (a weakly typed tracer): it does not set the dtype."""
    return isinstance(value, (int, float)) or (isinstance(value, jax.core.Tracer) and value.aval.weak_type)


def _compute_dtype(*pairs: tuple[Any, Any]) -> Any:
    """The float dtype to compute in, from ``(given value, its array)`` pairs.

    Python scalars are weakly typed, as in JAX: ``Params(w=0.0)`` does not make
    float32 data compute in float64.
    """
    dtypes = tuple(array.dtype for value, array in pairs if array is not None and not _is_python_number(value))
    return _result_dtype(dtypes)


@functools.lru_cache(maxsize=256)
def _result_dtype(dtypes: tuple[Any, ...]) -> Any:
    return jnp.result_type(*(jax.dtypes.canonicalize_dtype(d) for d in dtypes), jnp.float32)


def _check_x_fits_w(fn: str, x: Any, w: Any, *, x_ranks: tuple[int, ...]) -> None:
    """``x_ranks``: the ranks of ``x`` allowed for this ``w``."""
    if w.ndim == 0:
        if x.ndim not in x_ranks:
            raise ValueError(
                f"{fn}: params.w is a scalar, so x must have shape (n,) (one feature per sample); "
                f"got x of shape {tuple(x.shape)}. For a feature matrix of shape (n, d), "
                f"use params.w of shape (d,)."
            )
        return
    (d,) = w.shape
    if x.ndim not in x_ranks:
        raise ValueError(
            f"{fn}: params.w has shape ({d},), so x must have shape (n, {d}); got x of shape {tuple(x.shape)}"
        )
    if x.shape[-1] != d:
        raise ValueError(
            f"{fn}: params do not fit x: x has {x.shape[-1]} features (shape {tuple(x.shape)}) "
            f"but params.w has shape ({d},); expected params.w of shape ({x.shape[-1]},)"
        )


def check_predict_inputs(fn: str, params: Any, x: Any, *, finite: bool = True) -> tuple[Params, jax.Array]:
    """Checks ``params`` and ``x`` for ``predict``; returns them cast to one float dtype.

    With ``finite``, concrete (not traced) values are also checked for NaN and inf.
    """
    w, b = _check_params(fn, params)
    x_given, x = x, _as_array(fn, "x", x)
    _check_dtype(fn, "x", x.dtype)
    _check_x_fits_w(fn, x, w, x_ranks=(0, 1) if w.ndim == 0 else (1, 2))
    dtype = _compute_dtype((x_given, x), (params.w, w), (params.b, b))
    params, x = Params(_cast(w, dtype), None if b is None else _cast(b, dtype)), _cast(x, dtype)
    if finite:
        check_finite(fn, x=x, **{"params.w": params.w, "params.b": params.b})
    return params, x


def check_data(
    fn: str, params: Any, x: Any, y: Any, *, finite: bool = True, keep_numpy: bool = False
) -> tuple[Params, jax.Array, jax.Array]:
    """Checks a training set and the params that should fit it.

    Returns ``(params, x, y)`` cast to one floating dtype (see the module's rule).
    With ``finite``, concrete (not traced) values are also checked for NaN and inf;
    :func:`jaxlr.fit` passes ``False`` and checks on the device, in its compiled loop.
    With ``keep_numpy``, NumPy inputs are cast on the host and returned as NumPy
    arrays, for a jitted callee to transfer (faster than ``jnp.asarray``).
    Raises ``TypeError``/``ValueError`` naming the argument, what was expected and
    what was given.
    """
    w, b = _check_params(fn, params)
    x = _as_array(fn, "x", x)
    y = _as_array(fn, "y", y)
    # Each attribute of a jax.Array is a property call: read them once (this runs on every fit).
    x_dtype, y_dtype, x_shape, y_shape = x.dtype, y.dtype, tuple(x.shape), tuple(y.shape)
    x_ndim, y_ndim = len(x_shape), len(y_shape)
    _check_dtype(fn, "x", x_dtype)
    _check_dtype(fn, "y", y_dtype)
    if x_ndim not in (1, 2):
        raise ValueError(f"{fn}: x must have shape (n,) or (n, d), got shape {x_shape} (rank {x_ndim})")
    if y_ndim != 1:
        raise ValueError(f"{fn}: y must have shape (n,), got shape {y_shape} (rank {y_ndim})")
    if x_shape[0] != y_shape[0]:
        raise ValueError(
            f"{fn}: x and y must have the same number of samples; got x of shape {x_shape} "
            f"({x_shape[0]} samples) and y of shape {y_shape} ({y_shape[0]} samples)"
        )
    if x_shape[0] == 0:
        raise ValueError(f"{fn}: the data is empty: x has shape {x_shape}; need at least one sample")
    if x_ndim == 2 and x_shape[1] == 0:
        raise ValueError(f"{fn}: x has shape {x_shape}: no features; need at least one column")
    _check_x_fits_w(fn, x, w, x_ranks=(1,) if w.ndim == 0 else (2,))
    # _compute_dtype's rule, written out: Python scalars (weakly typed) do not count.
    dtypes = [x_dtype, y_dtype]
    if not _is_python_number(params.w):
        dtypes.append(w.dtype)
    if b is not None and not _is_python_number(params.b):
        dtypes.append(b.dtype)
    dtype = _result_dtype(tuple(dtypes))
    params = Params(
        _cast(w, dtype, keep_numpy=keep_numpy), None if b is None else _cast(b, dtype, keep_numpy=keep_numpy)
    )
    if not (x_dtype == dtype and isinstance(x, jax.Array)):  # else _cast returns x as it is
        x = _cast(x, dtype, keep_numpy=keep_numpy)
    if not (y_dtype == dtype and isinstance(y, jax.Array)):
        y = _cast(y, dtype, keep_numpy=keep_numpy)
    if finite:
        check_finite(fn, x=x, y=y, **{"params.w": params.w, "params.b": params.b})
    return params, x, y


def check_features(fn: str, x: Any) -> jax.Array:
    """Checks a design matrix on its own: ``(n,)`` or ``(n, d)``, non-empty, real numbers."""
    x = _as_array(fn, "x", x)
    _check_dtype(fn, "x", x.dtype)
    if x.ndim not in (1, 2):
        raise ValueError(f"{fn}: x must have shape (n,) or (n, d), got shape {tuple(x.shape)} (rank {x.ndim})")
    if x.shape[0] == 0 or x.size == 0:
        raise ValueError(f"{fn}: x has shape {tuple(x.shape)}: need at least one sample and one feature")
    x = _cast(x, _compute_dtype((x, x)))
    check_finite(fn, x=x)
    return x.reshape(x.shape[0], -1)


def check_learning_rate(fn: str, learning_rate: Any) -> float:
    """A positive, finite learning rate as a Python float."""
    if type(learning_rate) is float:  # the common case, checked first (this runs on every fit)
        if not math.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"{fn}: learning_rate must be positive and finite, got {learning_rate!r}")
        return learning_rate
    if isinstance(learning_rate, (bool, np.bool_)) or not isinstance(
        learning_rate, (numbers.Real, np.ndarray, jax.Array)
    ):
        raise TypeError(f"{fn}: learning_rate must be a positive real number, got {_describe(learning_rate)}")
    if getattr(learning_rate, "ndim", 0) != 0:
        raise ValueError(
            f"{fn}: learning_rate must be a scalar, got shape {tuple(learning_rate.shape)}; "
            "to try several learning rates at once use jaxlr.sweep"
        )
    value = float(learning_rate)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{fn}: learning_rate must be positive and finite, got {value!r}")
    return value


def check_n_iters(fn: str, n_iters: Any) -> int:
    """A positive step count as a Python int."""
    if isinstance(n_iters, (bool, np.bool_)):
        raise TypeError(f"{fn}: n_iters must be a positive integer, got {n_iters!r}")
    try:
        value = operator.index(n_iters)
    except TypeError:
        raise TypeError(f"{fn}: n_iters must be a positive integer, got {_describe(n_iters)}") from None
    if value < 1:
        raise ValueError(f"{fn}: n_iters must be at least 1, got {value}")
    if value > MAX_ITERS:
        raise ValueError(f"{fn}: n_iters must be at most {MAX_ITERS} (the step counter is int32), got {value}")
    return value


def check_history_size(fn: str, n_iters: int, history: str, n_params: int, itemsize: int) -> None:
    """Refuses a history that would not fit in memory, before anything is allocated."""
    per_step = n_params + 1 if history == "full" else 1 if history == "loss" else 0
    size = n_iters * per_step * itemsize
    if size > MAX_HISTORY_BYTES:
        raise ValueError(
            f"{fn}: history={history!r} for n_iters={n_iters} would take {size / 2**30:.1f} GiB "
            f"(limit {MAX_HISTORY_BYTES / 2**30:.0f} GiB); use history='loss' or history='none'"
        )


def _is_concrete(value: Any) -> bool:
    return not isinstance(value, jax.core.Tracer)


def check_finite(fn: str, **arrays: Any) -> None:
    """Raises ``ValueError`` naming the first argument holding a NaN or inf.

    Only for concrete (eager) values: under ``jax.jit`` the values are not known
    when the function is traced, and :func:`jaxlr.fit` checks its data on the
    device instead. One reduction on the device, one scalar per array to the host.
    """
    concrete = {name: a for name, a in arrays.items() if a is not None and _is_concrete(a)}
    if not concrete:
        return
    flags = jax.device_get(_finite_flags(*concrete.values()))
    for (name, _), ok in zip(concrete.items(), flags, strict=True):
        if not ok:
            raise ValueError(f"{fn}: {name} contains NaN or inf; inputs must be finite numbers")


def check_finite_result(fn: str, result: Any) -> Any:
    """Raises ``ValueError`` if finite inputs gave a non-finite result (overflow); returns ``result``."""
    leaves = [leaf for leaf in jax.tree.leaves(result) if _is_concrete(leaf)]
    if leaves and not all(jax.device_get(_finite_flags(*leaves))):
        dtype = leaves[0].dtype
        raise ValueError(
            f"{fn}: the result overflowed {dtype} (inf or NaN from finite inputs); "
            "rescale the data (e.g. standardize it) or compute in float64 (jax_enable_x64)"
        )
    return result


@jax.jit
def _finite_flags(*arrays: Any) -> jax.Array:
    return jnp.stack([jnp.all(jnp.isfinite(a)) for a in arrays])


def check_choice(fn: str, name: str, value: Any, choices: Any) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{fn}: {name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value
