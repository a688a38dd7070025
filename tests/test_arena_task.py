"""Navigation on the MotrixArena course: the lane routes earn the score they are meant
to, episodes start on the start platforms at 100 Hz, the balls' state follows the
robot's, course spawns along a route void that section, and the score, falls and ball
touches are wired through `evaluate` and `metrics`."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from motrix_jax import envs
from motrix_jax.env import PhysicsView
from motrix_jax.envs import arena_routes, arena_score, courses, navigation

ARENA = ["vbot_navigation_section011", "vbot_navigation_section012",
         "vbot_navigation_section013", "vbot_navigation_section002"]


def score_along(course: str, route: np.ndarray, under_bridge: bool = False,
                height: float = 0.27):
    """The score state after a base follows `route` [K, 2] in 0.05 m steps, `height`
    above the course's top surface (`under_bridge`: above the valley under the deck)."""
    track = courses.build(course, 0)
    pts = [np.linspace(a, b, max(2, int(np.linalg.norm(b - a) / 0.05)), endpoint=False)
           for a, b in itertools.pairwise(route)]
    xy = np.concatenate([*pts, route[-1:]])
    z = track.height_at(xy[:, 0], xy[:, 1]) + height
    if under_bridge:
        deck = (xy[:, 0] > -4.4) & (xy[:, 0] < -1.6) & (xy[:, 1] > 15.2) & (xy[:, 1] < 20.4)
        z = np.where(deck, courses.valley_height(xy[:, 1]) + height, z)
    pos = jnp.asarray(np.concatenate([xy, z[:, None]], -1), jnp.float32)[:, None]
    state = arena_score.start(pos[0, :, 1], jnp.ones((1,), bool))
    no = jnp.zeros((1,), bool)

    def step(state, p):
        return arena_score.update(state, p, no, no, no), None

    return jax.lax.scan(step, state, pos)[0]


def test_each_lane_route_earns_its_points_on_the_built_course():
    points, _, lanes = arena_routes.routes("section012")
    start = np.array([[0.0, 7.83]])
    by_lane = {}
    for route, lane in zip(points, lanes):
        riverbed = arena_routes.LANES[lane] == "riverbed"
        state = score_along("section012", np.concatenate([start, route]), riverbed)
        by_lane[arena_routes.LANES[lane]] = float(arena_score.total(state)[0])
        assert bool(arena_score.reached(state, "exit")[0])
    assert by_lane == {"bridge": 30.0, "riverbed": 50.0}
    whole, _, _ = arena_routes.routes("section002")
    state = score_along("section002", np.concatenate([[[0.0, -2.5]], whole[0]]))
    assert float(arena_score.total(state)[0]) == 6.0 + 30.0 + 15.0  # column -3, bridge
    assert bool(arena_score.reached(state, "finish")[0])


@pytest.mark.parametrize("name", ARENA)
def test_registry_100_hz_and_routes(name):
    task = envs.make_task(name)
    assert task.arena and task.sim_dt == task.ctrl_dt == 0.01
    seconds = {"section011": 40.0, "section012": 120.0, "section013": 40.0,
               "section002": 120.0}[task.course]
    assert task.episode_length == round(seconds / 0.01)
    assert envs.canonical_name(name.replace("_", "-")) == name  # MotrixLab's alias
    assert envs.with_task_changes(task, {"episode_length": 6000}).episode_length == 6000
    points, _, _ = arena_routes.routes(task.course)
    assert points.shape[1] == task.num_waypoints
    assert bool(task.track.inside(jnp.asarray(points.reshape(-1, 2))).all())


def reset(name, n=256, **changes):
    task = envs.with_task_changes(envs.make_task(name), changes)
    qpos, qvel, info = jax.jit(task.reset, static_argnums=1)(
        jax.random.PRNGKey(1), n, task.initial_info(n))
    return task, np.asarray(qpos), np.asarray(qvel), info


@pytest.mark.slow  # ~20 s on the loaded 2-core CPU
def test_starts_on_the_start_platform_with_the_balls_after_the_robot():
    task, qpos, qvel, info = reset("vbot_navigation_section013")
    assert qpos.shape == (256, 19 + 7 * 2) and qvel.shape == (256, 18 + 6 * 2)
    assert (np.abs(qpos[:, 0]) <= 4.5).all()
    assert ((qpos[:, 1] > 23.33) & (qpos[:, 1] < 25.33)).all()  # the exit platform
    np.testing.assert_allclose(qpos[:, 2], 1.294 + task.spec.spawn_height, atol=1e-5)
    assert np.ptp(qpos[:, 0]) > 6.0  # a random position across the platform
    assert (qpos[:, 20] > 25.33).all() and (qpos[:, 20] < 27.33).all()  # ball0's y
    # each start takes the route of its nearest column
    _, columns, _ = arena_routes.routes("section013")
    np.testing.assert_array_equal(np.asarray(info.route), np.argmin(
        np.abs(columns[None, :] - qpos[:, :1]), 1))
    assert not bool(info.score.zeroed.any())
    _, start, _, _ = reset("vbot_navigation_section002")
    assert start.shape[1] == 33 and ((start[:, 1] > -3.5) & (start[:, 1] < -1.5)).all()


