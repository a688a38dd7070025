"""The competition's score (envs/arena_score.py) on hand-built base trajectories: each
lane, the stones, a fall zeroing its own section only, a touched ball, leaving the
course, a start off the start platform."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from motrix_jax.envs import arena_score as score


def path(*corners, step=0.1):
    """Base positions [T, 3] along straight segments between the corner points."""
    corners = np.asarray(corners, np.float32)
    parts = []
    for a, b in itertools.pairwise(corners):
        n = max(2, int(np.ceil(np.linalg.norm(b[:2] - a[:2]) / step)))
        parts.append(a + np.linspace(0.0, 1.0, n, endpoint=False)[:, None] * (b - a))
    return np.concatenate([*parts, corners[-1:]])


STEPS = 512


@jax.jit
def _scan(positions, fell, outside, touch, start_y):
    n = positions.shape[1]
    state = score.start(jnp.full((n,), start_y), jnp.ones((n,), bool))

    def step(state, xs):
        return score.update(state, *xs), None

    state, _ = jax.lax.scan(step, state, (positions, fell, outside, touch))
    return state


def run(positions, fell_at=None, outside_at=None, touch_at=None):
    """The score state after one robot follows `positions` [T, 3]; the flags are raised
    at the given step indices."""
    if len(positions) > STEPS:
        raise ValueError(f"a trajectory of {len(positions)} steps: at most {STEPS}")
    t = STEPS  # one length, one compilation: the last position held
    positions = np.concatenate([positions, np.repeat(positions[-1:], t - len(positions), 0)])
    flags = []
    for at in (fell_at, outside_at, touch_at):
        flag = np.zeros((t, 1), bool)
        if at is not None:
            flag[at] = True
        flags.append(jnp.asarray(flag))
    return _scan(jnp.asarray(positions)[:, None], *flags, jnp.float32(positions[0, 1]))


def by_item(state) -> dict[str, float]:
    pts = np.asarray(score.points(state))[0]
    return {name: float(p) for name, p in zip(score.NAMES, pts) if p}


BRIDGE_LANE = path((-3.0, 7.8, 1.55), (-3.0, 12.3, 1.55), (-3.0, 14.3, 3.05),
                   (-3.0, 17.8, 2.85), (-3.0, 21.3, 3.05), (-3.0, 23.3, 1.55),
                   (-3.0, 24.0, 1.55))
RIVERBED_LANE = path((2.0, 7.8, 1.55), (2.0, 12.3, 1.55), (2.0, 14.5, 2.55),
                     (3.5, 15.9, 2.2), (3.5, 16.3, 2.1), (0.36, 16.3, 2.0),
                     (-2.0, 17.82, 1.56), (2.0, 18.1, 1.6), (0.36, 19.75, 2.05),
                     (3.5, 19.8, 2.05), (2.0, 21.2, 2.55), (2.0, 24.0, 1.55))


def test_bridge_lane():
    earned = by_item(run(BRIDGE_LANE))
    assert earned == {"stairs": 10.0, "bridge": 5.0, "bridge_cross": 10.0, "exit": 5.0}
    state = run(BRIDGE_LANE)
    assert float(score.total(state)[0]) == 30.0
    assert bool(score.reached(state, "bridge_packet")[0])  # recorded, worth 0 points
    assert bool(score.reached(state, "exit")[0])
    np.testing.assert_allclose(score.section_scores(state)[0], [0.0, 30.0, 0.0])


def test_riverbed_lane_with_the_stones_and_the_under_bridge_packets():
    state = run(RIVERBED_LANE)
    earned = by_item(state)
    assert earned == {"stairs": 10.0, "riverbed": 5.0, "riverbed_out": 5.0, "exit": 5.0,
                      **{f"stone{i}": 3.0 for i in range(1, 6)}, "under_bridge": 10.0}
    assert float(score.total(state)[0]) == 50.0
    assert not bool(score.reached(state, "bridge_packet")[0])  # under the bridge, not on it


def test_a_stone_is_earned_only_on_its_zone():
    near = run(path((2.0, 14.6, 2.5), (2.0, 15.6, 2.0), (1.2, 16.3, 2.0)))
    assert "stone1" not in by_item(near) and "stone2" not in by_item(near)
    on = run(path((2.0, 14.6, 2.5), (2.0, 15.6, 2.0), (0.6, 16.3, 2.0)))
    assert by_item(on)["stone1"] == 3.0  # 0.245 m from the zone centre


def test_section_one_smileys_packets_and_the_platform():
    centre = run(path((0.0, -2.5, 0.3), (0.0, 8.0, 1.55)))
    assert by_item(centre) == {"smiley_centre": 4.0, "packet_centre": 2.0}
    assert bool(score.reached(centre, "platform")[0])
    weave = run(path((0.0, -2.5, 0.3), (-3.0, 0.0, 0.4), (3.0, 0.1, 0.4), (0.0, 4.4, 1.0),
                     (-3.0, 4.4, 1.0), (3.0, 4.4, 1.0), (0.0, 8.0, 1.55)))
    assert float(score.total(weave)[0]) == 18.0  # the section's maximum
    short = run(path((0.0, -2.5, 0.3), (0.0, 6.5, 1.3)))
    assert not bool(score.reached(short, "platform")[0])


WHOLE = np.concatenate([path((0.0, -2.5, 0.3), (0.0, 8.0, 1.55)), BRIDGE_LANE,
                        path((0.0, 24.0, 1.55), (0.0, 32.5, 1.75))])


def test_a_fall_zeroes_its_own_section_only():
    clean = run(WHOLE)
    np.testing.assert_allclose(score.section_scores(clean)[0], [6.0, 30.0, 15.0])
    at = int(np.argmax(WHOLE[:, 1] > 17.0))  # on the bridge
    fell = run(WHOLE[:at + 1], fell_at=at)
    np.testing.assert_allclose(score.section_scores(fell)[0], [6.0, 0.0, 0.0])
    assert bool(fell.zeroed[0, 1]) and not bool(fell.zeroed[0, 0])
    # a fall in section 3 keeps sections 1 and 2
    end = run(WHOLE, fell_at=len(WHOLE) - 1)
    np.testing.assert_allclose(score.section_scores(end)[0], [6.0, 30.0, 0.0])
    assert not bool(score.reached(end, "finish")[0]) and bool(score.reached(end, "exit")[0])


SECTION3 = path((0.0, 24.3, 1.55), (0.0, 26.3, 1.55), (0.0, 28.5, 1.75), (0.0, 32.5, 1.75))


def test_a_touched_ball_gives_15_and_untouched_10():
    untouched = run(SECTION3)
    assert by_item(untouched) == {"ball_zone": 10.0, "finish": 5.0}
    in_zone = int(np.argmax(SECTION3[:, 1] > 26.0))
    touched = run(SECTION3, touch_at=in_zone)
    assert by_item(touched) == {"ball_zone": 10.0, "ball_touched": 5.0, "finish": 5.0}
    assert float(score.total(touched)[0]) == 20.0
    # touched, then it fell: nothing for the section
    fell = run(SECTION3, fell_at=len(SECTION3) - 1, touch_at=in_zone)
    assert float(score.total(fell)[0]) == 0.0


def test_leaving_the_course_zeroes_the_section():
    off = path((2.0, 7.8, 1.55), (2.0, 13.5, 1.9), (5.3, 13.5, 1.9))
    state = run(off, outside_at=len(off) - 1)
    assert float(score.total(state)[0]) == 0.0 and bool(state.zeroed[0, 1])
    assert bool(state.earned[0, score.INDEX["stairs"]])  # earned, but void


def test_a_start_off_the_start_platform_voids_that_section():
    y = jnp.array([7.8, 16.0, 16.0])
    state = score.start(y, jnp.array([True, True, False]))
    np.testing.assert_array_equal(state.zeroed, [[0, 0, 0], [0, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(score.section_of(jnp.array([-2.5, 8.83, 25.0, 25.4])),
                                  [0, 1, 1, 2])


def test_the_items_and_their_points():
    by_section = [float(score.POINTS[score.SECTION == s].sum()) for s in range(3)]
    # without the celebrations (judged by people): 20 - 2, 60 (both lanes), 25 - 5
    # the rules' one lane-entry item is two here (bridge, riverbed), a run earns one
    assert by_section == [18.0, 60.0 + 5.0, 20.0]
    assert len(set(score.NAMES)) == len(score.NAMES)
    assert set(score.GOALS.values()) <= set(score.NAMES)
    with pytest.raises(KeyError):
        score.reached(score.initial(1), "celebration")
