"""The MotrixArena stage-2 course (envs/courses.py) against the organisers' dimensions
(../shared/MOTRIXARENA.md): heights and angles at named points read by ray casts on
MuJoCo C and MotrixSim (and `Course.height_at`), the bridge's clear width, spawns that
stand on every start platform, the contact pairs the task reads, and the rolling balls."""

import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from motrix_jax.env import LEAN_SOLVER
from motrix_jax.envs import courses, legged
from motrix_jax.envs.navigation import ASSETS, VBOT

WHOLE = courses.build("section002", 0)
SECTIONS = ("section011", "section012", "section013", "section002")
# (what, x, y, top z): the facts' heights (stone and gold domes: their tops)
FACTS = [
    ("START", 0.0, -2.5, 0.0), ("bump peak", 0.0, 0.0, 0.277), ("flat strip", 1.0, 1.75, 0.0),
    ("ramp middle", 0.0, 4.415, 0.647), ("2026 platform", 2.0, 7.83, 1.294),
    ("wave crest", 1.0, 9.13, 1.394), ("wave trough", 1.0, 9.43, 1.294),
    ("flat strip 2", 0.0, 12.0, 1.294),
    ("left first tread", -3.0, 12.43, 1.444), ("left top tread", -3.0, 14.23, 2.794),
    ("right first tread", 2.0, 12.43, 1.394), ("right top tread", 2.0, 14.23, 2.294),
    ("right landing", 2.0, 14.45, 2.294), ("near bridge head", -3.0, 14.9, 2.794),
    ("deck near end", -3.0, 15.25, 2.804), ("deck mid-span", -3.0, 17.82, 2.595),
    ("deck far end", -3.0, 20.40, 2.804), ("far bridge head", -3.0, 20.9, 2.794),
    ("right far landing", 2.0, 21.2, 2.294),
    ("left down top", -3.0, 21.43, 2.794), ("left down last", -3.0, 23.23, 1.444),
    ("right down top", 2.0, 21.43, 2.294), ("right down last", 2.0, 23.23, 1.394),
    ("exit platform", 0.0, 24.33, 1.294), ("ball band", 0.0, 26.33, 1.294),
    ("lip middle", 0.0, 27.58, 1.394), ("finish", 0.05, 32.53, 1.494),
    *[(f"valley y {y}", 1.2, y, z) for y, z in (
        (14.80, 2.200), (15.30, 1.985), (16.30, 1.557), (16.80, 1.394), (17.30, 1.313),
        (17.83, 1.294), (18.80, 1.382), (19.30, 1.531), (19.80, 1.746), (20.30, 1.960))],
    ("valley under the bridge", -2.0, 17.83, None),  # the deck above: see its own test
    *[(f"stone {i}", x, y, None) for i, (x, y) in enumerate(
        ((3.50, 15.84), (0.359, 15.84), (2.00, 17.83), (3.50, 19.716), (0.359, 19.716)))],
    *[(f"gold dome {i}", x, 31.23, 1.594) for i, x in enumerate((-3.0, 0.0, 3.0))],
]
STONE_DOMES = (0.20, 0.20, 0.26, 0.24, 0.24)


def scene(course) -> str:
    return legged.scene_xml(ASSETS / "vbot.xml", None, (0.0, 0.0), course.geoms())


class MujocoRays:
    def __init__(self, course):
        self.model = mujoco.MjModel.from_xml_string(scene(course))
        self.data = mujoco.MjData(self.model)
        self.data.qpos[:3] = (0.0, -30.0, 5.0)  # the robot out of the way
        mujoco.mj_forward(self.model, self.data)

    def distance(self, origin, direction) -> float:
        geom = np.zeros(1, np.int32)
        return mujoco.mj_ray(self.model, self.data, np.asarray(origin, float),
                             np.asarray(direction, float), None, 1, -1, geom)


