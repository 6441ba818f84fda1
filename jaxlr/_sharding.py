"""Data parallelism: the rows split across devices, the parameters replicated, no communication code.

With ``x`` and ``y`` sharded along their rows, ``jax.jit`` partitions the single-device fit: each
device reduces its own rows and XLA all-reduces a step's ``d + 2`` sums; ``x`` is never gathered.
Two things need care here. Meshes with ``Explicit`` axes (``jax.make_mesh``'s default) would need
an output sharding for every product over the rows, so the fit's inputs are relabelled ``Auto`` on
the same devices (no data moves) and its outputs relabelled back. And a sharded axis splits into
equal blocks, so rows are padded with zeros to a multiple of the device count, with sample weight 0.
"""

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxlr._validate import is_traced

DATA_AXIS = "data"  # the mesh axis name for samples on meshes that jaxlr builds itself


def _auto_mesh(mesh: Mesh) -> Mesh:
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def auto_axes(value: Any) -> Any:
    """``value`` on the same devices with its mesh's axes made ``Auto`` (no data moves); others as they are."""
    sharding = getattr(value, "sharding", None)
    if not isinstance(value, jax.Array) or not isinstance(sharding, NamedSharding):
        return value
    mesh = sharding.mesh
    if not isinstance(mesh, Mesh) or all(t == AxisType.Auto for t in mesh.axis_types):
        return value
    return jax.device_put(value, NamedSharding(_auto_mesh(mesh), sharding.spec, memory_kind=sharding.memory_kind))


def restore_axes(tree: Any, mesh: Mesh | None) -> Any:
    """The fit's outputs relabelled onto ``mesh`` (the caller's ``Explicit`` mesh): :func:`auto_axes` undone."""
    if mesh is None:
        return tree
    auto = _auto_mesh(mesh)  # meshes are interned: equal meshes are the same object

    def restore(leaf: Any) -> Any:
        sharding = getattr(leaf, "sharding", None)
        if isinstance(sharding, NamedSharding) and sharding.mesh == auto:
            return jax.device_put(leaf, NamedSharding(mesh, sharding.spec, memory_kind=sharding.memory_kind))
        return leaf

    return jax.tree.map(restore, tree)


def auto_axes_context() -> contextlib.AbstractContextManager:
    """Inside ``jax.set_mesh`` with ``Explicit`` axes: that mesh made ``Auto``, to agree with the fit's inputs."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or all(t == AxisType.Auto for t in mesh.axis_types):
        return contextlib.nullcontext()
    return jax.sharding.use_abstract_mesh(mesh.update_axis_types({name: AxisType.Auto for name in mesh.axis_names}))


def row_mesh(fn: str, devices: Any, mesh: Any) -> Mesh:
    """The mesh to split rows over: ``devices`` an int (the first of ``jax.devices()``) or devices, or ``mesh``."""
    if devices is not None and mesh is not None:
        raise ValueError(f"{fn}: pass devices= or mesh=, not both")
    if mesh is not None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"{fn}: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
        return _auto_mesh(mesh)
    available = jax.devices()
    if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
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
        return np.asarray(value) if value.is_fully_addressable else None
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return None
    return array if array.dtype.kind in "fiu" else None


def shard_rows(x: Any, y: Any, weights: Any, mesh: Mesh) -> tuple[Any, Any, Any]:
    """The rows of ``x``, ``y`` and ``weights`` put across ``mesh``, padded with rows of weight 0.

    Each device receives only its own rows from the host. Inputs that are not a numeric training
    set (or already span processes) come back untouched, for the fit's validation.
    """
    x_host, y_host = _host_rows(x), _host_rows(y)
    if x_host is None or y_host is None or x_host.ndim not in (1, 2) or y_host.shape != x_host.shape[:1]:
        return x, y, weights
    n, padded = len(x_host), padded_length(len(x_host), mesh.size)
    if n == 0:
        return x, y, weights
    x_sharding, y_sharding = row_shardings(mesh)
    if padded != n:
        x_host = np.concatenate([x_host, np.zeros((padded - n, *x_host.shape[1:]), x_host.dtype)])
        y_host = np.concatenate([y_host, np.zeros(padded - n, y_host.dtype)])
        if weights is None:
            weights = (np.arange(padded) < n).astype(np.float32)
        else:
            given = np.asarray(weights)
            weights = np.zeros(padded, np.result_type(given.dtype, np.float32))
            weights[:n] = given
        weights = jax.device_put(weights, y_sharding)
    x_sharding = y_sharding if x_host.ndim == 1 else x_sharding
    return jax.device_put(x_host, x_sharding), jax.device_put(y_host, y_sharding), weights


class Rows(NamedTuple):
    """The data as the fit's core gets it, and the caller's ``Explicit`` mesh to return the results to.

    Also the (empty) context of data that stays where it is.
    """

    x: Any
    y: Any
    weights: Any
    home: Mesh | None

    def __enter__(self) -> "Rows":
        return self

    def __exit__(self, *_: Any) -> None:
        pass


def on_rows_of(
    fn: str, x: Any, y: Any, weights: Any, devices: Any, mesh: Any
) -> contextlib.AbstractContextManager[Rows]:
    """The rows split over ``devices``/``mesh``, or left where they are, relabelled ``Auto`` for the fit."""
    if devices is None and mesh is None and not isinstance(getattr(x, "sharding", None), NamedSharding):
        if not isinstance(getattr(y, "sharding", None), NamedSharding):
            if jax.sharding.get_abstract_mesh().empty or is_traced(x, y):
                return Rows(x, y, weights, None)
    return _split_rows(fn, x, y, weights, devices, mesh)


@contextlib.contextmanager
def _split_rows(fn: str, x: Any, y: Any, weights: Any, devices: Any, mesh: Any) -> Iterator[Rows]:
    if is_traced(x, y):
        raise ValueError(f"{fn}: devices= and mesh= need concrete data; under jax.jit, shard x and y yourself")
    home = None  # the caller's mesh with Explicit axes (the jax.set_mesh context's last), for the results
    for value in (mesh, x, y, jax.sharding.get_mesh()):
        found = value if isinstance(value, Mesh) else getattr(getattr(value, "sharding", None), "mesh", None)
        if isinstance(found, Mesh) and any(t == AxisType.Explicit for t in found.axis_types):
            home = found
            break
    if devices is not None or mesh is not None:
        x, y, weights = shard_rows(x, y, weights, row_mesh(fn, devices, mesh))
    x, y, weights = auto_axes(x), auto_axes(y), auto_axes(weights)
    with auto_axes_context():
        yield Rows(x, y, weights, home)
