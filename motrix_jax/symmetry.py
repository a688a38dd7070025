"""Left-right symmetry: how a task mirrors its observations and actions.

A `Mirror` maps a vector to that of the mirror-image robot (reflected in its sagittal
plane, y -> -y): an index permutation (left and right legs swap) with sign flips
(lateral velocity, roll and yaw rates, abduction angles). A task declares its mirrors
with `mirrors()`; with `PPOConfig.symmetry_augmentation` every PPO minibatch gains its
mirrored copy (`ppo.mirrored`, rsl_rl's symmetry data augmentation).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np


@dataclass(frozen=True)
class Mirror:
    """x -> x[..., perm] * sign, the mirror image of vectors x [..., size]."""

    perm: tuple[int, ...]
    sign: tuple[float, ...]

    def __post_init__(self):
        if sorted(self.perm) != list(range(len(self.perm))):
            raise ValueError(f"perm is not a permutation of 0..{len(self.perm) - 1}")
        if len(self.sign) != len(self.perm) or any(abs(s) != 1.0 for s in self.sign):
            raise ValueError("sign needs one +1 or -1 per index of perm")

    @property
    def size(self) -> int:
        return len(self.perm)

    def __call__(self, x: jax.Array) -> jax.Array:
        return x[..., np.asarray(self.perm)] * np.asarray(self.sign, x.dtype)

    def __add__(self, other: Mirror) -> Mirror:
        """The mirror of the concatenation [x, y] from those of x and y."""
        return Mirror(self.perm + tuple(i + self.size for i in other.perm),
                      self.sign + other.sign)

    def is_involution(self) -> bool:
        """Mirroring twice gives the vector back."""
        perm, sign = np.asarray(self.perm), np.asarray(self.sign)
        return bool((perm[perm] == np.arange(self.size)).all() and (sign[perm] * sign == 1).all())


def signs(*sign: float) -> Mirror:
    """A vector whose components keep their places and flip where the sign is -1."""
    return Mirror(tuple(range(len(sign))), tuple(float(s) for s in sign))


def keep(size: int) -> Mirror:
    """A vector the mirror leaves unchanged (distances, flags)."""
    return signs(*(1.0,) * size)


def blocks(order: tuple[int, ...], block: Mirror) -> Mirror:
    """Equal blocks (e.g. legs) that trade places as `order` says (block i takes block
    order[i]'s values), each mirrored by `block`."""
    n = block.size
    return Mirror(tuple(order[b] * n + block.perm[j] for b in range(len(order)) for j in range(n)),
                  block.sign * len(order))


def grid(rows: int, cols: int) -> Mirror:
    """A row-major grid of values [rows, cols] whose columns run across (y): the mirror
    reverses the columns."""
    return Mirror(tuple(r * cols + (cols - 1 - c) for r in range(rows) for c in range(cols)),
                  (1.0,) * (rows * cols))


@dataclass(frozen=True)
class Mirrors:
    """A task's mirrors: of its observation, its action and, where the critic has its
    own observation, of that."""

    obs: Mirror
    action: Mirror
    critic_obs: Mirror | None = None

    def all(self) -> dict[str, Mirror]:
        return {k: v for k, v in vars(self).items() if v is not None}
