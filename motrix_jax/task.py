"""The task interface: every member a task has, and every optional hook with its default.

A task is a frozen dataclass that subclasses `Task`:

    @dataclass(frozen=True)
    class Pendulum(Task):
        name: str = "pendulum"
        ...

Its dataclass fields are its settings: what `--task-set field=value` changes, what a
run's config.json records as `task_changes`, and what export writes as `task_fields`
(`motrix_jax.envs.with_task_changes` replaces them with `dataclasses.replace`, so a task
must be a dataclass). Task logic is written once in jax.numpy against a `PhysicsView`,
for a batch of N worlds, and runs on every physics engine.

Required: the members under "Every task has" (as fields or properties) and the methods
marked abstract (a subclass lacking one cannot be built). Optional: the hooks under
"Optional"; their defaults here switch the feature off. A field that overrides an
optional member must give its own default (a dataclass takes a missing default from
this class: `robot: str` alone would default to None).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import jax

from motrix_jax.env import (
    Info,
    MotrixSimSolver,
    PhysicsView,
    Randomization,
    SolverOptions,
    scaled_sum,
)
from motrix_jax.symmetry import Mirrors


class Task(abc.ABC):
    """A task: its scene, sizes, episodes, observation, actions, rewards and metrics."""

    # --- Every task has ---------------------------------------------------------------
    name: str  # the registered env name (runs, logs and exports are named by it)
    obs_size: int  # the policy's observation width
    action_size: int  # the policy's action width
    episode_length: int  # control steps before truncation (the time limit)
    sim_dt: float  # seconds per physics step
    ctrl_dt: float  # seconds per control step (a whole multiple of sim_dt)
    reward_scales: dict[str, float]  # reward term -> scale; every term is logged unscaled
    contact_pairs: tuple[tuple[str, str], ...]  # geom-name pairs reported in view.contacts

    @abc.abstractmethod
    def mjcf(self) -> str:
        """The scene's MJCF text (primitive collision geometry; every engine loads it)."""

    @abc.abstractmethod
    def initial_info(self, n: int) -> Info:
        """Task info before the first episode (e.g. curriculum level 0); leaves [n, ...]."""

    @abc.abstractmethod
    def reset(self, key: jax.Array, n: int, info: Info) -> tuple[jax.Array, jax.Array, Info]:
        """Sample n initial (qpos [n, nq], qvel [n, nv], info); `info` is that of the
        episodes that just ended (read it for a curriculum)."""

    @abc.abstractmethod
    def observe(self, view: PhysicsView, info: Info) -> jax.Array:
        """Observation [N, obs_size]. On the first step of an episode `view.contacts`
        is all zeros (the initial state has not been simulated yet)."""

    @abc.abstractmethod
    def ctrl(self, action: jax.Array, info: Info) -> jax.Array:
        """Map policy actions [N, action_size] to actuator controls [N, nu] in the
        episodes of `info` (e.g. a low-pass action filter whose state lives in info)."""

    @abc.abstractmethod
    def evaluate(self, key: jax.Array, view: PhysicsView, info: Info,
                 action: jax.Array) -> tuple[dict[str, jax.Array], jax.Array, Info]:
        """After a step: unscaled reward terms (each [N], one per key of reward_scales),
        failure [N] bool (terminates without bootstrap), next info."""

    def reward(self, terms: dict[str, jax.Array], failed: jax.Array) -> jax.Array:
        """Combine the terms into the reward [N]. Default: `scaled_sum` of the terms by
        `reward_scales` (a task may, e.g., zero the reward of a failed step)."""
        return scaled_sum(terms, self.reward_scales)

    def metrics(self, info: Info) -> dict[str, jax.Array]:
        """Task quantities worth logging as `task/<name>`, each [N] (e.g. a curriculum
        level; `episode_*` ones are read by play at each episode's end). Default: none."""
        return {}

    # --- Optional -----------------------------------------------------------------------
    # The privileged critic: the critic's own observation, e.g. foot contacts or terrain
    # heights a real robot cannot measure (the policy never sees it). None: the critic
    # reads the policy's observation.
    critic_obs_size: int | None = None

    def critic_observe(self, view: PhysicsView, info: Info) -> jax.Array | None:
        """The critic's observation [N, critic_obs_size], or None (the default) where the
        critic reads the policy's."""
        return None

    def mirrors(self) -> Mirrors | None:
        """The task's left-right mirrors of observation, action and critic observation
        (`symmetry.Mirrors`), which symmetry augmentation needs; None: it declares none."""
        return None

    @property
    def student_obs_size(self) -> int:
        """A distilled student's observation width (`--distill-from`). Default: obs_size."""
        return self.obs_size

    def student_observe(self, view: PhysicsView, info: Info) -> jax.Array:
        """What a distilled student observes, [N, student_obs_size] (e.g. proprioception
        without terrain heights). Default: the policy's observation."""
        return self.observe(view, info)

    def video_marks(self, view: PhysicsView, info: Info) -> dict[str, jax.Array]:
        """What a video or the viewer draws and prints per frame, each [N, k]: "command"
        and "velocity" (vx, vy, yaw rate in the body frame), "target" (a world
        position). Default: none."""
        return {}

    def export_metadata(self) -> dict[str, Any]:
        """What a robot-side program needs beyond the task's fields (e.g. joint order,
        default pose, gains), written JSON-encoded into the ONNX metadata. Default: none."""
        return {}

    def evaluation_changes(self) -> dict[str, Any]:
        """The field changes an evaluation of the task holds (play, the suite, sim2sim):
        a command curriculum at its full ranges, each robot kept on its starting terrain
        level, every robot starting at its course's start, a hopper at rest. Default:
        those of the fields the task has."""
        held = {"command_levels": 1, "terrain_curriculum": False, "course_spawns": 0.0,
                "start_speed": 0.0}
        fields = {field.name for field in dataclasses.fields(self)}
        return {k: v for k, v in held.items() if k in fields}

    # Domain randomisation: physical parameters drawn per world when the batch of worlds
    # is created (the host engines); None: none.
    randomization: Randomization | None = None
    # MuJoCo's solver settings for MJX and MuJoCo C; None: MuJoCo's defaults.
    mujoco_solver: SolverOptions | None = None
    # MotrixSim's solver budget; None: MotrixSim's defaults.
    motrixsim_solver: MotrixSimSolver | None = None
    # The robot a task drives, where one task class serves several (Go1/Go2, VBot/ANYmal):
    # `--init-from` carries a policy only between tasks of the same class and robot.
    robot: str | None = None
