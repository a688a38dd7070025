"""Terrain generated in code from a seed, laid out for a curriculum.

`num_levels` strips of difficulty 0 (easiest) to num_levels - 1 lie side by side along
y, each `length` m along x and `width` m across, inside a flat border. A robot spawns
near its level's spawn point; its level is the strip under it (`level_at`), so the level
a curriculum logs is the terrain under the robot, also after it walked off the strip it
spawned on (the border counts as level 0: it is flat).

The heights of the whole area are one grid (`Heightfield`, heights in metres) that JAX
reads for the ground under the robot and its height scan. The physics engines get the
same terrain either as that grid (`<hfield>`: `rough`, whose 0.3 m cells are what keep
MotrixSim's heightfield contacts cheap) or as primitive boxes whose tops the grid
samples (`stairs`: one box per stair tread). No binary assets: the elevation goes into
the MJCF text.

Here heights row r, column c sits at x = -rx + c * 2 rx / (ncol - 1),
y = -ry + r * 2 ry / (nrow - 1). MJCF's `elevation` text runs the other way in y (its
first row is at y = +ry, measured with `mj_ray`), so `mjcf_asset` writes the rows
reversed; MotrixSim reads the text as MuJoCo does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

SPAWN_REACH = 0.45  # m around a spawn point that the robot may cover


@dataclass(frozen=True, eq=False)
class Heightfield:
    """Heights [nrow (y), ncol (x)] in metres (minimum 0) every `cell` m, centred at
    the origin of the geom that shows it."""

    heights: np.ndarray
    cell: float

    @property
    def half_size(self) -> tuple[float, float]:
        nrow, ncol = self.heights.shape
        return (ncol - 1) * self.cell / 2, (nrow - 1) * self.cell / 2

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Nearest-sample height (numpy), for tests and spawn tables."""
        rx, ry = self.half_size
        col = np.clip(np.rint((x + rx) / self.cell).astype(int), 0, self.heights.shape[1] - 1)
        row = np.clip(np.rint((y + ry) / self.cell).astype(int), 0, self.heights.shape[0] - 1)
        return self.heights[row, col]

    def ground(self, xy: jax.Array) -> jax.Array:
        """Height [...] under the points xy [..., 2] (jax), interpolated bilinearly
        between samples; points off the grid read its nearest edge."""
        rx, ry = self.half_size
        nrow, ncol = self.heights.shape
        u = jnp.clip((xy[..., 0] + rx) / self.cell, 0.0, ncol - 1.0)
        v = jnp.clip((xy[..., 1] + ry) / self.cell, 0.0, nrow - 1.0)
        c0 = jnp.minimum(jnp.floor(u).astype(jnp.int32), ncol - 2)
        r0 = jnp.minimum(jnp.floor(v).astype(jnp.int32), nrow - 2)
        fu, fv = u - c0, v - r0
        h = jnp.asarray(self.heights, jnp.float32)
        top = h[r0, c0] * (1 - fu) + h[r0, c0 + 1] * fu
        bottom = h[r0 + 1, c0] * (1 - fu) + h[r0 + 1, c0 + 1] * fu
        return top * (1 - fv) + bottom * fv

    def mjcf_asset(self, name: str) -> ET.Element:
        rx, ry = self.half_size
        top = max(float(self.heights.max()), 1e-3)
        # MJCF's elevation text lists rows from +y down to -y (as an image's rows)
        elevation = " ".join(f"{v:.5f}" for v in (self.heights[::-1] / top).ravel())
        nrow, ncol = self.heights.shape
        return ET.Element("hfield", name=name, nrow=str(nrow), ncol=str(ncol),
                          size=f"{rx} {ry} {top} 0.5", elevation=elevation)


