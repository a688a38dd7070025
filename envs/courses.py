"""VBot courses: the stage-1 arena (section001) and the MotrixArena S1 stage-2 obstacle
course (sections 011, 012, 013 and the whole course, section002), built from the
dimensions of the organisers' public collision models (../shared/MOTRIXARENA.md), in
their frame: the course runs along +y, x in [-5, 5], heights absolute, the sections
joined at y = 8.83 and y = 25.33. Our own geometry, written here; no file is copied.

Geometry (primitive collision geometry, `Course.parts` in world coordinates):
- section 1: the floor plane (z 0) is START (y -3.5..-1.5) and the flat strip
  (y 1.5..2.0); the bump field (heightfield, y -1.5..1.5, 0..0.277 m); the 15.0 deg ramp
  (a tilted box, y 2.00..6.83, 0 -> 1.294); the "2026" platform (y 6.83..8.83, 1.294);
  the back wall and the side walls (inner faces x +-5, 2.45 m high).
- section 2: a base block at 1.294 (y 8.83..23.33); the wave field (heightfield, y
  8.83..11.83, 1.294..1.394); the left flight (x -5..-1, 10 x 0.15 m) and the right one
  (x -1..5, 10 x 0.10 m) up (y 12.33..14.33) and down (y 21.33..23.33), 0.20 m treads,
  each tread a box; the right landings (2.294) and both bridge heads (2.794: a solid block
  over firm ground and a 0.3 m slab on pillars over the valley); the bridge deck (23 level
  slats, x -4.319..-1.681, y 15.20..20.44, tops 2.595 + 0.209 (k/11)^2, k = -11..11:
  2.804 at the ends, 2.595 mid-span, steps <= 3.6 cm) with solid railings (0.06 m
  thick at x -4.32 and -1.68: 2.58 m clear, flat tops at 3.154: 0.35 m above the deck's
  ends, 0.56 m mid-span) and end posts; the valley (x -5..5, y 14.58..21.08) of tilted
  plates at 23.2 deg (2 m), 18.1, 11.1 and 4.5 deg down to a flat floor at 1.294 (y
  17.54..18.12), mirrored about y 17.83, under the bridge too (`valley_height`); the 5
  stones (spheres R 0.75 sunk to domes of 0.20/0.20/0.26/0.24/0.24 m above the local
  surface); the exit platform (y 23.33..25.33, 1.294) and its walls (2.494). Elsewhere
  x = +-5 is an open drop to the floor plane at z 0.
- section 3: the ball band (y 25.33..27.33, 1.294); the lip (tilted box, 21.8 deg, 1.294
  -> 1.494, y 27.33..27.83); the random terrain (heightfield, y 27.83..30.83, 1.343..
  1.492); the finish platform (y 30.83..33.83, 1.494); 3 gold domes (spheres R 0.75
  at x -3/0/3, y 31.23, 0.10 m above the platform); walls (inner faces +-4.96 to y 30.36,
  then +-4.52, 3.33 m high) and the end wall at y 33.83.

Chosen where the organisers' files are unknown (Git-LFS pointers), keeping the known
extents and maxima: the bump field is a row of smooth hills (0.277 (1 + cos(2 pi x /
2.5)) / 2 x (1 + cos(2 pi y / 3)) / 2: peaks of 0.277 m at x = 0, +-2.5, +-5 on
y = 0, 0 at its edges, slopes <= 19 deg); the wave field is straight ripples across the
course (0.05 (1 - cos(2 pi (y - 8.83) / 0.6)), 5 waves, 0 at both edges); the random
terrain is uniform random heights on a 0.2 m grid (fixed seed) spanning 1.343..1.492;
the cones at the wave field's edges and the logos are left out; railing posts and
pillars are boxes; the rolling balls (count, trajectory, mass) are ours (below). The
kit does not randomise the course, so its geometry does not depend on the seed (the
`seed` argument stays for the registry's interface); only the balls' start is random,
per episode (`Course.ball_state`).

Each course holds its own geometry and its start platform only: section011 is
section 1; section012 is the "2026" platform (with section 1's side walls) and section
2; section013 is the exit platform and section 3; section002 all of them.

Names the task uses (geoms of the scene):
- `floor`: the floor plane (z 0). Every solid course geom is named `course_<part>`;
  `Course.solid_geoms` lists them all, `floor` first: the base touching any of them is
  a fall (`Course.base_contact_pairs()` gives the ("base", name) pairs for the
  contact query; 116 on section002, 101 on section012, one flag each).
- `ball0`, `ball1`, ...: the rolling balls (section013 and section002), dynamic bodies
  of the same names with free joints, after the robot in the scene: qpos is the robot's
  19 values, then 7 per ball ([x, y, z, qx, qy, qz, qw], xyzw as the robot's); qvel the
  robot's 18, then 6 per ball. `Course.balls` counts them; `Course.ball_state(key, n)`
  gives each episode's start ([N, 7 balls], [N, 6 balls]); `Course.ball_pairs(geoms)`
  gives (ball, geom) pairs for a robot-ball contact query.
- markers (visual only) are named `marker<i>`.

Balls (ours): 2 balls, R 0.375 m (the kit's asset), 1.0 kg, shell inertia (2/3 m r^2),
each in its own lane across the band (y 25.83 and 26.83), starting at a uniform
random x in the band, rolling (without slipping) along +-x at a uniform random speed
0.3..1.0 m/s: each crosses a robot's line at a random time. A ball meeting a wall stops
there and its spin rolls it back slowly (measured: 0.02 m/s on MotrixSim, 0.13 m/s on
MuJoCo C after a 1 m/s impact); a bouncier ball (solref 0.02 0.1) came back at 0.44 and
0.25 m/s on the two engines, so we keep the engines' default, inelastic contacts.
Engines: MotrixSim and MuJoCo C build every course and roll the balls (the tests cast
rays on both). MJX builds them too, but allocates every candidate geom pair: per world
108 contacts on section011, 264 on section013, 1221 on section012 and 1709 on section002
(6860 constraint rows; Go1 on flat ground: 12), so the course is an accelerator's job
there, and MuJoCo's `max_geom_pairs` numeric (a bounding-sphere cull, 338 contacts on
section002 at 32 pairs per geom-type pair) is left to whoever tunes MJX for it.

Course interface (what changed from the invented courses): `ground` is None (the floor
plane); the solid parts are `parts` (`Box`, `Sphere` and `Field`: a heightfield, each
its own small `<hfield>`); `geoms()` also returns the fields' `<hfield>` assets (which
`legged.scene_xml` moves into `<asset>`) and the balls' bodies. New: `solid_geoms`,
`base_contact_pairs`, `balls`, `ball_state`, `ball_pairs`, `surface` (`height_at` in
JAX, jittable: for height scans or the base's height above the ground). `height_at(x, y)`
is the top surface of every part (numpy); `spawn` draws a uniform position on the section's
10 x 2 m start platform (0.5 m from its walls and 0.45 m from its ends) heading +y
(yaw pi/2 +- 0.15); `spawn_ground` is that platform's height. The waypoints are a
centre-line route (through the right lane) for the task to replace.
"""

