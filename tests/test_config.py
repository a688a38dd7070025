import dataclasses

import pytest

from motrix_jax.config import PPOConfig, parse_value, with_overrides


def test_defaults_match_skrl_names_and_values():
    cfg = PPOConfig()
    assert cfg.rollouts == 32 and cfg.learning_epochs == 2 and cfg.mini_batches == 32
    assert cfg.value_loss_scale == 2.0 and cfg.learning_rate_scheduler_kl_threshold == 0.008
    assert cfg.batch_size == 2048 * 32
    assert cfg.minibatch_size == 2048


def test_indivisible_minibatches_names_the_numbers():
    with pytest.raises(ValueError, match="num_envs \\* rollouts = 300 is not divisible by "
                                         "mini_batches = 32"):
        PPOConfig(num_envs=10, rollouts=30, mini_batches=32)


@pytest.mark.parametrize("field,value", [("learning_rate", -1e-3), ("discount_factor", 1.5),
                                         ("num_envs", 0), ("ratio_clip", -0.1)])
def test_invalid_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        PPOConfig(**{field: value})


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PPOConfig().learning_rate = 1.0


def test_overrides_are_typed():
    cfg = with_overrides(PPOConfig(), ["learning_rate=3e-4", "share_features=true",
                                       "policy_hidden_sizes=64,32", "rollouts=24",
                                       "max_env_steps=1e6"])
    assert cfg.learning_rate == 3e-4 and cfg.share_features is True
    assert cfg.policy_hidden_sizes == (64, 32) and cfg.rollouts == 24
    assert cfg.max_env_steps == 1_000_000 and isinstance(cfg.max_env_steps, int)


def test_unknown_field_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'learning_rate'"):
        parse_value("learning_rat", "1")


@pytest.mark.parametrize("item,message", [("rollouts=abc", "rollouts='abc': expected an integer"),
                                          ("share_features=maybe", "expected true/false"),
                                          ("rollouts", "expects field=value")])
def test_bad_override_messages(item, message):
    with pytest.raises(ValueError, match=message):
        with_overrides(PPOConfig(), [item])