class MotrixSimRays:
    def __init__(self, course):
        import motrixsim
        from motrixsim import low

        self.low = low
        self.model = motrixsim.load_mjcf_str(scene(course))
        low.enable_immediate_raycast(self.model)
        self.data = motrixsim.SceneData(self.model)
        qpos = np.zeros(self.model.num_dof_pos, np.float32)
        qpos[:7] = (0.0, -30.0, 5.0, 0.0, 0.0, 0.0, 1.0)  # the robot out of the way
        for i in range(course.balls):  # the balls too (raycasts see every collider)
            qpos[19 + 7 * i:26 + 7 * i] = (30.0 + 2 * i, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        self.data.set_dof_pos(qpos, self.model)
        self.model.step(self.data)  # a completed broad phase

    def distance(self, origin, direction) -> float:
        ray = self.low.Ray(list(map(float, origin)), list(map(float, direction)))
        hit = self.low.raycast_closest(self.model, self.data, self.low.RaycastInfo(ray))
        return -1.0 if hit is None else hit.distance


ENGINES = {"mujoco": MujocoRays, "motrixsim": MotrixSimRays}


@pytest.fixture(scope="module", params=list(ENGINES))
def rays(request):
    return ENGINES[request.param](WHOLE)


def top(rays, x, y) -> float:
    return 10.0 - rays.distance((x, y, 10.0), (0.0, 0.0, -1.0))


def expected(what, x, y, z):
    if what.startswith("stone"):
        i = int(what.split()[1])
        return float(courses.valley_height(np.array(y))) + STONE_DOMES[i]
    return float(courses.valley_height(np.array(y))) if z is None else z


def test_height_at_holds_the_facts():
    for what, x, y, z in FACTS:
        if what != "valley under the bridge":
            assert WHOLE.height_at(x, y) == pytest.approx(expected(what, x, y, z), abs=0.004), what
    # the stones' domes above the local valley surface (their centres R 0.75 below)
    stones = [p for p in WHOLE.parts if p.name.startswith("course_stone")]
    for stone, dome in zip(stones, STONE_DOMES):
        x, y, z = stone.centre
        assert z + 0.75 - courses.valley_height(np.array(y)) == pytest.approx(dome, abs=1e-6)
    # the bump field spans 0..0.277, the waves 1.294..1.394, the random terrain 1.343..1.492
    x, y = np.meshgrid(np.linspace(-4.99, 4.99, 400), np.linspace(-1.49, 1.49, 120))
    np.testing.assert_allclose([WHOLE.height_at(x, y).min(), WHOLE.height_at(x, y).max()],
                               [0.0, 0.277], atol=2e-3)
    fields = {p.name: p for p in WHOLE.parts if isinstance(p, courses.Field)}
    for name, low, high in (("course_waves", 1.294, 1.394), ("course_rough", 1.343, 1.492)):
        heights = fields[name].z + fields[name].grid.heights
        np.testing.assert_allclose([heights.min(), heights.max()], [low, high], atol=1e-9)
    assert fields["course_rough"].grid.heights.shape == (16, 51)  # 0.2 m cells over 10 x 3 m


def test_engines_see_the_facts(rays):
    """Each named point's height by a ray cast on the engine, and `height_at` agreeing."""
    for what, x, y, z in FACTS:
        if what == "valley under the bridge":  # a ray from just under the deck
            got = 2.4 - rays.distance((x, y, 2.4), (0.0, 0.0, -1.0))
        else:
            got = top(rays, x, y)
            assert got == pytest.approx(WHOLE.height_at(x, y), abs=0.004), what
        assert got == pytest.approx(expected(what, x, y, z), abs=0.004), what


def test_engines_see_the_angles_and_the_bridge(rays):
    def angle(x, y0, y1):
        return math.degrees(math.atan2(top(rays, x, y1) - top(rays, x, y0), y1 - y0))

    assert angle(0.0, 3.0, 6.0) == pytest.approx(15.0, abs=0.05)  # the ramp
    assert angle(0.0, 27.4, 27.75) == pytest.approx(21.8, abs=0.1)  # the lip
    assert -angle(1.2, 14.7, 16.2) == pytest.approx(23.2, abs=0.1)  # the valley's steep bank
    for y in (15.5, 17.83, 20.2):  # the railings: 2.58 m clear, above the deck at both ends
        z = top(rays, -3.0, y) + 0.2
        width = sum(rays.distance((-3.0, y, z), (s, 0.0, 0.0)) for s in (1.0, -1.0))
        assert width == pytest.approx(2.58, abs=0.002)
    rails = [top(rays, -4.32, y) - top(rays, -3.0, y) for y in (15.40, 17.82, 20.26)]
    np.testing.assert_allclose(rails, [0.35, 0.559, 0.35], atol=0.005)  # above the deck
    # under the deck mid-span: 1.3 m to the valley floor (robots walk under the bridge)
    assert rays.distance((-3.0, 17.82, 1.3), (0.0, 0.0, 1.0)) == pytest.approx(1.195, abs=0.01)
    # open drops at x = +-5 in section 2, walls in sections 1 and 3
    assert top(rays, 5.2, 17.83) == pytest.approx(0.0, abs=1e-6)
    assert top(rays, 5.2, 4.0) == pytest.approx(2.45, abs=1e-6)
    assert top(rays, -4.8, 32.0) == pytest.approx(3.33, abs=1e-6)


@pytest.mark.parametrize("name", SECTIONS)
def test_spawns_lie_on_the_start_platform(name):
    course = courses.build(name, 0)
    (cx, cy), (jx, jy) = course.spawn_centre, course.spawn_jitter
    platform = {"section011": -2.5, "section002": -2.5, "section012": 7.83,
                "section013": 24.33}[name]  # the 10 x 2 m platform's centre y
    assert (cx, cy) == (0.0, platform) and jx <= 4.55 and jy <= 0.55
    xy, yaw = (np.asarray(a) for a in course.spawn(jax.random.PRNGKey(1), 512))
    assert np.ptp(xy[:, 0]) > 8.5 and np.ptp(xy[:, 1]) > 1.0  # spread over the platform
    np.testing.assert_allclose(yaw.mean(), math.pi / 2, atol=0.02)
    assert np.abs(yaw - math.pi / 2).max() <= 0.15 + 1e-6
    # flat under the robot (0.45 m around it) at the spawn ground's height
    np.testing.assert_allclose(course.ground_near(xy, 0.45), course.spawn_ground, atol=1e-9)
    assert bool(course.inside(jnp.asarray(xy)).all())


def standing_start(n_each: int = 2):
    """Robots (and balls) on every section's start platform, all in section002's frame:
    qpos [3 n, 33], qvel [3 n, 30]."""
    key = jax.random.PRNGKey(0)
    qpos, qvel = [], []
    for name in ("section011", "section012", "section013"):
        course = courses.build(name, 0)
        xy, yaw = course.spawn(key, n_each)
        q, v = legged.standing_state(key, xy, jnp.full((n_each,), course.spawn_ground),
                                     VBOT.spawn_height, yaw, VBOT.default_pose, 0.0)
        qpos.append(q)
        qvel.append(v)
    n = 3 * n_each
    balls_q, balls_v = WHOLE.ball_state(key, n)
    return (np.concatenate([np.concatenate(qpos), balls_q], -1),
            np.concatenate([np.concatenate(qvel), balls_v], -1))


def host(engine: str, course, sim_dt: float, pairs=()):
    if engine == "motrixsim":
        from motrix_jax.physics.motrixsim import MotrixSimPhysics

        return MotrixSimPhysics(scene(course), sim_dt, 0.01, pairs).host
    from motrix_jax.physics.mujoco import MujocoPhysics

    return MujocoPhysics(scene(course), sim_dt, 0.01, pairs, None, LEAN_SOLVER).host


STAND = (0.22, 0.27)  # VBot's base above flat ground on q0 (0.243-0.251 measured)


@pytest.mark.parametrize("engine,sim_dt", [("motrixsim", 0.005), ("motrixsim", 0.01),
                                           ("mujoco", 0.005), ("mujoco", 0.01)])
def test_robots_stand_on_every_start_platform(engine, sim_dt):
    qpos, qvel = standing_start()
    worlds = host(engine, WHOLE, sim_dt, WHOLE.base_contact_pairs())
    worlds.reset(qpos, qvel)
    ctrl = np.tile(np.asarray(VBOT.default_pose, np.float32), (len(qpos), 1))
    for _ in range(100):  # 1 s of default-pose PD at 100 Hz control
        q, v, contacts, *_ = worlds.advance(ctrl)
    height = q[:, 2] - WHOLE.height_at(q[:, 0], q[:, 1])
    assert ((height > STAND[0]) & (height < STAND[1])).all(), height
    np.testing.assert_allclose(q[:, :2], qpos[:, :2], atol=0.05)  # stayed where spawned
    assert np.abs(v[:, :18]).max() < 0.2  # at rest
    assert not contacts.any()  # no base contact


@pytest.mark.parametrize("engine", list(ENGINES))
def test_base_and_ball_contacts_are_flagged(engine):
    """The task's pairs: the base on any course geom (a robot upside down on the 2026
    platform, one lying in the valley), a ball rolling into a standing robot."""
    course = courses.build("section013", 0)
    feet = ("base",) + VBOT.feet
    pairs = course.base_contact_pairs() + course.ball_pairs(feet)
    qpos, qvel = standing_start(1)
    qpos, qvel = qpos[2:3].repeat(2, 0), qvel[2:3].repeat(2, 0)  # on the exit platform
    qpos[0, :7] = (0.0, 24.33, courses.PLATFORM + 0.07, 1.0, 0.0, 0.0, 0.0)  # upside down
    qpos[1, :2] = (0.0, courses.LANES[0])  # in ball0's lane, ball0 rolling at it
    qpos[1, 19:26] = (-1.5, courses.LANES[0], courses.PLATFORM + 0.375, 0, 0, 0, 1)
    qvel[1, 18:24] = (1.0, 0.0, 0.0, 0.0, 1.0 / 0.375, 0.0)
    qpos[:, 26:33] = (4.0, courses.LANES[1], courses.PLATFORM + 0.375, 0, 0, 0, 1)
    qvel[:, 24:30] = 0.0
    worlds = host(engine, course, 0.005, pairs)
    worlds.reset(qpos, qvel)
    ctrl = np.tile(np.asarray(VBOT.default_pose, np.float32), (2, 1))
    seen = np.zeros(len(pairs), bool).repeat(2).reshape(len(pairs), 2).T
    for _ in range(200):
        _, _, contacts, *_ = worlds.advance(ctrl)
        seen |= contacts > 0.5
    base = len(course.solid_geoms)
    names = [pairs[i][1] for i in np.flatnonzero(seen[0, :base])]
    assert "course_exit" in names  # upside down: the base on the platform
    touched = {pairs[base + i] for i in np.flatnonzero(seen[1, base:])}
    assert touched and all(ball == "ball0" for ball, _ in touched)
    assert not seen[0, base:].any()


@pytest.mark.parametrize("engine", list(ENGINES))
def test_balls_roll_in_their_lanes(engine):
    course = courses.build("section013", 0)
    key = jax.random.PRNGKey(5)
    q0, v0 = (np.asarray(a) for a in course.ball_state(key, 4))
    robots_q, robots_v = standing_start(1)
    qpos = np.concatenate([np.repeat(robots_q[2:3, :19], 4, 0), q0], -1)
    qvel = np.concatenate([np.repeat(robots_v[2:3, :18], 4, 0), v0], -1)
    worlds = host(engine, course, 0.01)
    worlds.reset(qpos, qvel)
    ctrl = np.tile(np.asarray(VBOT.default_pose, np.float32), (4, 1))
    path = []
    for _ in range(300):  # 3 s
        q, *_ = worlds.advance(ctrl)
        path.append(q[:, 19:])
    balls = np.stack(path)[..., :14].reshape(300, 4, 2, 7)
    x, y, z = balls[..., 0], balls[..., 1], balls[..., 2]
    assert (np.abs(x) <= 4.96 - 0.375 + 0.01).all()  # between the walls
    np.testing.assert_allclose(y, np.broadcast_to(courses.LANES, y.shape), atol=0.02)
    np.testing.assert_allclose(z, courses.PLATFORM + 0.375, atol=0.01)  # rolling on the band
    speed0 = np.abs(v0[:, 0::6])
    moved = np.abs(x[-1] - q0[:, 0::7])
    assert (moved > 0.5 * speed0).all()  # >= 1.5 s worth in 3 s (walls turn them back)


def test_ball_state_starts_balls_rolling_in_the_band():
    course = courses.build("section013", 0)
    qpos, qvel = (np.asarray(a) for a in course.ball_state(jax.random.PRNGKey(0), 1000))
    assert qpos.shape == (1000, 14) and qvel.shape == (1000, 12) and course.balls == 2
    q, v = qpos.reshape(1000, 2, 7), qvel.reshape(1000, 2, 6)
    assert (np.abs(q[..., 0]) <= 4.9 - 0.375 + 1e-6).all() and np.ptp(q[..., 0]) > 8.0
    np.testing.assert_allclose(q[..., 1], np.broadcast_to(courses.LANES, (1000, 2)), atol=1e-5)
    assert (q[..., 1] - 0.375 >= courses.BAND[0]).all() and (q[..., 1] + 0.375 <= courses.BAND[1]).all()
    np.testing.assert_array_equal(q[..., 3:], np.broadcast_to([0, 0, 0, 1], (1000, 2, 4)))
    speed = np.abs(v[..., 0])
    assert speed.min() >= 0.3 and speed.max() <= 1.0 and 0.4 < (v[..., 0] > 0).mean() < 0.6
    np.testing.assert_allclose(v[..., 4], v[..., 0] / 0.375, rtol=1e-6)  # rolling, no slip
    assert courses.build("section012", 0).balls == 0


def test_each_section_holds_its_own_geometry():
    parts = {name: {p.name for p in courses.build(name, 0).parts} for name in SECTIONS}
    assert parts["section002"] == parts["section011"] | parts["section012"] | parts["section013"]
    assert "course_platform_2026" in parts["section011"] & parts["section012"]
    assert "course_exit" in parts["section012"] & parts["section013"]
    assert not parts["section011"] & {"course_waves", "course_exit"}
    names = WHOLE.solid_geoms
    assert names[0] == "floor" and len(set(names)) == len(names)
    assert all(n.startswith("course_") for n in names[1:])
    assert WHOLE.base_contact_pairs()[1] == ("base", names[1])
    # the geometry does not depend on the seed (the kit's course is fixed)
    assert [p.name for p in courses.section002(7).parts] == [p.name for p in WHOLE.parts]
    np.testing.assert_array_equal(courses.section002(7).height_at(0.3, 29.0),
                                  WHOLE.height_at(0.3, 29.0))


def test_surface_is_height_at_in_jax():
    rng = np.random.default_rng(0)
    xy = np.stack([rng.uniform(-5.5, 5.5, 4000), rng.uniform(-4.0, 34.0, 4000)], -1)
    got = jax.jit(WHOLE.surface)(jnp.asarray(xy, jnp.float32))  # every part's kind
    want = WHOLE.height_at(xy[:, 0], xy[:, 1])
    # float32 at an edge may pick the part beside it: all but a few agree to 0.1 mm
    assert (np.abs(np.asarray(got) - want) < 1e-4).mean() > 0.995


@pytest.mark.slow  # compiling MJX's step for a course took 5-19 min on the 2-core CPU
@pytest.mark.parametrize("name", ["section011", "section013"])
def test_robots_stand_and_balls_roll_on_mjx(name):
    from motrix_jax.physics.mjx import MjxPhysics

    course = courses.build(name, 0)
    key, n = jax.random.PRNGKey(0), 2
    xy, yaw = course.spawn(key, n)
    qpos, qvel = legged.standing_state(key, xy, jnp.full((n,), course.spawn_ground),
                                       VBOT.spawn_height, yaw, VBOT.default_pose, 0.0)
    if course.balls:
        balls_q, balls_v = course.ball_state(key, n)
        qpos, qvel = (jnp.concatenate(a, -1) for a in ((qpos, balls_q), (qvel, balls_v)))
    physics = MjxPhysics(scene(course), 0.005, 0.01, course.base_contact_pairs(), LEAN_SOLVER)
    ctrl = jnp.broadcast_to(jnp.asarray(VBOT.default_pose), (n, 12))

    def second(view):
        def body(v, _):
            return physics.step(v, ctrl, jnp.zeros((n,), bool), qpos, qvel), None
        return jax.lax.scan(body, view, None, length=100)[0]

    view = jax.jit(second)(physics.reset(qpos, qvel))
    q = np.asarray(view.qpos)
    height = q[:, 2] - course.height_at(q[:, 0], q[:, 1])
    assert ((height > STAND[0]) & (height < STAND[1])).all(), height
    assert not np.asarray(view.contacts).any()
    if course.balls:
        moved = np.abs(q[:, 19::7] - np.asarray(qpos)[:, 19::7])
        assert (moved > 0.25).all()  # >= 0.3 m/s for 1 s
        np.testing.assert_allclose(q[:, 21::7], courses.PLATFORM + 0.375, atol=0.01)
