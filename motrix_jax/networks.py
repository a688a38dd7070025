"""Flax actor-critic: ELU MLPs, Gaussian policy with a state-independent log-std; and
its recurrent form (one GRU or LSTM layer before each MLP, PyTorch's gate equations)."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
    hidden_sizes: Sequence[int]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, width in enumerate(self.hidden_sizes):
            x = nn.elu(nn.Dense(width, name=f"dense_{i}")(x))
        return x


class ActorCritic(nn.Module):
    """Maps normalised observations [..., obs] to (action mean [..., act], log_std [act],
    value [...]).

    The value trunk reads `critic_obs` [..., critic_obs] where the task gives its critic
    its own observation (an asymmetric actor-critic), else the policy's; `policy` needs
    the policy's observation alone (what play, export and `load_policy` call). With
    `share_features`, one trunk (policy_hidden_sizes) feeds both heads.
    """

    action_size: int
    policy_hidden_sizes: Sequence[int]
    value_hidden_sizes: Sequence[int]
    share_features: bool = False
    initial_log_std: float = 0.0

    def setup(self):
        self.policy_trunk = MLP(self.policy_hidden_sizes)
        if not self.share_features:
            self.value_trunk = MLP(self.value_hidden_sizes)
        # A near-zero initial mean keeps the first policy close to pure exploration
        # noise instead of a random feedback law, which often destabilises the robot
        # (Andrychowicz et al. 2021, "What matters in on-policy RL").
        self.policy_head = nn.Dense(self.action_size, kernel_init=nn.initializers.
                                    variance_scaling(1e-4, "fan_in", "truncated_normal"))
        self.value_head = nn.Dense(1)
        self.log_std = self.param("log_std", nn.initializers.constant(self.initial_log_std),
                                  (self.action_size,))

    def policy(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(action mean, log_std) from the policy's observation alone."""
        return self.policy_head(self.policy_trunk(obs)), self.log_std

    def value(self, obs: jax.Array, critic_obs: jax.Array | None = None) -> jax.Array:
        """The value from `critic_obs` where given, else from `obs` (shared features read
        the policy's observation; `ppo.check_env` refuses a critic observation there)."""
        if self.share_features:
            return self.value_head(self.policy_trunk(obs))[..., 0]
        return self.value_head(self.value_trunk(obs if critic_obs is None
                                                else critic_obs))[..., 0]

    def __call__(self, obs: jax.Array, critic_obs: jax.Array | None = None
                 ) -> tuple[jax.Array, jax.Array, jax.Array]:
        mean, log_std = self.policy(obs)
        return mean, log_std, self.value(obs, critic_obs)


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    """Log-density of a diagonal Gaussian, summed over the last axis."""
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    return jnp.sum(log_std + 0.5 * (1.0 + jnp.log(2 * jnp.pi)), axis=-1)


class GRUCell(nn.Module):
    """PyTorch's GRU step (gates r, z, n; both biases): [..., in], [..., H] -> [..., H].
    `project` (the input's share of the gates) does not depend on the memory, so a
    sequence projects all its steps at once and scans only `advance`."""

    size: int

    def setup(self):
        self.input = nn.Dense(3 * self.size)
        self.hidden = nn.Dense(3 * self.size)

    def project(self, x: jax.Array) -> jax.Array:
        return self.input(x)

    def advance(self, gi: jax.Array, h: jax.Array) -> jax.Array:
        (ir, iz, in_), (hr, hz, hn) = jnp.split(gi, 3, -1), jnp.split(self.hidden(h), 3, -1)
        r, z = nn.sigmoid(ir + hr), nn.sigmoid(iz + hz)
        n = jnp.tanh(in_ + r * hn)
        return (1.0 - z) * n + z * h

    def __call__(self, x: jax.Array, h: jax.Array) -> jax.Array:
        return self.advance(self.project(x), h)


class LSTMCell(GRUCell):
    """PyTorch's LSTM step (gates i, f, g, o; both biases) on a carry [..., 2H] holding
    (cell, hidden) side by side, so every memory is one array."""

    def setup(self):
        self.input = nn.Dense(4 * self.size)
        self.hidden = nn.Dense(4 * self.size)

    def advance(self, gi: jax.Array, carry: jax.Array) -> jax.Array:
        c, h = jnp.split(carry, 2, -1)
        i, f, g, o = jnp.split(gi + self.hidden(h), 4, -1)
        c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
        return jnp.concatenate([c, nn.sigmoid(o) * jnp.tanh(c)], -1)


