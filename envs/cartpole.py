"""Cart-pole balance: keep a free pole upright on a cart that slides on a rail.

Observation (4): cart position, pole angle, cart velocity, pole angular velocity.
Action (1): cart motor command in [-1, 1] (10 N per unit).
`observed` keeps only those of the four (`--task-set observed=0,3`: cart position and
pole rate); the others read 0. A partially observed cartpole: with positions only
(0,1), or velocities only (2,3), a static linear feedback still balances for 1000 steps
(measured), but not with (0,3) (the best of 600 random gains: 646), while a policy that
integrates the pole rate and differences the cart position (memory) can.
Reward +1 per step; terminated when |angle| > 0.2 rad, |x| > 0.8 m or the
physics is non-finite; truncated after 1000 control steps (10 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp

from motrix_jax.env import PhysicsView, scaled_sum
from motrix_jax.envs.presets import cartpole_preset
from motrix_jax.envs.spec import EnvSpec, Target, at_most
from motrix_jax.task import Task


@dataclass(frozen=True)
class Cartpole(Task):
    name: str = "cartpole"
    xml_path: Path = Path(__file__).parent / "assets" / "cartpole.xml"
    sim_dt: float = 0.01
    ctrl_dt: float = 0.01
    obs_size: int = 4
    action_size: int = 1
    episode_length: int = 1000
    reset_noise: float = 0.01
    max_angle: float = 0.2
    max_cart_position: float = 0.8
    reward_scales: dict[str, float] = field(default_factory=lambda: {"alive": 1.0})
    contact_pairs: tuple[tuple[str, str], ...] = ()
    observed: tuple[int, ...] = (0, 1, 2, 3)

    def __post_init__(self):
        if not set(self.observed) <= {0, 1, 2, 3}:
            raise ValueError(f"observed must hold indices in 0..3 (cart position, pole "
                             f"angle, cart velocity, pole rate), got {self.observed}")

    def mjcf(self) -> str:
        return self.xml_path.read_text()

    def initial_info(self, n: int) -> dict:
        return {}

    def reset(self, key: jax.Array, n: int, info: dict) -> tuple[jax.Array, jax.Array, dict]:
        key_pos, key_vel = jax.random.split(key)
        noise = self.reset_noise
        qpos = jax.random.uniform(key_pos, (n, 2), minval=-noise, maxval=noise)
        qvel = jax.random.uniform(key_vel, (n, 2), minval=-noise, maxval=noise)
        return qpos, qvel, {}

    def observe(self, view: PhysicsView, info: dict) -> jax.Array:
        obs = jnp.concatenate([view.qpos, view.qvel], axis=-1)
        if len(set(self.observed)) == 4:
            return obs
        return obs * jnp.isin(jnp.arange(4), jnp.asarray(self.observed))

    def ctrl(self, action: jax.Array, info: dict) -> jax.Array:
        return jnp.clip(action, -1.0, 1.0)

    def evaluate(self, key: jax.Array, view: PhysicsView, info: dict, action: jax.Array):
        cart, angle = view.qpos[..., 0], view.qpos[..., 1]
        failed = (jnp.abs(angle) > self.max_angle) | (jnp.abs(cart) > self.max_cart_position)
        return {"alive": jnp.ones(view.qpos.shape[:-1])}, failed, info

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        return scaled_sum(terms, self.reward_scales)

    def metrics(self, info: dict) -> dict[str, jax.Array]:
        return {}


ENVS = [
    EnvSpec("cartpole", Cartpole, cartpole_preset,
            Target("upright for the whole episode",
                   (at_most("envs that failed", "eval/fell", 0.05),), minutes=3),
            aliases=("CartPole",), summary="balance a pole on a sliding cart"),
]
