"""The metric names of a training run, declared once.

`ppo.update` emits the UPDATE names (scalars per seed; the loss terms as
`loss_<term>`, reward terms as `reward_terms/<term>`, task metrics as `task/<name>`);
the session adds the RECORD names to each row of `metrics.jsonl`; TAGS maps both to
TensorBoard; the progress display shows RETURN_MEAN, EPISODE_LENGTH and LEARNING_RATE;
a checkpoint is ranked by its Progress's CHECKPOINT_RETURN.
"""

from __future__ import annotations

# --- what one PPO update emits ------------------------------------------------------
EPISODES = "episodes"  # episodes that ended during the rollout
EPISODE_RETURN = "episode_return"  # mean undiscounted return of those episodes
EPISODE_LENGTH = "episode_length"
REWARD = "reward"  # mean reward per step
NONFINITE_RESETS = "nonfinite_resets"  # worlds reset after non-finite physics
LEARNING_RATE = "learning_rate"
KL = "kl"
POLICY_STD = "policy_std"
LOSS_PREFIX = "loss_"  # loss_policy, loss_value, loss_entropy
PARAMS_FINITE = "params_finite"  # added by the session's chunk; not logged
GROUPS = ("reward_terms/", "task/")  # the env's metrics keep their names

# --- what the session adds to each metrics.jsonl record -----------------------------
RETURN_MEAN = "episode_return_mean"  # over seeds, carried through updates without an end
RETURN_PER_SEED = "episode_return_per_seed"
STEPS_PER_S = "steps_per_s"
COMPILE_S = "compile_s"

# --- a checkpoint's Progress JSON: the return the best checkpoint is chosen by ------
CHECKPOINT_RETURN = "episode_return"

# metrics.jsonl key -> TensorBoard tag; GROUPS keep their key
TAGS = {
    RETURN_MEAN: "episode/return",
    EPISODE_LENGTH: "episode/length",
    REWARD: "reward/total",
    f"{LOSS_PREFIX}policy": "loss/policy",
    f"{LOSS_PREFIX}value": "loss/value",
    f"{LOSS_PREFIX}entropy": "loss/entropy",
    f"{LOSS_PREFIX}distill": "loss/distill",
    KL: "train/kl",
    LEARNING_RATE: "train/learning_rate",
    POLICY_STD: "train/policy_std",
    NONFINITE_RESETS: "metrics/nonfinite_resets",
    STEPS_PER_S: "perf/steps_per_s",
    COMPILE_S: "perf/compile_s",
}


def tensorboard_tag(key: str) -> str | None:
    """The TensorBoard tag of a metrics.jsonl key (None: not written there)."""
    return TAGS.get(key, key if key.startswith(GROUPS) else None)
