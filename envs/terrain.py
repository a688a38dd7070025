"""Terrain generated in code from a seed: a heightfield of square tiles.

Tiles form a grid: `num_levels` columns along x, each one difficulty level (0 =
easiest), and `num_variants` rows along y of the same difficulty. A curriculum moves a
robot between levels by spawning it on another tile. No binary assets: the elevation
goes into the MJCF text (`<hfield elevation=...>`), and the spawn heights stay in JAX.

MJCF heightfield convention: data row r, column c sits at
x = -rx + c * 2 rx / (ncol - 1), y = -ry + r * 2 ry / (nrow - 1), height = elevation * z.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True, eq=False)
class Heightfield:
    heights: np.ndarray  # [nrow (y), ncol (x)] metres, minimum 0
    cell: float  # metres between samples
    tile: float  # tile side, metres
    num_levels: int
    num_variants: int
    spawn_heights: np.ndarray  # [num_levels, num_variants] ground height at the spawn
    spawn_offset: tuple[float, float]  # spawn point relative to the tile centre
    spawn_jitter: float  # uniform +- jitter of the spawn point, metres

    @property
    def half_size(self) -> tuple[float, float]:
        nrow, ncol = self.heights.shape
        return (ncol - 1) * self.cell / 2, (nrow - 1) * self.cell / 2

    def tile_centre(self, level, variant):
        rx, ry = self.half_size
        return -rx + (level + 0.5) * self.tile, -ry + (variant + 0.5) * self.tile

    def spawn(self, key: jax.Array, level: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Spawn points [N, 2] on tiles of the given levels [N] (random variant) and the
        ground height [N] under them."""
        key_variant, key_jitter = jax.random.split(key)
        n = level.shape[0]
        variant = jax.random.randint(key_variant, (n,), 0, self.num_variants)
        x, y = self.tile_centre(level, variant)
        jitter = jax.random.uniform(key_jitter, (n, 2), minval=-self.spawn_jitter,
                                    maxval=self.spawn_jitter)
        xy = jnp.stack([x, y], -1) + jnp.asarray(self.spawn_offset) + jitter
        return xy, jnp.asarray(self.spawn_heights, jnp.float32)[level, variant]

    def _cell(self, xp, x, y):
        """(row, col) of the nearest sample to (x, y), with numpy or jax.numpy as xp."""
        rx, ry = self.half_size
        col = xp.clip(xp.rint((x + rx) / self.cell).astype(int), 0, self.heights.shape[1] - 1)
        row = xp.clip(xp.rint((y + ry) / self.cell).astype(int), 0, self.heights.shape[0] - 1)
        return row, col

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Nearest-sample height (numpy), for tests and spawn tables."""
        return self.heights[self._cell(np, x, y)]

    def ground(self, xy: jax.Array) -> jax.Array:
        """Nearest-sample height [N] (jax) under the points xy [N, 2]."""
        row, col = self._cell(jnp, xy[:, 0], xy[:, 1])
        return jnp.asarray(self.heights, jnp.float32)[row, col]

    def mjcf_asset(self, name: str) -> ET.Element:
        rx, ry = self.half_size
        top = max(float(self.heights.max()), 1e-3)
        elevation = " ".join(f"{v:.5f}" for v in (self.heights / top).ravel())
        nrow, ncol = self.heights.shape
        return ET.Element("hfield", name=name, nrow=str(nrow), ncol=str(ncol),
                          size=f"{rx} {ry} {top} 0.5", elevation=elevation)


def _tile_grid(num_levels: int, num_variants: int, tile: float, cell: float):
    per_tile = round(tile / cell)
    return np.zeros((num_variants * per_tile + 1, num_levels * per_tile + 1)), per_tile


def _spawn_table(hf_heights, num_levels, num_variants, per_tile, offset_cells, radius_cells):
    """Highest ground within `radius_cells` of each tile's spawn point (cover the spawn
    jitter plus the robot's half length, so no spawn starts inside the ground)."""
    table = np.zeros((num_levels, num_variants))
    for level in range(num_levels):
        for variant in range(num_variants):
            r = variant * per_tile + per_tile // 2 + offset_cells[1]
            c = level * per_tile + per_tile // 2 + offset_cells[0]
            patch = hf_heights[max(r - radius_cells, 0):r + radius_cells + 1,
                               max(c - radius_cells, 0):c + radius_cells + 1]
            table[level, variant] = patch.max()
    return table


def rough(rng: np.random.Generator, num_levels: int = 10, num_variants: int = 4,
          tile: float = 8.0, cell: float = 0.1, max_bump: float = 0.08,
          max_slope: float = 0.15) -> Heightfield:
    """Random bumps (uniform noise per cell) on gentle slopes, both growing with level:
    level 0 is flat, level L-1 has bumps of `max_bump` metres and slopes of `max_slope`."""
    heights, per_tile = _tile_grid(num_levels, num_variants, tile, cell)
    ramp = np.abs(np.linspace(-1.0, 1.0, per_tile)) * tile / 2  # a ridge across the tile
    for level in range(num_levels):
        difficulty = level / max(num_levels - 1, 1)
        for variant in range(num_variants):
            bumps = rng.uniform(0.0, max_bump * difficulty, (per_tile, per_tile))
            slope = max_slope * difficulty * rng.uniform(0.5, 1.0)
            ridge = (tile / 2 - ramp)[None, :] * slope  # highest in the middle
            rows = slice(variant * per_tile, (variant + 1) * per_tile)
            cols = slice(level * per_tile, (level + 1) * per_tile)
            heights[rows, cols] = bumps + ridge
    heights -= heights.min()
    spawn = _spawn_table(heights, num_levels, num_variants, per_tile, (0, 0),
                         round(1.3 / cell))
    return Heightfield(heights, cell, tile, num_levels, num_variants, spawn, (0.0, 0.0), 1.0)


def stairs(rng: np.random.Generator, num_levels: int = 10, num_variants: int = 4,
           tile: float = 8.0, cell: float = 0.05, step_depth: float = 0.3,
           min_step: float = 0.02, max_step: float = 0.14) -> Heightfield:
    """Straight stairs climbing along +x, one flight per tile: a flat landing at the
    bottom (the spawn), steps of height min_step..max_step by level (slightly varied per
    variant), then a flat top."""
    heights, per_tile = _tile_grid(num_levels, num_variants, tile, cell)
    landing = 2.0  # metres of flat ground before the first step
    x = np.arange(per_tile) * cell
    step_index = np.clip(np.floor((x - landing) / step_depth) + 1, 0, None)
    num_steps = int(np.floor((tile - landing - 1.0) / step_depth))
    step_index = np.minimum(step_index, num_steps)
    for level in range(num_levels):
        difficulty = level / max(num_levels - 1, 1)
        for variant in range(num_variants):
            rise = (min_step + (max_step - min_step) * difficulty) * rng.uniform(0.9, 1.1)
            rows = slice(variant * per_tile, (variant + 1) * per_tile)
            cols = slice(level * per_tile, (level + 1) * per_tile)
            heights[rows, cols] = (step_index * rise)[None, :]
    offset = (-tile / 2 + landing / 2, 0.0)
    spawn = _spawn_table(heights, num_levels, num_variants, per_tile,
                         (round(offset[0] / cell), 0), round(0.6 / cell))
    return Heightfield(heights, cell, tile, num_levels, num_variants, spawn, offset, 0.3)
