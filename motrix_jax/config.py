"""PPO configuration: one frozen dataclass, validated on construction.

Field names and defaults follow MotrixLab's skrl PPO settings so its users
recognise them. Derived sizes are properties; nothing is filled in later.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass

from motrix_jax.names import did_you_mean


@dataclass(frozen=True, kw_only=True)
class PPOConfig:
    # Networks
    policy_hidden_sizes: tuple[int, ...] = (256, 128, 64)
    """Hidden layer widths of the policy MLP (ELU activations)."""
    value_hidden_sizes: tuple[int, ...] = (256, 128, 64)
    """Hidden layer widths of the value MLP (ignored when share_features)."""
    share_features: bool = False
    """One trunk (policy_hidden_sizes) with a policy head and a value head."""
    initial_log_std: float = 0.0
    """Initial state-independent log standard deviation of the Gaussian policy."""
    policy_memory: str = "none"
    """Recurrent actor-critic: "gru" or "lstm" puts one recurrent layer of memory_size
    before each MLP (policy and value each their own), trained over whole env
    trajectories of each rollout (truncated BPTT, rsl_rl's scheme); "none" is feed-forward."""
    memory_size: int = 64
    """Hidden units of the recurrent layer (with policy_memory)."""

    # Rollout and update sizes
    num_envs: int = 2048
    """Parallel environments per seed."""
    rollouts: int = 32
    """Control steps collected per environment before each update."""
    learning_epochs: int = 2
    """Passes over the rollout batch per update."""
    mini_batches: int = 32
    """Minibatches each epoch is split into."""

    # Returns and advantages
    discount_factor: float = 0.99
    lambda_param: float = 0.95
    """GAE lambda."""
    time_limit_bootstrap: bool = True
    """Bootstrap truncated (time-limit) steps with V(final_obs)."""
    rewards_shaper_scale: float = 1.0
    """Rewards are multiplied by this before learning."""

    # Optimisation
    learning_rate: float = 1e-3
    learning_rate_scheduler_kl_threshold: float = 0.008
    """KL-adaptive learning rate target (skrl KLAdaptiveLR); 0 keeps the rate fixed."""
    grad_norm_clip: float = 1.0
    """Global gradient-norm clip; 0 disables."""
    ratio_clip: float = 0.2
    value_clip: float = 0.2
    clip_predicted_values: bool = True
    entropy_loss_scale: float = 0.0
    value_loss_scale: float = 2.0

    # Preprocessing
    state_preprocessor: bool = True
    """Normalise observations with running statistics."""
    value_preprocessor: bool = True
    """Learn values in units normalised by running return statistics."""

    # Symmetry
    symmetry_augmentation: bool = False
    """Each minibatch gains its left-right mirror image (the task's `mirrors()`): mirrored
    observations and actions with the original log-probabilities, advantages and returns
    (rsl_rl's symmetry data augmentation); the update's batches are twice as large."""

    # Distillation
    distill_from: str = ""
    """A trained teacher's run folder (`--distill-from RUN`): the policy learns to give the
    teacher's deterministic actions on its own rollouts (DAgger, a behaviour-cloning loss)
    from the task's `student_observe` while the teacher reads the task's observation;
    "" trains with PPO."""

    # Run
    max_env_steps: int = 3_000_000
    """Total env steps per seed; rounded down to whole updates."""
    seed: int = 0
    num_seeds: int = 1
    """Independent seeds trained in one program with jax.vmap."""
    check_point_interval: int = 100
    """Updates between checkpoints / host-side logging chunks."""

    def __post_init__(self) -> None:
        check_types(self)
        for name in ("num_envs", "rollouts", "learning_epochs", "mini_batches",
                     "num_seeds", "check_point_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name, most in LIMITS.items():
            if getattr(self, name) > most:
                raise ValueError(f"{name} = {getattr(self, name):,} is beyond what can run "
                                 f"(at most {most:,})")
        for name in ("policy_hidden_sizes", "value_hidden_sizes"):
            sizes = getattr(self, name)
            if not sizes or any(s < 1 or s > MAX_WIDTH for s in sizes):
                raise ValueError(f"{name} must be a non-empty tuple of widths in 1 .. "
                                 f"{MAX_WIDTH}, got {sizes}")
        check_memory(self)
        if not 0 <= self.seed <= 2**31 - self.num_seeds:
            raise ValueError(f"seed must be in 0 .. 2**31 - num_seeds, got {self.seed}")
        if self.batch_size % self.mini_batches:
            raise ValueError(
                f"num_envs * rollouts = {self.batch_size} is not divisible by "
                f"mini_batches = {self.mini_batches}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        for name in ("discount_factor", "lambda_param"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("learning_rate_scheduler_kl_threshold", "grad_norm_clip",
                     "ratio_clip", "value_clip", "entropy_loss_scale", "value_loss_scale"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_env_steps < self.batch_size:
            raise ValueError(
                f"max_env_steps = {self.max_env_steps} is less than one update "
                f"(num_envs * rollouts = {self.batch_size})")

    @property
    def batch_size(self) -> int:
        """Transitions per update, per seed."""
        return self.num_envs * self.rollouts

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.mini_batches

    @property
    def num_updates(self) -> int:
        return self.max_env_steps // self.batch_size


MEMORIES = ("none", "gru", "lstm")


def check_memory(cfg: PPOConfig) -> None:
    """ValueError for a recurrent config that cannot run: an unknown memory, or one
    combined with what it does not support."""
    if cfg.policy_memory not in MEMORIES:
        raise ValueError(f"policy_memory must be one of {', '.join(MEMORIES)}, got "
                         f"{cfg.policy_memory!r}{did_you_mean(cfg.policy_memory, MEMORIES)}")
    if not 1 <= cfg.memory_size <= MAX_WIDTH:
        raise ValueError(f"memory_size must be in 1 .. {MAX_WIDTH}, got {cfg.memory_size}")
    if cfg.distill_from and cfg.symmetry_augmentation:
        raise ValueError("symmetry_augmentation is not supported with distill_from (the "
                         "student imitates the teacher; set it off)")
    if cfg.policy_memory == "none":
        return
    for name in ("symmetry_augmentation", "share_features"):
        if getattr(cfg, name):
            raise ValueError(f"{name} is not supported with policy_memory="
                             f"{cfg.policy_memory} (set one of them off)")
    if cfg.num_envs % cfg.mini_batches:
        raise ValueError(f"policy_memory={cfg.policy_memory} splits the rollout into "
                         f"minibatches of whole env trajectories: num_envs = {cfg.num_envs} "
                         f"must be divisible by mini_batches = {cfg.mini_batches}")


FIELDS = {f.name: f for f in dataclasses.fields(PPOConfig)}
# Sizes beyond these cannot run on any machine (memory, or years of compute); they
# are refused before anything is compiled or written.
LIMITS = {"num_envs": 2**22, "rollouts": 100_000, "learning_epochs": 10_000,
          "mini_batches": 2**24, "num_seeds": 4096, "check_point_interval": 10**9,
          "max_env_steps": 10**15}
MAX_WIDTH = 65_536


def check_types(cfg: PPOConfig) -> None:
    """ValueError naming the first field whose value is not of its declared kind:
    integers integral (not bool), floats finite numbers, bools bools, tuples of
    integers (what a hand-edited config.json may get wrong)."""
    hints = typing.get_type_hints(PPOConfig)
    for name in FIELDS:
        value, kind = getattr(cfg, name), hints[name]
        if kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is bool:
            ok = isinstance(value, bool)
        elif kind is str:
            ok = isinstance(value, str)
        else:  # a tuple of integers
            ok = isinstance(value, tuple) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value)
        if not ok:
            raise ValueError(f"{name} must be {KIND_WORDS[kind]}, got {value!r}")


def parse_ints(text: str) -> tuple[int, ...]:
    """ "64,64", "(0, 3, 5)" or "0 3 5" -> a tuple of ints; ValueError otherwise."""
    return tuple(int(p) for p in text.strip("()[] ").replace(",", " ").split())


TYPE_WORDS = {bool: "true/false", int: "an integer", float: "a number"}
KIND_WORDS = {bool: "true or false", int: "an integer", float: "a finite number", str: "text",
              tuple[int, ...]: "a tuple of integers"}


def parse_typed(name: str, kind: typing.Any, text: str, example: str = "64,64") -> typing.Any:
    """`text` as a value of `kind` (bool, int, float, str, or a tuple of integers, shown
    as `example` in the error) for field `name`; ValueError names the field."""
    try:
        return _parse(kind, text)
    except ValueError:
        shown = TYPE_WORDS.get(kind, "comma-separated numbers, e.g. -1,0.5"
                               if typing.get_args(kind)[:1] == (float,)
                               else f"comma-separated integers, e.g. {example}")
        raise ValueError(f"{name}={text!r}: expected {shown}") from None


def _parse(kind: typing.Any, text: str) -> typing.Any:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(text)
        return lowered in ("true", "1", "yes")
    if kind is int:  # "1e6" is an integer, "1.5" is not
        number = float(text)
        if not number.is_integer():
            raise ValueError(text)
        return int(number)
    if kind is float:
        return float(text)
    if kind is str:
        return text
    if typing.get_origin(kind) is tuple and typing.get_args(kind)[:1] == (float,):
        return tuple(float(p) for p in text.strip("()[] ").replace(",", " ").split())
    if kind is tuple or typing.get_origin(kind) is tuple:  # of integers
        return parse_ints(text)
    raise TypeError(f"cannot parse a {kind} from text")


def parse_value(name: str, text: str) -> typing.Any:
    """Parse `text` as the type of PPOConfig field `name`; ValueError names the field."""
    if name not in FIELDS:
        raise ValueError(f"unknown config field {name!r}{did_you_mean(name, FIELDS)}; "
                         f"fields: {', '.join(FIELDS)}")
    return parse_typed(name, typing.get_type_hints(PPOConfig)[name], text)


def with_overrides(cfg: PPOConfig, assignments: typing.Iterable[str],
                   changes: dict | None = None) -> PPOConfig:
    """`cfg` with `changes` and the `field=value` strings applied at once (so a config
    valid only after all of them is accepted); ValueError naming the bad field."""
    changes = dict(changes or {})
    for item in assignments:
        if "=" not in item:
            raise ValueError(f"--set expects field=value, got {item!r}")
        name, text = item.split("=", 1)
        changes[name.strip()] = parse_value(name.strip(), text)
    return dataclasses.replace(cfg, **changes)
