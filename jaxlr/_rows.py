"""Data parallelism over devices: rows split across a mesh, padded with rows of sample weight 0.

``jax.jit`` partitions the single-device fit over the rows' mesh (``Auto`` or ``Explicit`` axes): each device
reduces its own rows and XLA all-reduces a step's sums; ``x`` is never gathered.
"""

import collections
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxlr._validate import is_traced

# The data as the fit's core gets it, the mesh the fit runs under (``jax.set_mesh``; None: as the data lies), and
# the caller's ``Explicit`` mesh (or None) to return the results to.
Rows = collections.namedtuple("Rows", "x y weights mesh home")


def on_rows_of(fn: str, x: Any, y: Any, weights: Any, devices: Any, mesh: Any) -> Rows:
    """The rows split over ``devices`` (an int: the first of ``jax.devices()``) or ``mesh``."""
    if devices is None and mesh is None:
        return Rows(x, y, weights, None, None)  # data stays where it is, sharded or not
    if is_traced(x, y):
        raise ValueError(f"{fn}: devices= and mesh= need concrete data; under jax.jit, shard x and y yourself")
    meshes = [mesh, *(getattr(getattr(v, "sharding", None), "mesh", None) for v in (x, y)), jax.sharding.get_mesh()]
    home = next((m for m in meshes if isinstance(m, Mesh) and AxisType.Explicit in m.axis_types), None)
    available = jax.devices()
    if devices is not None and mesh is not None:
        raise ValueError(f"{fn}: pass devices= or mesh=, not both")
    if mesh is not None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"{fn}: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"{fn}: devices={int(devices)} but {len(available)} {available[0].platform} device(s) are "
                f"available; expected 1 to {len(available)}"
            )
        devices = available[: int(devices)]
    elif not (isinstance(devices, Sequence) and devices and all(isinstance(d, jax.Device) for d in devices)):
        raise TypeError(
            f"{fn}: devices must be a positive int or a non-empty sequence of jax devices "
            f"(e.g. jax.devices()), got {type(devices).__name__}"
        )
    elif len(set(devices)) != len(devices):
        raise ValueError(f"{fn}: devices lists the same device more than once: {list(devices)}")
    mesh = Mesh(np.array(devices), ("data",)) if mesh is None else mesh
    x_host, y_host, w_host = np.asarray(x), np.asarray(y), None if weights is None else np.asarray(weights)
    n = len(x_host) if x_host.ndim in (1, 2) else 0
    if n and y_host.shape == (n,) and (w_host is None or w_host.shape == (n,)):  # else: for the fit's validation
        x, y, weights = global_rows(mesh, [n], x_host, y_host, w_host)
    return Rows(x, y, weights, mesh, home)


def restore_axes(tree: Any, home: Mesh | None) -> Any:
    """The fit's (replicated) outputs put on ``home``, the caller's ``Explicit`` mesh."""
    return tree if home is None else jax.device_put(tree, NamedSharding(home, PartitionSpec()))


def global_rows(mesh: Mesh, counts: Any, x: Any, y: Any, weights: Any) -> Any:
    """This process's rows, padded to the longest of ``counts`` with rows of weight 0, as global arrays."""
    block = -(-int(max(counts)) // len(mesh.local_devices)) * len(mesh.local_devices)
    if weights is None and block * len(counts) != sum(counts):
        weights = np.ones(len(x), np.float32)
    padded = jax.tree.map(lambda a: np.pad(a, [(0, block - len(a))] + [(0, 0)] * (a.ndim - 1)), (x, y, weights))
    return jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec(mesh.axis_names)), padded)