from __future__ import annotations

import functools
import itertools
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from motrix_jax.envs import terrain

# --- parts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A box (centre, half sizes), tilted by `tilt` rad about the x axis (its +y end up
    for tilt > 0)."""

    name: str
    centre: tuple[float, float, float]
    half: tuple[float, float, float]
    tilt: float = 0.0
    rgba: str = "0.7 0.7 0.72 1"

    def attrs(self) -> dict:
        c, s = math.cos(self.tilt / 2), math.sin(self.tilt / 2)
        return {"type": "box", "pos": _fmt(self.centre), "size": _fmt(self.half),
                "quat": f"{c:.6f} {s:.6f} 0 0", "rgba": self.rgba}

    def top(self, x, y, xp=np):
        """Height of the top face over (x, y); -inf off it (xp: numpy or jax.numpy)."""
        cx, cy, cz = self.centre
        hx, hy, hz = self.half
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        v = (y - cy + hz * s) / c  # the top face's own y coordinate
        z = cz + v * s + hz * c
        over = (xp.abs(x - cx) <= hx + 1e-6) & (xp.abs(v) <= hy + 1e-6)
        return xp.where(over, z, -xp.inf)


@dataclass(frozen=True)
class Sphere:
    name: str
    centre: tuple[float, float, float]
    radius: float
    rgba: str = "0.55 0.5 0.45 1"

    def attrs(self) -> dict:
        return {"type": "sphere", "pos": _fmt(self.centre), "size": f"{self.radius}",
                "rgba": self.rgba}

    def top(self, x, y, xp=np):
        cx, cy, cz = self.centre
        d2 = (x - cx) ** 2 + (y - cy) ** 2
        return xp.where(d2 <= self.radius ** 2,
                        cz + xp.sqrt(xp.maximum(self.radius ** 2 - d2, 0.0)), -xp.inf)


@dataclass(frozen=True, eq=False)
class Field:
    """A heightfield `grid` whose centre is at (x, y) and whose lowest sample is at
    height z; `base` m of solid below z."""

    name: str
    grid: terrain.Heightfield
    x: float
    y: float
    z: float
    base: float
    rgba: str = "0.6 0.65 0.6 1"

    def asset(self) -> ET.Element:
        element = self.grid.mjcf_asset(self.name)
        rx, ry = self.grid.half_size
        top = max(float(self.grid.heights.max()), 1e-3)
        element.set("size", f"{rx} {ry} {top} {self.base}")
        return element

    def attrs(self) -> dict:
        return {"type": "hfield", "hfield": self.name, "pos": _fmt((self.x, self.y, self.z)),
                "rgba": self.rgba}

    def top(self, x, y, xp=np):
        """Bilinear between samples (the engines triangulate: within a few mm here)."""
        h, cell = xp.asarray(self.grid.heights), self.grid.cell
        rx, ry = self.grid.half_size
        u, v = (x - self.x + rx) / cell, (y - self.y + ry) / cell
        over = (u >= -1e-6) & (u <= h.shape[1] - 1 + 1e-6) & (v >= -1e-6) & (
            v <= h.shape[0] - 1 + 1e-6)
        u, v = xp.clip(u, 0, h.shape[1] - 1), xp.clip(v, 0, h.shape[0] - 1)
        c0 = xp.minimum(xp.floor(u).astype(int), h.shape[1] - 2)
        r0 = xp.minimum(xp.floor(v).astype(int), h.shape[0] - 2)
        fu, fv = u - c0, v - r0
        z = ((h[r0, c0] * (1 - fu) + h[r0, c0 + 1] * fu) * (1 - fv)
             + (h[r0 + 1, c0] * (1 - fu) + h[r0 + 1, c0 + 1] * fu) * fv)
        return xp.where(over, self.z + z, -xp.inf)


def _fmt(values) -> str:
    return " ".join(f"{v:.5f}" for v in values)


def _block(name, x0, x1, y0, y1, z0, z1, rgba="0.7 0.7 0.72 1") -> Box:
    return Box(name, ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2),
               ((x1 - x0) / 2, (y1 - y0) / 2, (z1 - z0) / 2), rgba=rgba)


def _slab(name, x0, x1, start, end, thick=0.3, extend=(0.0, 0.0),
          rgba="0.62 0.62 0.66 1") -> Box:
    """A tilted box whose top face runs straight from start (y, z) to end (y, z) across
    x0..x1, lengthened along its slope by extend (at start, at end): at a concave
    corner the lengthened end lies under the next part's surface."""
    (ya, za), (yb, zb) = start, end
    tilt = math.atan2(zb - za, yb - ya)
    c, s = math.cos(tilt), math.sin(tilt)
    length = math.hypot(yb - ya, zb - za) + extend[0] + extend[1]
    mid = (length / 2 - extend[0])  # along the slope from start
    top = (ya + mid * c, za + mid * s)
    centre = ((x0 + x1) / 2, top[0] + thick / 2 * s, top[1] - thick / 2 * c)
    return Box(name, centre, ((x1 - x0) / 2, length / 2, thick / 2), tilt, rgba)


