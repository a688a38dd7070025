"""dm_hopper_hop's shaped start and low-torso termination (envs/hopper.py), and that
evaluations start the hopper at rest."""

import jax
import jax.numpy as jnp
import numpy as np

from motrix_jax import envs
from motrix_jax.env import PhysicsView


def test_hop_starts_moving_forward_and_evaluations_start_at_rest():
    hop = envs.make_task("dm_hopper_hop")
    assert (hop.start_speed, hop.min_height) == (2.0, 0.3)
    qpos, qvel, _ = hop.reset(jax.random.PRNGKey(0), 512, hop.initial_info(512))
    speed = np.asarray(qvel[:, 0])
    assert 0.0 <= speed.min() < 0.1 and 1.9 < speed.max() <= 2.0  # uniform in [0, 2]
    np.testing.assert_array_equal(qvel[:, 1:], 0.0)
    np.testing.assert_array_equal(qpos[:, :3], 0.0)  # upright, at the origin
    held = envs.evaluation_changes("dm_hopper_hop")
    assert held == {"start_speed": 0.0}
    rest = envs.with_task_changes(hop, held)
    np.testing.assert_array_equal(rest.reset(jax.random.PRNGKey(0), 8, hop.initial_info(8))[1],
                                  0.0)
    # the stand task keeps dm_control's reward and our torso-contact termination alone
    stand = envs.make_task("dm_hopper_stand")
    assert (stand.start_speed, stand.min_height) == (0.0, 0.0)


def test_a_low_torso_ends_the_hop_episode():
    hop, stand = envs.make_task("dm_hopper_hop"), envs.make_task("dm_hopper_stand")
    qpos = np.zeros((2, 7), np.float32)
    qpos[1, 2] = 1.3  # pitched 75 degrees: toppled over, the torso still off the floor
    view = PhysicsView(qpos=jnp.asarray(qpos), qvel=jnp.zeros((2, 7)),
                       contacts=jnp.zeros((2, 3)), tick=jnp.int32(0))
    height = np.asarray(hop.height(view.qpos))
    assert height[0] > 0.9 and height[1] < 0.3, height
    _, failed, _ = hop.evaluate(None, view, hop.initial_info(2), jnp.zeros((2, 4)))
    np.testing.assert_array_equal(failed, [False, True])
    _, failed, _ = stand.evaluate(None, view, stand.initial_info(2), jnp.zeros((2, 4)))
    np.testing.assert_array_equal(failed, [False, False])  # no torso contact
