"""pytest set-up for tests/ and the doctests in jaxlr/: float64 available, no silent rank promotion."""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