# --- the course's dimensions (../shared/MOTRIXARENA.md) -----------------------------

PLATFORM = 1.294  # the "2026", exit platform and valley floor height
FINISH = 1.494
WALL = "0.45 0.47 0.52 0.35"
STAIR = "0.75 0.7 0.6 1"
BRIDGE = "0.55 0.38 0.22 1"
BALL_RADIUS = 0.375
BAND = (25.33, 27.33)  # the rolling-ball band (y)


def _valley_profile() -> list[tuple[float, float]]:
    """(y, z) corners of the valley's near bank, from the rim (14.58, 2.294) to the floor
    (17.54, 1.294): a 2 m plate at 23.2 deg, then 18.1, 11.1 and 4.5 deg plates whose
    lengths put the surface through 1.394 at y 16.80 and 1.313 at y 17.30."""
    rim, floor_y, bottom = (14.58, 2.294), 17.54, PLATFORM
    t2, t3, t4 = (math.tan(math.radians(a)) for a in (18.1, 11.1, 4.5))
    y1 = rim[0] + 2.0 * math.cos(math.radians(23.2))
    z1 = rim[1] - 2.0 * math.sin(math.radians(23.2))
    # 16.80 on the 11.1 deg plate at 1.394, which ends at y3 on the 4.5 deg plate
    y3 = (1.394 - bottom - t4 * floor_y + t3 * 16.80) / (t3 - t4)
    z3 = bottom + t4 * (floor_y - y3)
    y2 = (z1 + t2 * y1 - z3 - t3 * y3) / (t2 - t3)
    z2 = z1 - t2 * (y2 - y1)
    return [rim, (y1, z1), (y2, z2), (y3, z3), (floor_y, bottom)]


