"""Built-in data."""

import jax
import jax.numpy as jnp


def lesson_data() -> tuple[jax.Array, jax.Array]:
    """The lesson's training set: ``X = [1, 2, 3, 4]``, ``Y = 2 * X``, float32.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> x.tolist(), y.tolist()
      ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0])
    """
    x = jnp.array([1.0, 2.0, 3.0, 4.0], dtype=jnp.float32)
    return x, 2 * x