@dataclass(frozen=True, eq=False)
class Terrain:
    grid: Heightfield  # heights of the whole area, border included
    num_levels: int
    length: float  # m along x of each level's strip
    width: float  # m across (y) of each level's strip
    spawn_x: float  # x of every spawn point; y is the strip's centre line
    spawn_jitter: float  # uniform +- jitter of the spawn point, metres
    # [K, 6] boxes (centre xyz, half sizes) the engines collide with over a floor plane;
    # empty: the engines collide with `grid` as a heightfield
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)))

    def strip_centre_y(self, level):
        return (level + 0.5 - self.num_levels / 2) * self.width

    def spawn(self, key: jax.Array, level: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Spawn points [N, 2] on the strips of the given levels [N], and the ground
        height [N] to spawn above: the highest within `SPAWN_REACH` of the point (the
        robot's half length), so no part of a robot starts inside the ground."""
        jitter = jax.random.uniform(key, level.shape + (2,), minval=-self.spawn_jitter,
                                    maxval=self.spawn_jitter)
        centre = jnp.stack([jnp.full(level.shape, self.spawn_x),
                            self.strip_centre_y(level)], -1)
        xy = centre + jitter
        around = jnp.linspace(-SPAWN_REACH, SPAWN_REACH, 7)
        offsets = jnp.stack(jnp.meshgrid(around, around), -1).reshape(-1, 2)
        return xy, self.grid.ground(xy[:, None, :] + offsets).max(-1)

    def level_at(self, xy: jax.Array) -> jax.Array:
        """[N] int32: the level of the strip under xy [N, 2] (0 on the flat border)."""
        row = jnp.floor(xy[:, 1] / self.width + self.num_levels / 2).astype(jnp.int32)
        inside = (jnp.abs(xy[:, 0]) <= self.length / 2) & (row >= 0) & (row < self.num_levels)
        return jnp.where(inside, row, 0)

    def scan(self, xy: jax.Array, yaw: jax.Array, points: jax.Array) -> jax.Array:
        """Ground heights [N, P] at `points` [P, 2] (m, in the robot's heading frame:
        x forward, y left) around xy [N, 2] with headings yaw [N]."""
        c, s = jnp.cos(yaw)[:, None], jnp.sin(yaw)[:, None]
        x = xy[:, :1] + c * points[:, 0] - s * points[:, 1]
        y = xy[:, 1:] + s * points[:, 0] + c * points[:, 1]
        return self.grid.ground(jnp.stack([x, y], -1))

    def mjcf(self) -> tuple[Heightfield | None, tuple[ET.Element, ...]]:
        """(the heightfield that replaces the floor plane or None, static box geoms)."""
        if len(self.boxes) == 0:
            return self.grid, ()
        return None, tuple(
            ET.Element("geom", name=f"terrain{i}", type="box", contype="0", conaffinity="1",
                       pos=" ".join(f"{v:.4f}" for v in b[:3]),
                       size=" ".join(f"{v:.4f}" for v in b[3:]))
            for i, b in enumerate(self.boxes))


def _layout(num_levels, length, width, border, cell):
    """Sample coordinates X, Y [nrow, ncol] of the area, and each sample's level strip
    [nrow, ncol] (-1 on the border)."""
    rx, ry = length / 2 + border, num_levels * width / 2 + border
    xs = np.linspace(-rx, rx, round(2 * rx / cell) + 1)
    ys = np.linspace(-ry, ry, round(2 * ry / cell) + 1)
    x, y = np.meshgrid(xs, ys)
    row = np.floor(y / width + num_levels / 2).astype(int)
    inside = (np.abs(x) <= length / 2) & (row >= 0) & (row < num_levels)
    return x, y, np.where(inside, row, -1)


def rough(rng: np.random.Generator, num_levels: int = 10, tile: float = 32.0,
          cell: float = 0.3, max_bump: float = 0.1, max_slope: float = 0.3,
          border: float = 8.0) -> Terrain:
    """Square tiles of random bumps (uniform per sample, up to `max_bump` m) on rolling
    hills (slopes up to `max_slope`), both growing with level from flat at level 0. The
    relief fades out over the last metre of each tile, so tiles and border meet flat.

    A tile holds an episode: Go1 tracking its full command ranges for 20 s from a tile's
    centre stays on the tile in about 94 % of episodes with 32 m tiles (62 % with 16 m),
    and the border keeps about 99 % on the field, which has no ground beyond it (see
    test_go1). On 16 m tiles with a 4 m border a fast robot ended its episode on the
    flat border (level 0, so its next episode was on level 1) or walked off the field
    and fell, which held go1_rough's mean level near 2.9 whatever the policy learned."""
    x, y, level = _layout(num_levels, tile, tile, border, cell)
    difficulty = np.where(level >= 0, level, 0) / max(num_levels - 1, 1)
    wavelength = 4.0
    amplitude = max_slope * wavelength / (2 * np.pi)  # the hills' steepest slope
    phase_x, phase_y = rng.uniform(0, 2 * np.pi, (2, num_levels))[:, np.maximum(level, 0)]
    hills = amplitude * (1 + np.sin(2 * np.pi * x / wavelength + phase_x)
                         * np.sin(2 * np.pi * y / wavelength + phase_y))
    bumps = rng.uniform(0.0, max_bump, x.shape)
    cy = (np.maximum(level, 0) + 0.5 - num_levels / 2) * tile
    edge = np.minimum(tile / 2 - np.abs(x), tile / 2 - np.abs(y - cy))
    fade = np.clip(edge, 0.0, 1.0) * (level >= 0)
    heights = difficulty * fade * (hills + bumps)
    return Terrain(Heightfield(heights - heights.min(), cell), num_levels, tile, tile,
                   0.0, 1.0)


def stair_boxes(x0: float, length: float, y: float, width: float, rise: float,
                steps: int, depth: float, landing: float) -> list[tuple]:
    """Boxes of flights up and down along +x from x0: a landing, `steps` treads of
    `depth` m each `rise` m higher, a top landing, the same steps down, repeated while
    they fit in `length`. Tread j is a slab from (j-1) rise to j rise, spanning the
    flight up, the top and the flight down."""
    span = 2 * steps * depth + landing  # one flight up, the top, one down
    boxes, start = [], x0 + landing
    while start + span + landing <= x0 + length:
        for j in range(1, steps + 1):
            lo, hi = start + (j - 1) * depth, start + span - (j - 1) * depth
            boxes.append(((lo + hi) / 2, y, (j - 0.5) * rise,
                          (hi - lo) / 2, width / 2, rise / 2))
        start += span + landing
    return boxes


def stairs(rng: np.random.Generator, num_levels: int = 10, length: float = 30.0,
           width: float = 5.0, cell: float = 0.1, steps: int = 8, depth: float = 0.3,
           landing: float = 1.5, rise_per_level: float = 0.02,
           border: float = 8.0) -> Terrain:
    """Flights of `steps` stairs up and down along +x, one strip per level, of rise
    `rise_per_level` x (level + 1) (+-5 % per strip): 2 cm at level 0, 10 cm at level
    4, 20 cm at level 9. Robots spawn on the first landing."""
    x0 = -length / 2
    boxes = []
    for level in range(num_levels):
        rise = rise_per_level * (level + 1) * rng.uniform(0.95, 1.05)
        cy = (level + 0.5 - num_levels / 2) * width
        boxes += stair_boxes(x0, length, cy, width, rise, steps, depth, landing)
    boxes = np.array(boxes)
    x, y, _ = _layout(num_levels, length, width, border, cell)
    heights = np.zeros_like(x)
    for cx, cy, cz, hx, hy, hz in boxes:
        over = (np.abs(x - cx) <= hx) & (np.abs(y - cy) <= hy)
        heights = np.where(over, np.maximum(heights, cz + hz), heights)
    return Terrain(Heightfield(heights, cell), num_levels, length, width,
                   x0 + landing / 2, 0.3, boxes)