VALLEY_MID = 17.83


def valley_height(y: np.ndarray) -> np.ndarray:
    """The valley's surface height at y (any x), 2.294 at its rims (14.58, 21.08)."""
    ys, zs = zip(*_valley_profile())
    near = np.interp(np.minimum(y, 2 * VALLEY_MID - y), ys, zs)
    return np.where((y >= 14.58) & (y <= 21.08), near, np.nan)


def _section1() -> list:
    x, y = np.meshgrid(np.linspace(-5, 5, 101), np.linspace(-1.5, 1.5, 31))
    bumps = 0.277 * (1 + np.cos(2 * np.pi * x / 2.5)) / 2 * (1 + np.cos(2 * np.pi * y / 3.0)) / 2
    return [
        _block("course_back_wall", -5.5, 5.5, -4.0, -3.5, 0.0, 2.45, WALL),
        _block("course_wall_left_1", -5.5, -5.0, -4.0, 8.83, 0.0, 2.45, WALL),
        _block("course_wall_right_1", 5.0, 5.5, -4.0, 8.83, 0.0, 2.45, WALL),
        Field("course_bumps", terrain.Heightfield(bumps, 0.1), 0.0, 0.0, 0.0, 0.1),
        _slab("course_ramp", -5.0, 5.0, (2.0, 0.0), (6.83, PLATFORM), 0.4, (0.3, 0.0)),
        *_platform_2026(),
    ]


def _platform_2026() -> list:
    return [_block("course_platform_2026", -5.0, 5.0, 6.83, 8.83, 0.0, PLATFORM)]


def _flight(name, x0, x1, y_edge, direction, rise, steps=10, tread=0.2) -> list:
    """`steps` treads of `tread` m, each `rise` higher, rising from the base level at
    y_edge in `direction` (+1 along +y, -1 along -y); each tread a box down to 1.294."""
    out = []
    for j in range(1, steps + 1):
        ya, yb = y_edge + direction * (j - 1) * tread, y_edge + direction * j * tread
        out.append(_block(f"{name}_{j}", x0, x1, min(ya, yb), max(ya, yb), PLATFORM - 0.3,
                          PLATFORM + rise * j, STAIR))
    return out


def _bridge() -> list:
    x0, x1, y0, y1 = -4.319, -1.681, 15.20, 20.44
    slat = (y1 - y0) / 23
    out = [_block(f"course_slat_{i}", x0, x1, y0 + i * slat, y0 + (i + 1) * slat,
                  2.595 + 0.209 * ((i - 11) / 11) ** 2 - 0.1,
                  2.595 + 0.209 * ((i - 11) / 11) ** 2, BRIDGE) for i in range(23)]
    for side, xr in (("left", -4.32), ("right", -1.68)):
        out.append(_block(f"course_railing_{side}", xr - 0.03, xr + 0.03, 15.30, 20.36,
                          2.495, 3.154, BRIDGE))
        for end, yp in (("near", 15.30), ("far", 20.36)):
            out.append(_block(f"course_post_{side}_{end}", xr - 0.06, xr + 0.06, yp - 0.06,
                              yp + 0.06, 2.794, 3.30, BRIDGE))
    for end, (ya, yb, firm) in (("near", (14.58, 15.33, (14.33, 14.58))),
                                ("far", (20.33, 21.08, (21.08, 21.33)))):
        out.append(_block(f"course_head_{end}", -5.0, -1.0, *firm, PLATFORM, 2.794, STAIR))
        out.append(_block(f"course_head_{end}_slab", -5.0, -1.0, ya, yb, 2.494, 2.794, STAIR))
        yc = (ya + yb) / 2
        for i, xc in enumerate((-4.4, -1.6)):  # pillars (R 0.40 in the kit: boxes here)
            out.append(_block(f"course_pillar_{end}_{i}", xc - 0.35, xc + 0.35, yc - 0.35,
                              yc + 0.35, PLATFORM, 2.494, STAIR))
    return out


