"""A pure-JAX cart-pole `Physics` for tests: the MotrixSim backend's interface,
with the rigid-body equations of a cart carrying a uniform rod, so PPO and the
env wrapper can be checked without a host callback."""

from __future__ import annotations

import jax.numpy as jnp

from motrix_jax.env import PhysicsView


class ViewPhysics:
    """A physics whose whole state is the view (no contacts): reset and restore."""

    def restore(self, physics_state):
        """Nothing to do: the state lives in the view, in JAX."""

    def reset(self, qpos, qvel):
        return PhysicsView(qpos=qpos, qvel=qvel, contacts=jnp.zeros((qpos.shape[0], 0)),
                           tick=jnp.zeros((), jnp.int32))

    @staticmethod
    def reset_where(mask, reset, current):
        """The worlds' state with the `mask`ed ones put back to `reset` ([N, ...])."""
        return jnp.where(mask[:, None], reset, current)


class JaxCartpolePhysics(ViewPhysics):
    name = "jax-test"
    nq = nv = 2
    nu = 1

    def __init__(self, dt=0.01, cart_mass=1.0, pole_mass=0.1, pole_length=0.6, gear=10.0,
                 slider_damping=0.0):
        self.dt, self.M, self.m, self.L, self.gear = dt, cart_mass, pole_mass, pole_length, gear
        self.damping = slider_damping

    def step(self, view, ctrl, reset_mask, reset_qpos, reset_qvel):
        qpos = self.reset_where(reset_mask, reset_qpos, view.qpos)
        qvel = self.reset_where(reset_mask, reset_qvel, view.qvel)
        M, m, L, g = self.M, self.m, self.L, 9.81
        half = L / 2
        theta, theta_dot = qpos[:, 1], qvel[:, 1]
        force = self.gear * ctrl[:, 0] - self.damping * qvel[:, 0]
        s, c = jnp.sin(theta), jnp.cos(theta)
        # [[M + m, m l c], [m l c, m L^2 / 3]] @ [x_dd, th_dd] = [F + m l th_d^2 s, m g l s]
        a11, a12, a22 = M + m, m * half * c, m * L**2 / 3
        b1, b2 = force + m * half * theta_dot**2 * s, m * g * half * s
        det = a11 * a22 - a12 * a12
        x_dd = (b1 * a22 - a12 * b2) / det
        th_dd = (a11 * b2 - a12 * b1) / det
        qvel = qvel + self.dt * jnp.stack([x_dd, th_dd], -1)
        return PhysicsView(qpos=qpos + self.dt * qvel, qvel=qvel, contacts=view.contacts,
                           tick=view.tick + 1)
