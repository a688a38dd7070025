"""VBot obstacle courses, generated in code from a seed: ground heightfields, primitive
obstacles, waypoints, the spawn region and the course bounds.

Our own courses in the spirit of MotrixLab's navigation sections (whose competition
scenes are not redistributable):
- section001: a flat circular arena walled by boxes; the goal is its centre.
- section011: a straight bumpy course with bonus pickups (waypoints) and a finish zone.
- section012: waves, then a river crossed by a narrow bridge (a box) or through a rough
  riverbed, stairs up and down, and a finish zone where the robot must stop.
- section013: rolling ground with static balls and a finish zone.
- section002: the whole course, sections 011, 012 and 013 joined in order (60 s).
The heightfield floor is named `floor` (its contact with the base is a fall); markers
(pickups, finish zones) are visual only.
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from motrix_jax.envs import terrain


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
        if self.ground is None:
            return np.zeros(np.shape(x))
        return self.ground.height_at(np.asarray(x) - self.ground_pos[0],
                                     np.asarray(y) - self.ground_pos[1])

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

    def geoms(self) -> tuple[ET.Element, ...]:
        solid = [ET.Element("geom", name=f"obstacle{i}", contype="0", conaffinity="1",
                            **attrs) for i, attrs in enumerate(self.obstacles)]
        shown = [ET.Element("geom", name=f"marker{i}", contype="0", conaffinity="0",
                            **attrs) for i, attrs in enumerate(self.markers)]
        return tuple(solid + shown)


def _grid(x0: float, x1: float, y0: float, y1: float, cell: float):
    """Sample coordinates X, Y [nrow (y), ncol (x)] and the grid centre."""
    xs = np.linspace(x0, x1, round((x1 - x0) / cell) + 1)
    ys = np.linspace(y0, y1, round((y1 - y0) / cell) + 1)
    x, y = np.meshgrid(xs, ys)
    return x, y, ((x0 + x1) / 2, (y0 + y1) / 2)


def _heightfield(heights: np.ndarray, cell: float) -> terrain.Heightfield:
    """A whole-course heightfield. Its lowest sample must be 0:
    the engine rescales elevation data to span [0, top]."""
    if heights.min() != 0.0:
        raise ValueError(f"course heights must start at 0, got a minimum of {heights.min()}")
    return terrain.Heightfield(heights, cell)


def _spawn_ground(course_heights, x, y, centre, reach) -> float:
    near = np.hypot(x - centre[0], y - centre[1]) <= reach
    return float(course_heights[near].max())


def _bumps(rng, x, y, amplitude: float, wavelength: float, terms: int = 3) -> np.ndarray:
    """Smooth random bumps: a sum of plane waves of random direction and phase."""
    out = np.zeros_like(x)
    for _ in range(terms):
        angle, phase = rng.uniform(0, 2 * math.pi, 2)
        k = 2 * math.pi / (wavelength * rng.uniform(0.7, 1.3))
        out += np.sin(k * (x * math.cos(angle) + y * math.sin(angle)) + phase)
    return amplitude * (out / terms + 1.0) / 2.0


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


def section011(seed: int, cell: float = 0.2) -> Course:
    """`cell`: 0.2 m for smooth bumps (0.1 m cells stepped 1.35x slower on MotrixSim);
    the heights are a function of position, so a finer grid samples the same ground."""
    rng = np.random.default_rng(seed)
    x, y, centre = _grid(-1.5, 25.5, -3.0, 3.0, cell)
    heights = _bumps(rng, x, y, 0.06, 2.0) * np.clip((x - 2.0) / 2.0, 0.0, 1.0)
    pickups = [(px, float(rng.uniform(-1.5, 1.5))) for px in (5.0, 9.5, 14.0, 18.5)]
    finish = (22.5, 0.0)
    markers = [{"type": "sphere", "size": "0.12", "rgba": "1 0.8 0 1",
                    "pos": f"{px:.3f} {py:.3f} {float(_at(heights, x, y, px, py)) + 0.35:.3f}"}
               for px, py in pickups]
    markers.append(_marker_disc(*finish, float(_at(heights, x, y, *finish)), 1.0,
                                "0.1 0.8 0.1 1"))
    return Course(
        "section011", _heightfield(heights, cell), centre, (), tuple(markers),
        np.array(pickups + [finish]), 0.0, False, (0.5, 0.0), (0.0, 0.0), (0.3, 0.5),
        (-0.3, 0.3), _spawn_ground(heights, x, y, (0.5, 0.0), 1.0), (-1.0, 25.0, -2.5, 2.5),
        40.0)


def section012(seed: int) -> Course:
    rng = np.random.default_rng(seed)
    cell, bank = 0.1, 0.3  # the river is cut `bank` metres into the course's level
    x, y, centre = _grid(-1.5, 37.5, -3.0, 3.0, cell)
    heights = np.full_like(x, bank)
    waves = (x > 3.0) & (x < 10.0)
    phase = rng.uniform(0, 2 * math.pi)
    heights += np.where(waves, 0.08 * np.sin(2 * math.pi * (x - 3.0) / 1.75 + phase)
                        * np.sin(math.pi * (x - 3.0) / 7.0), 0.0)
    river = (x > 12.0) & (x < 17.0)
    rocks = rng.uniform(0.0, 0.12, (heights.shape[0] // 2 + 1, heights.shape[1] // 2 + 1))
    riverbed = 0.08 + np.kron(rocks, np.ones((2, 2)))[:heights.shape[0], :heights.shape[1]]
    heights = np.where(river, riverbed, heights)
    bank -= heights.min()
    heights -= heights.min()
    rise, depth = 0.08, 0.4
    up = np.clip(np.floor((x - 19.0) / depth) + 1, 0, 5)
    down = np.clip(np.floor((x - 23.0) / depth) + 1, 0, 5)
    heights += np.where((x >= 19.0) & (x < 25.0), (up - down) * rise, 0.0)
    bridge = {"type": "box", "size": f"2.6 0.22 {bank / 2:.3f}", "pos": f"14.5 1.4 {bank / 2:.3f}",
                  "rgba": "0.55 0.35 0.2 1"}
    finish = (31.0, 0.0)
    return Course(
        "section012", _heightfield(heights, cell), centre, (bridge,),
        (_marker_disc(*finish, bank, 1.0, "0.1 0.8 0.1 1"),),
        np.array([(11.0, 0.0), (18.0, 0.0), (22.0, 0.0), finish]), 0.0, False, (1.0, 0.0),
        (0.0, 0.0), (0.3, 0.5), (-0.3, 0.3), _spawn_ground(heights, x, y, (1.0, 0.0), 1.0),
        (-1.0, 37.0, -2.5, 2.5), 120.0)


def section013(seed: int, cell: float = 0.2) -> Course:
    """`cell`: as for section011."""
    rng = np.random.default_rng(seed)
    x, y, centre = _grid(-1.5, 21.5, -3.5, 3.5, cell)
    heights = _bumps(rng, x, y, 0.25, 4.0, terms=4) * np.clip((x - 1.5) / 2.0, 0.0, 1.0)
    waypoints = np.array([(6.0, float(rng.uniform(-1.5, 1.5))),
                          (12.0, float(rng.uniform(-1.5, 1.5))), (18.0, 0.0)])
    balls = []
    while len(balls) < 14:
        bx, by, r = rng.uniform(3.0, 17.0), rng.uniform(-2.8, 2.8), rng.uniform(0.2, 0.35)
        clear = np.hypot(waypoints[:, 0] - bx, waypoints[:, 1] - by).min() > r + 0.6
        apart = all(math.hypot(bx - b[0], by - b[1]) > b[2] + r + 0.6 for b in balls)
        if clear and apart:
            balls.append((bx, by, r))
    # balls half sunk into the ground: static, and nothing to roll
    obstacles = tuple({"type": "sphere", "size": f"{r:.3f}", "rgba": "0.3 0.3 0.8 1",
                       "pos": f"{bx:.3f} {by:.3f} {_at(heights, x, y, bx, by) + 0.5 * r:.3f}"}
                      for bx, by, r in balls)
    finish = tuple(waypoints[-1])
    return Course(
        "section013", _heightfield(heights, cell), centre, obstacles,
        (_marker_disc(*finish, float(_at(heights, x, y, *finish)), 1.0, "0.1 0.8 0.1 1"),),
        waypoints, 0.0, False, (0.5, 0.0), (0.0, 0.0), (0.3, 0.5), (-0.3, 0.3),
        _spawn_ground(heights, x, y, (0.5, 0.0), 1.0), (-1.0, 21.0, -3.0, 3.0), 40.0)


def section002(seed: int) -> Course:
    """Sections 011, 012 and 013 of `seed` joined in order along x on one 0.1 m grid (the
    finest of the three), each raised or lowered so that its start meets the previous
    one's end; waypoints through all three, the finish of 013 at the end, 60 s."""
    cell = 0.1  # section012's
    parts = [section011(seed, cell=cell), section012(seed), section013(seed, cell=cell)]
    if any(part.ground.cell != cell for part in parts):
        raise ValueError(f"section002 joins its sections on one {cell} m grid, got cells "
                         f"{[part.ground.cell for part in parts]}")
    half_y = max(part.ground.half_size[1] for part in parts)
    x0 = parts[0].ground_pos[0] - parts[0].ground.half_size[0]  # the first stays in place
    columns, shifts, end, level = [], [], x0, 0.0
    for i, part in enumerate(parts):
        rx, ry = part.ground.half_size
        dx = end - (part.ground_pos[0] - rx)  # its first column on the previous last one
        pad = round((half_y - ry) / cell)
        h = np.pad(part.ground.heights, ((pad, pad), (0, 0)), mode="edge")
        dz = level - h[:, 0].mean()
        columns.append(h[:, 1:] + dz if i else h + dz)
        shifts.append((dx, dz))
        end, level = part.ground_pos[0] + rx + dx, float(h[:, -1].mean() + dz)
    heights = np.concatenate(columns, axis=1)
    lowest = heights.min()
    shifts = [(dx, dz - lowest) for dx, dz in shifts]
    first, last = parts[0], parts[-1]
    return Course(
        "section002", _heightfield(heights - lowest, cell), ((x0 + end) / 2, 0.0),
        tuple(_moved(g, *d) for part, d in zip(parts, shifts) for g in part.obstacles),
        tuple(_moved(g, *d) for part, d in zip(parts, shifts) for g in part.markers),
        np.concatenate([part.waypoints + [d[0], 0.0] for part, d in zip(parts, shifts)]),
        0.0, False, first.spawn_centre, first.spawn_ring, first.spawn_jitter,
        first.spawn_yaw, first.spawn_ground + shifts[0][1],
        (first.bounds[0], last.bounds[1] + shifts[-1][0],
         min(p.bounds[2] for p in parts), max(p.bounds[3] for p in parts)),
        60.0, tuple(np.cumsum([len(part.waypoints) for part in parts]).tolist()))


def _moved(attrs: dict, dx: float, dz: float) -> dict:
    """MJCF geom attributes with the position moved by dx along x and dz up."""
    x, y, z = (float(v) for v in attrs["pos"].split())
    return {**attrs, "pos": f"{x + dx:.3f} {y:.3f} {z + dz:.3f}"}


def _at(heights, x, y, px, py) -> float:
    """Height of the sample nearest to (px, py) on the grid x, y."""
    return heights[np.argmin(np.abs(y[:, 0] - py)), np.argmin(np.abs(x[0] - px))]


COURSES = {"section001": section001, "section011": section011, "section012": section012,
           "section013": section013, "section002": section002}


@functools.cache
def build(name: str, seed: int) -> Course:
    """The course `name` for `seed` (deterministic; cached)."""
    return COURSES[name](seed)
