"""The env factory: a task on the physics backend chosen by name.

`make_env(task, num_envs, physics)` builds the batched `Env`; `choose_physics` resolves
`auto` (MJX on a GPU/TPU, MotrixSim on a CPU-only machine). Each backend module is
imported only when chosen (importing MJX sets an XLA flag before JAX starts).
"""

from __future__ import annotations

from motrix_jax.env import Env, Physics
from motrix_jax.task import Task

PHYSICS = ("auto", "motrixsim", "mjx", "mujoco")


def choose_physics(physics: str = "auto") -> tuple[str, str]:
    """(backend, why): `auto` is MJX on a GPU/TPU and MotrixSim on a CPU-only machine."""
    if physics not in PHYSICS:
        raise ValueError(f"unknown physics {physics!r}; available: {', '.join(PHYSICS)}")
    if physics != "auto":
        return physics, "chosen with --physics"
    import jax

    platform = jax.default_backend()
    if platform in ("gpu", "tpu"):
        return "mjx", f"auto: JAX's default backend is {platform}"
    return "motrixsim", f"auto: JAX's default backend is {platform} (MJX is slow on CPU)"


def make_physics(task: Task, physics: str) -> Physics:
    """The backend `physics` (a name of PHYSICS other than auto) for `task`'s scene, with
    the task's domain randomisation and solver settings (`mujoco_solver` for the MuJoCo
    engines, `motrixsim_solver` for MotrixSim) where it has them."""
    randomization, solver = task.randomization, task.mujoco_solver
    args = (task.mjcf(), task.sim_dt, task.ctrl_dt, task.contact_pairs)
    if physics == "mjx":
        if randomization is not None:
            raise ValueError("domain randomisation is implemented for the host backends "
                             "only; use --physics motrixsim or --physics mujoco")
        from motrix_jax.physics.mjx import MjxPhysics

        return MjxPhysics(*args, solver)
    if physics == "mujoco":
        from motrix_jax.physics.mujoco import MujocoPhysics

        return MujocoPhysics(*args, randomization, solver)
    from motrix_jax.physics.motrixsim import MotrixSimPhysics

    return MotrixSimPhysics(*args, randomization, task.motrixsim_solver)


def make_env(task: Task, num_envs: int, physics: str = "motrixsim") -> Env:
    """The batched env of `task` with `num_envs` worlds on `physics` (see PHYSICS)."""
    backend, _ = choose_physics(physics)
    return Env(task, make_physics(task, backend), num_envs)
