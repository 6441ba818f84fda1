"""Input checks at the public boundary, and the one dtype rule.

:func:`as_input` runs eagerly, turning lists and NumPy arrays into what ``jax.jit`` takes; every other check
reads metadata only, so it also runs while ``jax.jit`` traces. The dtype rule: compute in the widest strongly
typed input dtype, at least float32 (Python numbers are weak, as in JAX); bool and complex are refused.
"""

import math
import numbers
import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from jaxlr._types import Params

MAX_ITERS = 2**31 - 1  # the step counter is an int32 inside the compiled loop
MAX_HISTORY_BYTES = 2 * 2**30


def describe(value: Any) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def as_input(fn: str, name: str, value: Any) -> Any:
    """``value`` as something ``jax.jit`` takes, or a ``ValueError``/``TypeError`` naming ``name``."""
    if isinstance(value, (float, int, jax.Array)) and not isinstance(value, bool):
        return value
    if value is None:
        raise ValueError(f"{fn}: {name} must be an array of numbers, got None")
    if hasattr(value, "toarray") and hasattr(value, "nnz"):
        raise TypeError(
            f"{fn}: {name} is a sparse matrix ({type(value).__name__}); jaxlr needs dense arrays: "
            f"convert it with {name}.toarray()"
        )
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(
            f"{fn}: {name} must be a rectangular array of numbers, got {type(value).__name__} ({e})"
        ) from None
    if array.dtype.kind == "O":  # numbers held as Python objects (e.g. from pandas)
        try:
            return array.astype(np.float64)
        except (ValueError, TypeError):
            raise TypeError(f"{fn}: {name} has dtype object and holds values that are not numbers") from None
    if array.dtype.kind not in "biufc" and not jnp.issubdtype(array.dtype, jnp.floating):  # NumPy's bfloat16: "V"
        raise TypeError(f"{fn}: {name} has dtype {array.dtype}; expected real numbers (float or int)")
    return array


def as_params(fn: str, params: Any) -> Any:
    """:func:`as_input` on each field of a :class:`Params` (anything else is left for :func:`check_data`)."""
    if not isinstance(params, Params):
        return params
    w, b = as_input(fn, "params.w", params.w), None if params.b is None else as_input(fn, "params.b", params.b)
    return params if w is params.w and b is params.b else Params(w, b)


def check_dtype(fn: str, name: str, value: Any) -> None:
    dtype = jax.typeof(value).dtype
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise ValueError(f"{fn}: {name} has complex dtype {dtype}; expected real numbers (float or int)")
    if not jnp.issubdtype(dtype, jnp.number):
        hint = f". Cast it explicitly, e.g. {name}.astype(float), if 0/1 values are meant." if dtype.kind == "b" else ""
        raise TypeError(f"{fn}: {name} has dtype {dtype}; expected real numbers (float or int){hint}")


def compute_dtype(*values: Any) -> Any:
    """The float dtype to compute in: the widest of the strongly typed ``values``, at least float32."""
    dtypes = [jax.typeof(v).dtype for v in values if v is not None and not jax.typeof(v).weak_type]
    return jnp.result_type(*dtypes, jnp.float32)


def check_data(fn: str, params: Any, x: Any, y: Any = None) -> tuple[Params, jax.Array, Any]:
    """Checks a training set (or, without ``y``, ``predict``'s ``x``) and the params that should fit it, from
    metadata only. Traceable. Returns ``(params, x, y)`` in one float dtype, ``y`` of shape ``(n, 1)`` as ``(n,)``."""
    if not isinstance(params, Params):
        raise TypeError(f"{fn}: params must be jaxlr.Params(w, b=None), got {describe(params)}")
    check_dtype(fn, "params.w", params.w)
    if len(jnp.shape(params.w)) > 1:
        raise ValueError(
            f"{fn}: params.w must be a scalar (the lesson's f = w * x) or a vector of shape (d,); "
            f"got shape {jnp.shape(params.w)}"
        )
    if params.b is not None:
        check_dtype(fn, "params.b", params.b)
        if jnp.shape(params.b) != ():
            raise ValueError(f"{fn}: params.b must be a scalar or None, got shape {jnp.shape(params.b)}")
    check_dtype(fn, "x", x)
    x_shape, w_shape = jnp.shape(x), jnp.shape(params.w)
    if y is not None:
        check_dtype(fn, "y", y)
        y_shape = jnp.shape(y)
        if len(x_shape) not in (1, 2):
            raise ValueError(f"{fn}: x must have shape (n,) or (n, d), got shape {x_shape} (rank {len(x_shape)})")
        if len(y_shape) == 2 and y_shape[1] == 1:
            y, y_shape = jnp.reshape(y, y_shape[:1]), y_shape[:1]
        if len(y_shape) != 1:
            raise ValueError(f"{fn}: y must have shape (n,) or (n, 1), got shape {y_shape} (rank {len(y_shape)})")
        if x_shape[0] != y_shape[0]:
            raise ValueError(
                f"{fn}: x and y must have the same number of samples; got x of shape {x_shape} "
                f"({x_shape[0]} samples) and y of shape {y_shape} ({y_shape[0]} samples)"
            )
        if x_shape[0] == 0:
            raise ValueError(f"{fn}: the data is empty: x has shape {x_shape}; need at least one sample")
        if len(x_shape) == 2 and x_shape[1] == 0:
            raise ValueError(f"{fn}: x has shape {x_shape}: no features; need at least one column")
    # predict also takes one sample: x of the same rank as w
    if len(x_shape) - len(w_shape) not in ((0, 1) if y is None else (1,)):
        if not w_shape:
            raise ValueError(
                f"{fn}: params.w is a scalar, so x must have shape (n,) (one feature per sample); "
                f"got x of shape {x_shape}. For a feature matrix of shape (n, d), use params.w of shape (d,)."
            )
        raise ValueError(
            f"{fn}: params.w has shape {w_shape}, so x must have shape (n, {w_shape[0]}); got x of shape {x_shape}"
        )
    if w_shape and x_shape[-1] != w_shape[0]:
        raise ValueError(
            f"{fn}: params do not fit x: x has {x_shape[-1]} features (shape {x_shape}) "
            f"but params.w has shape {w_shape}; expected params.w of shape ({x_shape[-1]},)"
        )
    dtype = compute_dtype(x, y, params.w, params.b)
    b = None if params.b is None else jnp.asarray(params.b, dtype)
    return Params(jnp.asarray(params.w, dtype), b), jnp.asarray(x, dtype), None if y is None else jnp.asarray(y, dtype)


