"""pytest set-up for tests/ and the doctests in jaxlr/: float64 available, no silent rank promotion.

``JAXLR_TESTS_X64=0`` keeps JAX's default (x64 off): tests/test_dtypes.py runs itself that way in a
subprocess, so that the dtypes users get without x64 are checked too.
"""

import os

import jax

jax.config.update("jax_enable_x64", os.environ.get("JAXLR_TESTS_X64", "1") != "0")
jax.config.update("jax_numpy_rank_promotion", "raise")