CELLS = {"gru": GRUCell, "lstm": LSTMCell}


def memory_width(kind: str, size: int) -> int:
    """Floats of one memory (per env and network): H for a GRU, 2H (cell, hidden) for an
    LSTM."""
    return 2 * size if kind == "lstm" else size


def memory_output(kind: str, memory: jax.Array) -> jax.Array:
    """What the layer passes on: the hidden state (an LSTM's second half)."""
    return jnp.split(memory, 2, -1)[1] if kind == "lstm" else memory


class RecurrentActorCritic(nn.Module):
    """ActorCritic with memory: `memory` [..., memory_width] per network, the policy's
    and the value's (`{"policy": ..., "value": ...}`), each one recurrent layer over the
    normalised observation whose output feeds that network's MLP (rsl_rl's
    ActorCriticRecurrent). One call is one control step. For sequences the steps split
    into `project` (all steps at once), `advance` (the scan) and `heads` (all at once).
    `parts` names the networks to run: ("policy",) for acting and imitation."""

    action_size: int
    policy_hidden_sizes: Sequence[int]
    value_hidden_sizes: Sequence[int]
    memory: str = "gru"
    memory_size: int = 64
    initial_log_std: float = 0.0

    def setup(self):
        self.policy_memory = CELLS[self.memory](self.memory_size)
        self.value_memory = CELLS[self.memory](self.memory_size)
        self.policy_trunk = MLP(self.policy_hidden_sizes)
        self.value_trunk = MLP(self.value_hidden_sizes)
        self.policy_head = nn.Dense(self.action_size, kernel_init=nn.initializers.
                                    variance_scaling(1e-4, "fan_in", "truncated_normal"))
        self.value_head = nn.Dense(1)
        self.log_std = self.param("log_std", nn.initializers.constant(self.initial_log_std),
                                  (self.action_size,))

    def cells(self) -> dict:
        return {"policy": self.policy_memory, "value": self.value_memory}

    def project(self, inputs: dict) -> dict:
        """{part: its observation [..., in]} -> {part: the input's gate share}."""
        return {part: self.cells()[part].project(x) for part, x in inputs.items()}

    def advance(self, projected: dict, memory: dict) -> dict:
        """One step of each part's memory from its projected input."""
        return {part: self.cells()[part].advance(g, memory[part])
                for part, g in projected.items()}

    def heads(self, memory: dict) -> dict:
        """{"policy": (mean, log_std), "value": value} from the parts' memories."""
        out = {}
        if "policy" in memory:
            features = self.policy_trunk(memory_output(self.memory, memory["policy"]))
            out["policy"] = (self.policy_head(features), self.log_std)
        if "value" in memory:
            features = self.value_trunk(memory_output(self.memory, memory["value"]))
            out["value"] = self.value_head(features)[..., 0]
        return out

    def policy(self, obs: jax.Array, memory: jax.Array
               ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(action mean, log_std, the policy's next memory) from its observation alone."""
        memory = self.advance(self.project({"policy": obs}), {"policy": memory})
        return (*self.heads(memory)["policy"], memory["policy"])

    def value(self, obs: jax.Array, memory: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(value, the value's next memory) from the critic's observation (or the
        policy's where the task gives the critic none)."""
        memory = self.advance(self.project({"value": obs}), {"value": memory})
        return self.heads(memory)["value"], memory["value"]

    def __call__(self, obs: jax.Array, critic_obs: jax.Array | None, memory: dict):
        """(mean, log_std, value, next memory) for one step."""
        inputs = {"policy": obs, "value": obs if critic_obs is None else critic_obs}
        memory = self.advance(self.project(inputs), memory)
        out = self.heads(memory)
        return (*out["policy"], out["value"], memory)


def make_network(cfg, action_size: int) -> ActorCritic | RecurrentActorCritic:
    if getattr(cfg, "policy_memory", "none") != "none":
        return RecurrentActorCritic(
            action_size=action_size, policy_hidden_sizes=tuple(cfg.policy_hidden_sizes),
            value_hidden_sizes=tuple(cfg.value_hidden_sizes), memory=cfg.policy_memory,
            memory_size=cfg.memory_size, initial_log_std=cfg.initial_log_std)
    return ActorCritic(action_size=action_size,
                       policy_hidden_sizes=tuple(cfg.policy_hidden_sizes),
                       value_hidden_sizes=tuple(cfg.value_hidden_sizes),
                       share_features=cfg.share_features,
                       initial_log_std=cfg.initial_log_std)
