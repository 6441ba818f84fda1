"""Fit a linear model to a CSV file across processes and hosts with jax.distributed.

Run the same command on every process; see ``--help`` and README.md, "Scaling
out". The logic lives in ``jaxlr._distributed``.
"""

from jaxlr._distributed import script_main

if __name__ == "__main__":
    raise SystemExit(script_main())
