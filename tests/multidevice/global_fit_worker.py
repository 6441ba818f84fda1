"""One of several processes calling the public ``jaxlr.fit`` on global arrays no process fully holds.

Run by ``tests/test_distributed.py``: ``python tests/multidevice/global_fit_worker.py
PORT PROCESS_ID N_PROCESSES`` with ``JAX_NUM_CPU_DEVICES`` set. Each process
builds its block of the lesson-style data, the blocks form one row-sharded array
on a ``jax.make_mesh`` mesh (``Explicit`` axes), and ``jaxlr.fit`` runs on it as
it is: validation from metadata, finiteness checked on the devices. Prints one
JSON line: the fitted params, and the error a NaN in the last process's rows gives.

With a fourth argument ``die``, the last process exits abruptly instead of
fitting, and the others must notice (heartbeat timeout 5 s) and abort.
"""

import json
import os
import sys

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxlr

ROWS_PER_DEVICE = 4


def global_data(n_processes: int, local_devices: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole data set, which every process can compute, but holds only its block of."""
    n = n_processes * local_devices * ROWS_PER_DEVICE
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([1.0, -2.0, 0.5]) + 0.25


def main() -> int:
    port, process_id, n_processes = (int(a) for a in sys.argv[1:4])
    die = sys.argv[4:] == ["die"]
    jax.config.update("jax_enable_x64", True)
    jaxlr.initialize_distributed(
        f"127.0.0.1:{port}", n_processes, process_id, initialization_timeout=60, heartbeat_timeout=5 if die else 100
    )
    x, y = global_data(n_processes, jax.local_device_count())
    block = len(y) // n_processes
    rows = slice(process_id * block, (process_id + 1) * block)
    devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    mesh = Mesh(np.array(devices), ("data",), axis_types=(AxisType.Explicit,))  # process p: rows block p
    x_sharding, y_sharding = NamedSharding(mesh, P("data", None)), NamedSharding(mesh, P("data"))
    xg = jax.make_array_from_process_local_data(x_sharding, x[rows], x.shape)
    yg = jax.make_array_from_process_local_data(y_sharding, y[rows], y.shape)
    assert not xg.is_fully_addressable
    if die and process_id == n_processes - 1:
        os._exit(3)  # no clean shutdown: as if the machine went away
    params = jaxlr.Params(np.zeros(3), 0.0)
    result = jaxlr.fit(params, xg, yg, learning_rate=0.05, n_iters=30)

    x_bad = x[rows].copy()
    if process_id == n_processes - 1:
        x_bad[-1, 0] = np.nan
    try:
        jaxlr.fit(params, jax.make_array_from_process_local_data(x_sharding, x_bad, x.shape), yg, n_iters=3)
        error = None
    except ValueError as e:
        error = str(e)
    record = {
        "w": np.asarray(result.params.w).tolist(),
        "b": float(result.params.b),
        "loss": np.asarray(result.history.loss).tolist(),
        "nan_error": error,
    }
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