def _valley() -> list:
    corners = _valley_profile()
    out = []
    for i, (a, b) in enumerate(itertools.pairwise(corners)):
        far_a, far_b = (2 * VALLEY_MID - b[0], b[1]), (2 * VALLEY_MID - a[0], a[1])
        out.append(_slab(f"course_bank_near_{i}", -5.0, 5.0, a, b, extend=(0.0, 0.05)))
        out.append(_slab(f"course_bank_far_{i}", -5.0, 5.0, far_a, far_b, extend=(0.05, 0.0)))
    stones = [(3.50, 15.84, 0.20), (0.359, 15.84, 0.20), (2.00, 17.83, 0.26),
              (3.50, 19.716, 0.24), (0.359, 19.716, 0.24)]
    out += [Sphere(f"course_stone_{i}", (sx, sy, float(valley_height(np.array(sy))) + dome - 0.75),
                   0.75) for i, (sx, sy, dome) in enumerate(stones)]
    return out


def _section2() -> list:
    _, y = np.meshgrid(np.linspace(-5, 5, 101), np.linspace(8.83, 11.83, 31))
    waves = 0.05 * (1 - np.cos(2 * np.pi * (y - 8.83) / 0.6))
    return [
        _block("course_base_2", -5.0, 5.0, 8.83, 23.33, 0.0, PLATFORM),
        Field("course_waves", terrain.Heightfield(waves, 0.1), 0.0, 10.33, PLATFORM, 0.1),
        *_flight("course_stairs_left_up", -5.0, -1.0, 12.33, 1, 0.15),
        *_flight("course_stairs_right_up", -1.0, 5.0, 12.33, 1, 0.10),
        _block("course_landing_near", -1.0, 5.0, 14.33, 14.58, PLATFORM, 2.294, STAIR),
        *_bridge(), *_valley(),
        _block("course_landing_far", -1.0, 5.0, 21.08, 21.33, PLATFORM, 2.294, STAIR),
        *_flight("course_stairs_left_down", -5.0, -1.0, 23.33, -1, 0.15),
        *_flight("course_stairs_right_down", -1.0, 5.0, 23.33, -1, 0.10),
    ]


def _exit_platform() -> list:
    return [
        _block("course_exit", -5.0, 5.0, 23.33, 25.33, 0.0, PLATFORM),
        _block("course_wall_left_2", -5.5, -5.0, 23.33, 25.33, 0.0, 2.494, WALL),
        _block("course_wall_right_2", 5.0, 5.5, 23.33, 25.33, 0.0, 2.494, WALL),
    ]


def _section3() -> list:
    rng = np.random.default_rng(2026)  # one fixed pattern: the kit's course is fixed
    rough = rng.uniform(0.0, 0.149, (16, 51))
    rough[0, 0], rough[-1, -1] = 0.0, 0.149  # the known extremes
    golds = [Sphere(f"course_gold_{i}", (gx, 31.23, FINISH + 0.10 - 0.75), 0.75,
                    "0.9 0.75 0.2 1") for i, gx in enumerate((-3.0, 0.0, 3.0))]
    return [
        _block("course_base_3", -5.0, 5.0, 25.33, 33.83, 0.0, PLATFORM),
        _slab("course_lip", -5.0, 5.0, (27.33, PLATFORM), (27.83, FINISH), 0.3, (0.1, 0.0)),
        Field("course_rough", terrain.Heightfield(rough, 0.2), 0.0, 29.33, 1.343, 0.1),
        _block("course_finish", -5.0, 5.0, 30.83, 33.83, PLATFORM, FINISH),
        *golds,
        _block("course_wall_left_3", -5.46, -4.96, 25.33, 30.36, 0.0, 3.33, WALL),
        _block("course_wall_right_3", 4.96, 5.46, 25.33, 30.36, 0.0, 3.33, WALL),
        _block("course_wall_left_4", -5.02, -4.52, 30.36, 33.83, 0.0, 3.33, WALL),
        _block("course_wall_right_4", 4.52, 5.02, 30.36, 33.83, 0.0, 3.33, WALL),
        _block("course_end_wall", -5.5, 5.5, 33.83, 34.33, 0.0, 3.33, WALL),
    ]