def checked_data(fn: str, params: Any, x: Any, y: Any) -> tuple[Params, jax.Array, jax.Array]:
    """Eager callers' checks: :func:`as_input`, :func:`check_data`, and NaN/inf refused (when not traced)."""
    params, x, y = check_data(fn, as_params(fn, params), as_input(fn, "x", x), as_input(fn, "y", y))
    check_finite(fn, x=x, y=y, **{"params.w": params.w, "params.b": params.b})
    return params, x, y


def check_sample_weight(fn: str, sample_weight: Any, n: int, dtype: Any) -> jax.Array | None:
    """``(n,)`` weights cast to ``dtype`` (their values are checked on the device). Traceable."""
    if sample_weight is None:
        return None
    check_dtype(fn, "sample_weight", sample_weight)
    if jnp.shape(sample_weight) != (n,):
        raise ValueError(f"{fn}: sample_weight must have shape ({n},) (one per sample), got {jnp.shape(sample_weight)}")
    return jnp.asarray(sample_weight, dtype)


def check_features(fn: str, x: Any) -> jax.Array:
    """An eager design matrix on its own: ``(n,)`` or ``(n, d)``, non-empty and finite; returned as ``(n, d)``."""
    x = as_input(fn, "x", x)
    check_dtype(fn, "x", x)
    shape = jnp.shape(x)
    if len(shape) not in (1, 2):
        raise ValueError(f"{fn}: x must have shape (n,) or (n, d), got shape {shape} (rank {len(shape)})")
    if math.prod(shape) == 0:
        raise ValueError(f"{fn}: x has shape {shape}: need at least one sample and one feature")
    check_finite(fn, x=x)
    return jnp.asarray(x, compute_dtype(x)).reshape(shape[0], -1)


def check_positive(fn: str, name: str, value: Any, *, allow_zero: bool = False) -> Any:
    """A scalar that must be positive (or non-negative) and finite: checked now if concrete, else passed on."""
    if type(value) is float and 0 < value < math.inf:  # the common case, without the checks below
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray, np.generic, jax.Array)):
        raise TypeError(f"{fn}: {name} must be a positive real number, got {describe(value)}")
    if shape := tuple(getattr(value, "shape", ())):
        hint = "; to try several learning rates at once use jaxlr.sweep" if name == "learning_rate" else ""
        raise ValueError(f"{fn}: {name} must be a scalar, got shape {shape}{hint}")
    if isinstance(value, Tracer):
        return value
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{fn}: {name} must be {bound} and finite, got {number!r}")
    return value


