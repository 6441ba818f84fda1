"""Data parallelism: the samples (rows) split across devices, the parameters replicated.

jaxlr adds no communication code of its own. When ``x`` and ``y`` are sharded
along their first axis (``NamedSharding(mesh, P("data", None))``), ``jax.jit``
propagates that sharding through the fit: every device computes the loss and
gradient terms of its own rows, and the means over all rows become XLA
all-reduces: XLA combines a step's loss and gradient sums into one all-reduce
of ``d + 2`` numbers, and ``x`` is never gathered. The compiled program is the
single-device program, partitioned; ``shard_map`` with ``psum`` would compile
to the same collectives.

Two things need care, and live here:

* **Explicit mesh axes.** ``jax.make_mesh`` makes ``Explicit`` axes by default
  (jax >= 0.9), under which a matrix product contracting over a sharded axis
  (the gradient ``Xᵀr``) must be given an output sharding by hand. The fit's
  inputs are re-labelled onto the same devices with ``Auto`` axes, which moves
  no data, and XLA picks the collectives (inside ``jax.set_mesh``, the context
  mesh is re-labelled alike for the fit).
* **Row counts that do not divide evenly.** A sharded axis must split into
  equal blocks, so rows are padded with zeros up to a multiple of the device
  count, and the padded rows get sample weight 0: the fit's weighted sums
  leave them out exactly, so the loss and gradients are those of the unpadded
  data, up to float rounding.

:func:`on_rows_of` does both for :func:`jaxlr.fit`, around the one core.
"""

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxlr._validate import is_traced

# The mesh axis name for samples on meshes that jaxlr builds itself.
DATA_AXIS = "data"


def auto_axes(value: Any) -> Any:
    """``value`` on the same devices, with its mesh's axes made ``Auto``; no data moves.

    Anything that is not a ``jax.Array`` with a ``NamedSharding`` on a mesh with
    ``Explicit`` axes is returned as it is.
    """
    sharding = getattr(value, "sharding", None)
    if not isinstance(value, jax.Array) or not isinstance(sharding, NamedSharding):
        return value
    mesh = sharding.mesh
    if not isinstance(mesh, Mesh) or all(t == AxisType.Auto for t in mesh.axis_types):
        return value
    return jax.device_put(value, NamedSharding(_auto_mesh(mesh), sharding.spec, memory_kind=sharding.memory_kind))


def explicit_mesh(*values: Any) -> Mesh | None:
    """The first mesh with ``Explicit`` axes among ``values`` (meshes, or arrays on a mesh), else ``None``.

    The ``jax.set_mesh`` context's mesh counts last.
    """
    for value in (*values, jax.sharding.get_mesh()):
        mesh = value if isinstance(value, Mesh) else getattr(getattr(value, "sharding", None), "mesh", None)
        if isinstance(mesh, Mesh) and any(t == AxisType.Explicit for t in mesh.axis_types):
            return mesh
    return None


def restore_axes(tree: Any, mesh: Mesh | None) -> Any:
    """The fit's outputs relabelled onto ``mesh`` (the caller's ``Explicit`` mesh), so they mix with its arrays.

    The inverse of :func:`auto_axes`; no data moves.
    """
    if mesh is None:
        return tree
    devices = np.asarray(mesh.devices)

    def restore(leaf: Any) -> Any:
        sharding = getattr(leaf, "sharding", None)
        if not isinstance(sharding, NamedSharding) or not np.array_equal(np.asarray(sharding.mesh.devices), devices):
            return leaf
        if sharding.mesh.axis_names != mesh.axis_names:
            return leaf
        return jax.device_put(leaf, NamedSharding(mesh, sharding.spec, memory_kind=sharding.memory_kind))

    return jax.tree.map(restore, tree)


def auto_axes_context() -> contextlib.AbstractContextManager:
    """Inside ``jax.set_mesh(mesh)`` with ``Explicit`` axes: the same mesh with ``Auto`` axes, for the fit.

    The fit's inputs have been relabelled ``Auto`` (:func:`auto_axes`); JAX
    requires the context mesh to agree with them.
    """
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or all(t == AxisType.Auto for t in mesh.axis_types):
        return contextlib.nullcontext()
    return jax.sharding.use_abstract_mesh(mesh.update_axis_types({name: AxisType.Auto for name in mesh.axis_names}))