# --- courses -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Course:
    name: str
    ground: terrain.Heightfield | None  # centred at ground_pos; None: the flat floor plane
    ground_pos: tuple[float, float]
    obstacles: tuple[dict, ...]  # static geoms: MJCF attributes (collide with the robot)
    markers: tuple[dict, ...]  # visual-only geoms
    waypoints: np.ndarray  # [K, 2]; the last one is the goal (finish zone centre)
    goal_heading: float  # rad, unless random_goal_heading
    random_goal_heading: bool
    spawn_centre: tuple[float, float]
    spawn_ring: tuple[float, float]  # (r0, r1) > 0: spawn on a ring around spawn_centre
    spawn_jitter: tuple[float, float]  # else uniform +- (x, y) around it
    spawn_yaw: tuple[float, float]  # uniform yaw range
    spawn_ground: float  # highest ground in the spawn region
    bounds: tuple[float, ...]  # (cx, cy, r) a circle or (x0, x1, y0, y1) a box
    episode_s: float
    # a course of sections: the waypoints passed (the goal counts) at each section's end
    section_ends: tuple[int, ...] = ()
    parts: tuple = ()  # Box, Sphere and Field parts (named course_*), all solid
    balls: int = 0  # rolling balls (bodies ball0, ball1, ...)
    ball_lanes: tuple[float, ...] = ()  # y of each ball's lane

    # --- spawns and bounds ---

    def spawn(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        """Spawn points [N, 2] and headings [N]."""
        key_a, key_b, key_yaw = jax.random.split(key, 3)
        centre = jnp.asarray(self.spawn_centre)
        if self.spawn_ring[1] > 0:
            angle = jax.random.uniform(key_a, (n,), minval=-math.pi, maxval=math.pi)
            r = jax.random.uniform(key_b, (n,), minval=self.spawn_ring[0],
                                   maxval=self.spawn_ring[1])
            xy = centre + r[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
        else:
            jitter = jnp.asarray(self.spawn_jitter)
            xy = centre + jax.random.uniform(key_a, (n, 2), minval=-jitter, maxval=jitter)
        yaw = jax.random.uniform(key_yaw, (n,), minval=self.spawn_yaw[0],
                                 maxval=self.spawn_yaw[1])
        return xy, yaw

    def inside(self, xy: jax.Array) -> jax.Array:
        """[N] bool: xy [N, 2] is on the course."""
        if len(self.bounds) == 3:
            cx, cy, r = self.bounds
            return jnp.hypot(xy[:, 0] - cx, xy[:, 1] - cy) < r
        x0, x1, y0, y1 = self.bounds
        return (xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1)

    def height_at(self, x, y) -> np.ndarray:
        """The top surface (numpy) at x, y: the highest part there, else the floor (0)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        out = np.zeros(np.broadcast(x, y).shape)
        if self.ground is not None:
            out = self.ground.height_at(x - self.ground_pos[0], y - self.ground_pos[1])
        for part in self.parts:
            out = np.maximum(out, part.top(x, y))
        return out

    def surface(self, xy: jax.Array) -> jax.Array:
        """`height_at` in JAX, jittable: the top surface [...] under xy [..., 2] (the
        stage-2 courses; the floor, 0, under section001)."""
        x, y = xy[..., 0], xy[..., 1]
        out = jnp.zeros(x.shape)
        for part in self.parts:
            out = jnp.maximum(out, part.top(x, y, jnp))
        return out

    def ground_near(self, points: np.ndarray, reach: float) -> np.ndarray:
        """[P] the highest ground sample within `reach` m of each point [P, 2] (a spawn's
        ground: the robot is dropped from its spawn height above it)."""
        step = 0.05 if self.ground is None else self.ground.cell / 2
        offsets = np.arange(-reach, reach + 1e-9, step)
        dx, dy = (d.ravel() for d in np.meshgrid(offsets, offsets))
        disc = np.hypot(dx, dy) <= reach
        x = np.asarray(points)[:, :1] + dx[disc]
        y = np.asarray(points)[:, 1:] + dy[disc]
        return self.height_at(x, y).max(-1)

    # --- the scene ---

    @property
    def solid_geoms(self) -> tuple[str, ...]:
        """Names of every solid course geom, the floor plane first."""
        return ("floor", *(f"obstacle{i}" for i in range(len(self.obstacles))),
                *(part.name for part in self.parts))

    def base_contact_pairs(self, base: str = "base") -> tuple[tuple[str, str], ...]:
        """(base, geom) for every solid course geom: any flag set is the base down."""
        return tuple((base, geom) for geom in self.solid_geoms)

    @property
    def ball_geoms(self) -> tuple[str, ...]:
        return tuple(f"ball{i}" for i in range(self.balls))

    def ball_pairs(self, geoms: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """(ball, geom) for every ball and each of the robot's `geoms`."""
        return tuple((ball, geom) for ball in self.ball_geoms for geom in geoms)

    def geoms(self) -> tuple[ET.Element, ...]:
        """The scene's additions: solid geoms, markers, the heightfields' `<hfield>`
        assets (`legged.scene_xml` puts them under `<asset>`) and the balls' bodies."""
        solid = [ET.Element("geom", name=f"obstacle{i}", contype="0", conaffinity="1",
                            **attrs) for i, attrs in enumerate(self.obstacles)]
        solid += [ET.Element("geom", name=part.name, contype="0", conaffinity="1",
                             **part.attrs()) for part in self.parts]
        shown = [ET.Element("geom", name=f"marker{i}", contype="0", conaffinity="0",
                            **attrs) for i, attrs in enumerate(self.markers)]
        assets = [part.asset() for part in self.parts if isinstance(part, Field)]
        return tuple(solid + shown + assets + [self._ball_body(i) for i in range(self.balls)])

    def _ball_body(self, i: int) -> ET.Element:
        """A free ball resting in its lane (the episode's start comes from ball_state)."""
        body = ET.Element("body", name=f"ball{i}",
                          pos=_fmt((0.0, self.ball_lanes[i], PLATFORM + BALL_RADIUS)))
        ET.SubElement(body, "freejoint", name=f"ball{i}")
        inertia = 2.0 / 3.0 * BALL_MASS * BALL_RADIUS ** 2
        ET.SubElement(body, "inertial", pos="0 0 0", mass=f"{BALL_MASS}",
                      diaginertia=_fmt((inertia,) * 3))
        ET.SubElement(body, "geom", name=f"ball{i}", type="sphere", size=f"{BALL_RADIUS}",
                      contype="1", conaffinity="1", friction="0.8 0.005 0.0001",
                      rgba="0.9 0.3 0.2 1")
        return body

    def ball_state(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        """Each episode's ball start: qpos [N, 7 balls] (x, y, z, quaternion xyzw) and
        qvel [N, 6 balls] (world linear, angular): ball i in its lane at a uniform x in
        the band, rolling without slipping along +-x at BALL_SPEED m/s."""
        b = self.balls
        key_x, key_speed, key_sign = jax.random.split(key, 3)
        reach = BALL_REACH - BALL_RADIUS
        x = jax.random.uniform(key_x, (n, b), minval=-reach, maxval=reach)
        speed = jax.random.uniform(key_speed, (n, b), minval=BALL_SPEED[0],
                                   maxval=BALL_SPEED[1])
        vx = jnp.where(jax.random.bernoulli(key_sign, 0.5, (n, b)), speed, -speed)
        lanes = jnp.broadcast_to(jnp.asarray(self.ball_lanes, jnp.float32), (n, b))
        zeros, ones = jnp.zeros((n, b)), jnp.ones((n, b))
        qpos = jnp.stack([x, lanes, zeros + PLATFORM + BALL_RADIUS, zeros, zeros, zeros,
                          ones], -1)
        # rolling along x without slipping: spin about y of vx / R
        qvel = jnp.stack([vx, zeros, zeros, zeros, vx / BALL_RADIUS, zeros], -1)
        return qpos.reshape(n, 7 * b), qvel.reshape(n, 6 * b)


BALL_MASS = 1.0
BALL_SPEED = (0.3, 1.0)  # m/s
BALL_REACH = 4.9  # |x| the balls start within (centre + radius)
SPAWN_JITTER = (4.5, 0.55)  # on a 10 x 2 m platform: 0.5 m from its walls and ends
SPAWN_YAW = (math.pi / 2 - 0.15, math.pi / 2 + 0.15)


def _marker_disc(x: float, y: float, z: float, r: float, rgba: str) -> dict:
    return {"type": "box", "size": f"{r} {r} 0.005", "pos": f"{x:.3f} {y:.3f} {z + 0.01:.3f}",
            "rgba": rgba}


def section001(seed: int) -> Course:
    """Flat floor (a heightfield here made MotrixSim step 4.5x slower: 2.4k vs 10.9k
    env-steps/s at 2048 envs) walled by boxes; the seed turns the wall ring."""
    rng = np.random.default_rng(seed)
    radius, turn = 6.0, rng.uniform(0, 2 * math.pi / 36)
    walls = []
    for i in range(36):
        a = 2 * math.pi * i / 36 + turn
        walls.append({"type": "box", "size": "0.56 0.1 0.3",
                      "euler": f"0 0 {a + math.pi / 2:.4f}",
                      "pos": f"{6.4 * math.cos(a):.3f} {6.4 * math.sin(a):.3f} 0.3"})
    return Course(
        "section001", None, (0.0, 0.0), tuple(walls),
        (_marker_disc(0.0, 0.0, 0.0, 0.3, "0.1 0.8 0.1 1"),), np.array([[0.0, 0.0]]),
        0.0, True, (0.0, 0.0), (4.0, 5.0), (0.0, 0.0), (-math.pi, math.pi), 0.0,
        (0.0, 0.0, radius), 40.0)


# route waypoints of each section (centre line, right lane): the task replaces them
ROUTE_1 = ((0.0, 4.40), (0.0, 7.83))
ROUTE_2 = ((1.2, 13.20), (1.2, 17.83), (1.2, 21.93), (0.0, 24.33))
ROUTE_3 = ((0.0, 27.58), (0.0, 30.83), (0.05, 32.53))
LANES = (25.83, 26.83)


def _arena(name, parts, start, ground, bounds, route, episode_s, balls=0,
           section_ends=()) -> Course:
    return Course(
        name, None, (0.0, 0.0), (), (), np.array(route, float), math.pi / 2, False, start,
        (0.0, 0.0), SPAWN_JITTER, SPAWN_YAW, ground, bounds, episode_s, section_ends,
        tuple(parts), balls, LANES[:balls])


def section011(seed: int = 0) -> Course:
    """START -> the "2026" platform (section 1)."""
    return _arena("section011", _section1(), (0.0, -2.5), 0.0, (-5.0, 5.0, -4.0, 8.83),
                  ROUTE_1, 40.0)


def section012(seed: int = 0) -> Course:
    """The "2026" platform -> the exit platform (section 2)."""
    walls = [p for p in _section1() if p.name.startswith("course_wall")]
    return _arena("section012", walls + _platform_2026() + _section2() + _exit_platform(),
                  (0.0, 7.83), PLATFORM, (-5.0, 5.0, 6.83, 25.33), ROUTE_2, 120.0)


def section013(seed: int = 0) -> Course:
    """The exit platform -> the finish (section 3), with the rolling balls."""
    return _arena("section013", _exit_platform() + _section3(), (0.0, 24.33), PLATFORM,
                  (-5.0, 5.0, 23.33, 33.83), ROUTE_3, 40.0, balls=len(LANES))


def section002(seed: int = 0) -> Course:
    """The whole course, START -> finish (35.0 m along y), in one frame, 60 s."""
    route = ROUTE_1 + ROUTE_2 + ROUTE_3
    ends = tuple(np.cumsum([len(ROUTE_1), len(ROUTE_2), len(ROUTE_3)]).tolist())
    return _arena("section002", _section1() + _section2() + _exit_platform() + _section3(),
                  (0.0, -2.5), 0.0, (-5.0, 5.0, -4.0, 33.83), route, 60.0,
                  balls=len(LANES), section_ends=ends)


COURSES = {"section001": section001, "section011": section011, "section012": section012,
           "section013": section013, "section002": section002}


@functools.cache
def build(name: str, seed: int) -> Course:
    """The course `name` for `seed` (deterministic; cached)."""
    return COURSES[name](seed)