def check_n_iters(fn: str, n_iters: Any, name: str = "n_iters") -> int:
    """A positive step count as a Python int."""
    if isinstance(n_iters, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a positive integer, got {n_iters!r}")
    try:
        value = operator.index(n_iters)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be a positive integer, got {describe(n_iters)}") from None
    if value < 1:
        raise ValueError(f"{fn}: {name} must be at least 1, got {value}")
    if value > MAX_ITERS:
        raise ValueError(f"{fn}: {name} must be at most {MAX_ITERS} (the step counter is int32), got {value}")
    return value


def check_history_size(fn: str, n_iters: int, history: str, n_params: int, itemsize: int) -> None:
    """Refuses a history that would not fit in memory, before anything is allocated."""
    size = n_iters * {"full": n_params + 1, "loss": 1}.get(history, 0) * itemsize
    if size > MAX_HISTORY_BYTES:
        raise ValueError(
            f"{fn}: history={history!r} for n_iters={n_iters} would take {size / 2**30:.1f} GiB "
            f"(limit {MAX_HISTORY_BYTES / 2**30:.0f} GiB); use history='loss' or history='none'"
        )


def check_choice(fn: str, name: str, value: Any, choices: Any) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{fn}: {name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def all_finite(*arrays: Any) -> jax.Array:
    """One flag per argument (``None`` counts as finite), traceable: ``a * 0`` is NaN exactly where ``a`` is
    not finite, and a sum carries NaN through every reduction order, across devices too."""
    return jnp.stack([jnp.isfinite(jnp.sum(jnp.asarray(a) * 0)) if a is not None else jnp.array(True) for a in arrays])


def is_traced(*values: Any) -> bool:
    return any(isinstance(v, Tracer) for v in jax.tree.leaves(values))


def raise_if_not_finite(fn: str, names: tuple[str, ...], flags: Any) -> None:
    """Raises ``ValueError`` for the first of ``names`` whose flag is false."""
    every = np.asarray(flags).reshape(-1, len(names)).all(axis=0).reshape(-1)
    for name, ok in zip(names, every.tolist(), strict=True):
        if not ok:
            what = "the initial parameters" if name.startswith("params") else "the data"
            raise ValueError(f"{fn}: {name} contains NaN or inf; {what} must be finite numbers")


def check_finite(fn: str, result: Any = None, **arrays: Any) -> Any:
    """Eagerly (traced values are skipped), raises ``ValueError`` for the first of ``arrays`` holding a NaN or inf,
    or for a non-finite ``result`` (an overflow from finite inputs); returns ``result``."""
    leaves = jax.tree.leaves(result)
    try:
        if is_traced(leaves, arrays):
            return result
        flags = np.asarray(all_finite(*arrays.values(), *leaves))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return result  # inside jax.jit, with every argument a constant
    if arrays:
        raise_if_not_finite(fn, tuple(arrays), flags[: len(arrays)])
    if not flags.all():
        raise ValueError(
            f"{fn}: the result overflowed {leaves[0].dtype} (inf or NaN from finite inputs); "
            "rescale the data (e.g. standardize it) or compute in float64 (jax_enable_x64)"
        )
    return result


def checked_sample_weight(fn: str, sample_weight: Any, n: int, dtype: Any) -> jax.Array | None:
    """Eager callers' :func:`check_sample_weight`, and concrete values checked: finite, non-negative, not all 0."""
    if sample_weight is None:
        return None
    try:
        values = sample_weight if isinstance(sample_weight, jax.Array) else np.asarray(sample_weight)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{fn}: sample_weight must be an array of {n} numbers, got {e}") from None
    if np.dtype(values.dtype).kind not in "fiu":
        raise ValueError(f"{fn}: sample_weight must hold real numbers (float or int), got dtype {values.dtype}")
    weight = check_sample_weight(fn, values, n, dtype)
    if not is_traced(values):
        values = np.asarray(values, np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{fn}: sample_weight contains NaN or inf; weights must be finite numbers")
        if np.any(values < 0):
            raise ValueError(f"{fn}: sample_weight must be non-negative, got a minimum of {values.min():g}")
        if not np.any(values > 0):
            raise ValueError(f"{fn}: sample_weight is all zeros; at least one sample needs a positive weight")
    return weight


def check_l2(fn: str, l2: Any, dtype: Any = None, *, per_weight: bool = False) -> Any:
    """``None`` for no penalty (``None`` or a Python zero), else a scalar (with ``per_weight``, also one penalty
    per weight), as an array of ``dtype`` if given; checked non-negative and finite when concrete."""
    if l2 is None or (isinstance(l2, (int, float)) and not isinstance(l2, bool) and l2 == 0):
        return None
    if isinstance(l2, (bool, np.bool_)) or not isinstance(l2, (numbers.Real, np.ndarray, np.generic, jax.Array, list)):
        raise ValueError(f"{fn}: l2 must be a non-negative real number, got {type(l2).__name__} {l2!r}"[:200])
    array = l2 if isinstance(l2, jax.Array) else np.asarray(l2)
    if array.ndim > per_weight:
        shapes = "a scalar or one penalty per weight" if per_weight else "a scalar"
        raise ValueError(f"{fn}: l2 must be {shapes}, got shape {tuple(array.shape)}")
    if np.dtype(array.dtype).kind not in "fiu":
        raise ValueError(f"{fn}: l2 must be a non-negative real number, got dtype {array.dtype}")
    if not is_traced(array) and not (np.all(np.isfinite(array)) and np.all(np.asarray(array) >= 0)):
        raise ValueError(f"{fn}: l2 must be non-negative and finite, got {np.asarray(array).tolist()!r}"[:200])
    return array if dtype is None else jnp.asarray(array, dtype)