def test_lanes_drawn_or_chosen():
    _, _, _, drawn = reset("vbot_navigation_section012", lane="draw")
    _, _, lanes = arena_routes.routes("section012")
    share = float((lanes[np.asarray(drawn.route)] == 0).mean())
    assert 0.4 < share < 0.6
    _, _, _, bridge = reset("vbot_navigation_section012", lane="bridge")
    assert (lanes[np.asarray(bridge.route)] == arena_routes.LANES.index("bridge")).all()
    with pytest.raises(ValueError, match="lane must be one of riverbed, bridge, draw"):
        reset("vbot_navigation_section012", lane="bridges")


@pytest.mark.slow  # ~15 s on the loaded 2-core CPU
def test_course_spawns_along_the_route_void_that_section():
    task, qpos, _, info = reset("vbot_navigation_section002", n=400, course_spawns=1.0)
    index = np.asarray(info.index)
    assert (index >= 1).all() and set(index) == set(range(1, task.num_waypoints))
    at = np.asarray(info.waypoints)[np.arange(400), index - 1]
    assert (np.abs(qpos[:, :2] - at) <= 0.2 + 1e-5).all()
    ground = navigation.route_ground(task.course)[np.asarray(info.route), index - 1]
    np.testing.assert_allclose(qpos[:, 2], ground + task.spec.spawn_height, atol=1e-5)
    voided = np.asarray(info.score.zeroed)
    section = np.asarray(arena_score.section_of(jnp.asarray(qpos[:, 1])))
    np.testing.assert_array_equal(voided, np.arange(3)[None, :] == section[:, None])
    assert envs.evaluation_changes("vbot_navigation_section002")["course_spawns"] == 0.0


def view_at(task, xyz, base_on=None, ball=False):
    """A one-env view of VBot standing at xyz, heading +y; the base touching the named
    course geom and a ball touching its base where asked."""
    n = len(task.contact_pairs)
    contacts = np.zeros((1, n), np.float32)
    pairs = list(task.contact_pairs)
    if base_on:
        contacts[0, pairs.index(("base", base_on))] = 1.0
    if ball:
        contacts[0, pairs.index(("ball0", "base"))] = 1.0
    quat = [0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)]
    qpos = [*xyz, *quat, *navigation.VBOT.default_pose] + [0.0] * 7 * task.track.balls
    return PhysicsView(qpos=jnp.asarray([qpos], jnp.float32),
                       qvel=jnp.zeros((1, 18 + 6 * task.track.balls)),
                       contacts=jnp.asarray(contacts), tick=jnp.zeros((), jnp.int32))


def test_evaluate_scores_falls_and_ball_touches():
    task = envs.make_task("vbot_navigation_section013")
    _, _, _, info = reset("vbot_navigation_section013", n=1)
    key, action = jax.random.PRNGKey(0), jnp.zeros((1, 12))
    evaluate = task.evaluate
    _, failed, info = evaluate(key, view_at(task, (0.0, 26.3, 1.56), ball=True),
                                    info, action)
    assert not bool(failed[0]) and bool(info.score.touched[0])
    _, failed, info = evaluate(key, view_at(task, (0.0, 28.5, 1.75)), info, action)
    assert not bool(failed[0])
    assert float(arena_score.total(info.score)[0]) == 15.0  # crossed, touched
    geom = task.track.solid_geoms[3]
    _, failed, after = evaluate(key, view_at(task, (0.0, 28.6, 1.75), base_on=geom),
                                     info, action)
    assert bool(failed[0]) and float(arena_score.total(after.score)[0]) == 0.0
    # the next episode's metrics report the one that ended
    _, _, fresh = task.reset(jax.random.PRNGKey(2), 1, info)
    metrics = task.metrics(fresh)
    assert float(metrics["score"][0]) == float(metrics["episode_score"][0]) == 15.0
    assert float(metrics["score_ball_touched"][0]) == 5.0
    assert float(metrics["score_section3"][0]) == 15.0
    assert float(metrics["score_running"][0]) == 0.0
    assert {f"score_{name}" for name in arena_score.NAMES} <= set(metrics)
    _, failed, _ = evaluate(key, view_at(task, (5.2, 26.0, 1.56)), info, action)
    assert bool(failed[0])  # left the course


@pytest.mark.slow  # compiles a whole training run on the course: minutes on 2 cores
def test_a_short_run_on_the_course_trains_and_plays_with_its_score(tmp_path, capsys):
    from motrix_jax import play, train

    code = train.main(["--env", "vbot-navigation-section013", "--num-envs", "16",
                       "--max-env-steps", str(16 * 16 * 2), "--set", "rollouts=16",
                       "--set", "mini_batches=2", "--set", "learning_epochs=1",
                       "--task-set", "episode_length=40", "--physics", "mujoco",
                       "--run-root", str(tmp_path)])
    assert code == 0
    (run,) = (tmp_path / "vbot_navigation_section013").iterdir()
    rows = [line for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    assert '"task/score"' in rows[-1] and '"task/score_ball_zone"' in rows[-1]
    assert play.main(["--run", str(run), "--episodes", "4"]) == 0
    out = capsys.readouterr().out
    assert "competition score 0.0 ± 0.0 (first episodes; reached the goal: 0%)" in out