def _auto_mesh(mesh: Mesh) -> Mesh:
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def row_mesh(fn: str, devices: Any, mesh: Any) -> Mesh:
    """The mesh to split rows over, from ``fit``'s ``devices=`` / ``mesh=`` options.

    ``devices``: an int (the first that many of ``jax.devices()``) or a sequence
    of devices; ``mesh``: a ``jax.sharding.Mesh``, whose axes all split the rows.
    """
    if devices is not None and mesh is not None:
        raise ValueError(f"{fn}: pass devices= or mesh=, not both")
    if mesh is not None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"{fn}: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
        return _auto_mesh(mesh)
    available = jax.devices()
    if isinstance(devices, (bool, np.bool_)):
        raise TypeError(f"{fn}: devices must be a positive int or a sequence of jax devices, got {devices!r}")
    if isinstance(devices, (int, np.integer)):
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"{fn}: devices={int(devices)} but {len(available)} {available[0].platform} device(s) are "
                f"available; expected 1 to {len(available)}"
            )
        chosen = available[: int(devices)]
    elif isinstance(devices, Sequence) and devices and all(isinstance(d, jax.Device) for d in devices):
        chosen = list(devices)
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"{fn}: devices lists the same device more than once: {chosen}")
    else:
        raise TypeError(
            f"{fn}: devices must be a positive int or a non-empty sequence of jax devices "
            f"(e.g. jax.devices()), got {type(devices).__name__}"
        )
    return Mesh(np.array(chosen), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def row_shardings(mesh: Mesh) -> tuple[NamedSharding, NamedSharding]:
    """Shardings for ``x`` of shape ``(n, d)`` and for ``(n,)`` arrays: rows over all mesh axes."""
    axes: tuple[Any, ...] = tuple(mesh.axis_names)
    rows = axes[0] if len(axes) == 1 else axes
    return NamedSharding(mesh, PartitionSpec(rows, None)), NamedSharding(mesh, PartitionSpec(rows))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def padded_length(n: int, multiple: int) -> int:
    """``n`` rounded up to a multiple of ``multiple`` (at least ``multiple``)."""
    return max(1, -(-n // multiple)) * multiple


def _host_rows(value: Any) -> np.ndarray | None:
    """``value`` as a host array of numbers, or ``None`` if it is not one (validation reports it)."""
    if isinstance(value, jax.Array):
        if not value.is_fully_addressable:
            return None
        return np.asarray(value)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return None
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        return None
    return array


def shard_rows(x: Any, y: Any, mesh: Mesh) -> tuple[Any, Any, jax.Array | None]:
    """Puts the rows of ``x`` and ``y`` across ``mesh``, padding them to a multiple of its size.

    The data goes from the host straight to the devices, each device receiving
    its own rows: no device ever holds all of ``x``. Returns ``(x, y, valid)``,
    ``valid`` marking the real rows (``None`` when no padding was needed).
    Inputs that are not a rectangular training set of numbers (or that are
    already sharded across processes) are returned untouched, for the fit's
    validation to report or accept.
    """
    x_host, y_host = _host_rows(x), _host_rows(y)
    if (
        x_host is None
        or y_host is None
        or x_host.ndim not in (1, 2)
        or y_host.ndim != 1
        or x_host.shape[0] != y_host.shape[0]
        or x_host.shape[0] == 0
    ):
        return x, y, None
    n = x_host.shape[0]
    padded = padded_length(n, mesh.size)
    x_sharding, y_sharding = row_shardings(mesh)
    if x_host.ndim == 1:
        x_sharding = y_sharding
    valid = None
    if padded != n:
        x_host = np.concatenate([x_host, np.zeros((padded - n, *x_host.shape[1:]), x_host.dtype)])
        y_host = np.concatenate([y_host, np.zeros(padded - n, y_host.dtype)])
        valid = jax.device_put((np.arange(padded) < n).astype(np.float32), y_sharding)  # sample weights
    return jax.device_put(x_host, x_sharding), jax.device_put(y_host, y_sharding), valid


class Rows(NamedTuple):
    """The data as the fit's core gets it, and the caller's ``Explicit`` mesh to return the results to."""

    x: Any
    y: Any
    weights: Any
    home: Mesh | None


def _named(value: Any) -> bool:
    return isinstance(getattr(value, "sharding", None), NamedSharding)


@contextlib.contextmanager
def on_rows_of(fn: str, x: Any, y: Any, weights: Any, devices: Any, mesh: Any) -> Iterator[Rows]:
    """The rows split over ``devices``/``mesh`` (padded rows weighted 0), or left where they are.

    Arrays on a mesh with ``Explicit`` axes are relabelled ``Auto`` for the fit (no
    data moves), inside the matching context mesh. Traced values pass through.
    """
    if devices is None and mesh is None and not (_named(x) or _named(y)):
        if jax.sharding.get_abstract_mesh().empty or is_traced(x, y):
            yield Rows(x, y, weights, None)
            return
    if is_traced(x, y):
        raise ValueError(f"{fn}: devices= and mesh= need concrete data; under jax.jit, shard x and y yourself")
    home = explicit_mesh(mesh, x, y)
    if devices is not None or mesh is not None:
        n = np.shape(x)[0] if np.ndim(x) else 0
        x, y, valid = shard_rows(x, y, row_mesh(fn, devices, mesh))
        if valid is not None:
            if weights is not None:
                padded = np.zeros(valid.shape, np.result_type(np.asarray(weights).dtype, np.float32))
                padded[:n] = np.asarray(weights)
                weights = jax.device_put(padded, valid.sharding)
            else:
                weights = valid
    x, y, weights = auto_axes(x), auto_axes(y), auto_axes(weights)
    with auto_axes_context():
        yield Rows(x, y, weights, home)
