"""The MotrixArena S1 stage-2 score, by the competition's rules, as pure JAX functions
over a per-env `ScoreState`: each control step reads the base position and whether the
robot fell, left the course or was touched by a ball, and marks the scoring items it
has earned; `points` gives each item's points after the rules' zeroing.

Frame: the organisers' (the course along +y, x in [-5, 5], absolute heights; facts in
`shared/MOTRIXARENA.md`), the same for the three sections and the whole course, so one
score serves every VBot course: a section's episodes simply cannot reach the others'
items (a section-2 episode starts on the "2026" platform, past every section-1 item).

Items (points), judged from the base's centre:
- Section 1: the three smiley zones (+4 each; circles of 1 m radius at x -3/0/3,
  y 0), the three red packets on the ramp (+2 each; same circles at y 4.40), the "2026"
  platform (0 points: the section's goal; base over y >= 6.83 above its top).
- Section 2: the stairs pass line y 13.20 after the wave field (y in [8.83, 12.33];
  `waves`, 0 points, marks it) (+10); the lane entered (+5):
  the bridge deck (x in [-4.32, -1.68], y in [15.20, 20.44], base above z 2.5) or the
  riverbed (y in [15.30, 20.30], base below z 2.5); across the bridge to the stair
  mouth y 21.93 (+10); from the riverbed to the stair mouth (+5); from the stair mouth
  to the section's finish line y 23.08 (+5, either lane); the five stone packets (+3
  each; boxes of +-0.5 m about the zone centres, in the riverbed); the two under-bridge
  packets (+5 each, one zone: within 0.5 m of (-2.0, 17.82), in the riverbed: the 0.75
  m circle's radius plus the base's half width); the bridge packet (on the deck within
  0.95 m of (-3.0, 17.82)).
- Section 3: the ball zone (y in [25.33, 27.33]; `ball_band`, 0 points, marks it)
  crossed onto the random terrain, y >= 27.83 (+10), and +5
  more when a ball had touched the robot by then (+15 together; "neither fell nor left
  the course" is the zeroing below); then the finish platform, y >= 30.83 (+5).
A fall or leaving the course zeroes the points of the section the base is in (by y:
section 1 below 8.83, section 2 below 25.33, section 3 beyond); so does a start that is
not on the section's start platform (`start`: a curriculum's start along the course).

Choices where the rules are ambiguous or judged by people:
- Celebration (+2 / +5 / +5) is judged by people and left out of the score; nothing here
  stands in for it. The section maxima are therefore 18, 60 and 20.
- Section 2 is stated as 60 points while its items add to 65 with the celebration: we
  read the 60 as the items without it (10 + 5 + 10 + 5 + 5 + 15 + 10 = 60, over both
  lanes; the lane entry, one item of the rules, is two here, `bridge` and `riverbed`,
  of which a run earns one). No run earns all 60: the bridge lane gives at most 30, the riverbed lane 50.
- The bridge packet's points are not stated: it is recorded (`score_bridge_packet`, as
  reached or not) and worth 0 points; `ITEMS` is the one place to change that.
- Zone sizes are estimates from the organisers' map (+-30 %); the stone zones are
  stated as about 1.0 x 0.5 m with centres up to 0.43 m from the domes' tops, so we
  take a 1 x 1 m box that holds the dome top.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

SECTION_ENDS = (8.83, 25.33)  # y where sections 2 and 3 begin
DECK_Z = 2.5  # between the deck (>= 2.595) and the base in the valley there (<= 2.3)


@dataclass(frozen=True)
class Item:
    name: str
    section: int  # 0, 1, 2 for sections 1, 2, 3
    points: float


ITEMS = (
    *(Item(f"smiley_{side}", 0, 4.0) for side in ("left", "centre", "right")),
    *(Item(f"packet_{side}", 0, 2.0) for side in ("left", "centre", "right")),
    Item("platform", 0, 0.0),
    Item("waves", 1, 0.0), Item("stairs", 1, 10.0), Item("bridge", 1, 5.0), Item("riverbed", 1, 5.0),
    Item("bridge_cross", 1, 10.0), Item("riverbed_out", 1, 5.0), Item("exit", 1, 5.0),
    *(Item(f"stone{i}", 1, 3.0) for i in range(1, 6)),
    Item("under_bridge", 1, 10.0), Item("bridge_packet", 1, 0.0),
    Item("ball_band", 2, 0.0), Item("ball_zone", 2, 10.0), Item("ball_touched", 2, 5.0), Item("finish", 2, 5.0),
)
NAMES = tuple(item.name for item in ITEMS)
INDEX = {name: i for i, name in enumerate(NAMES)}
POINTS = np.array([item.points for item in ITEMS], np.float32)
SECTION = np.array([item.section for item in ITEMS], np.int32)
# each course's goal: the item whose earning is "reaching" it
GOALS = {"section011": "platform", "section012": "exit", "section013": "finish",
         "section002": "finish"}

SIDES_X = (-3.0, 0.0, 3.0)
SMILEY_Y, PACKET_Y, ZONE_RADIUS = 0.0, 4.40, 1.0
STONE_ZONES = ((0.355, 16.27), (3.500, 16.28), (2.000, 18.10), (0.356, 19.79),
               (3.491, 19.82))
STONE_HALF = 0.5
UNDER_BRIDGE, UNDER_BRIDGE_RADIUS = (-2.0, 17.82), 0.5
BRIDGE_PACKET, BRIDGE_PACKET_RADIUS = (-3.0, 17.82), 0.95


@struct.dataclass
class ScoreState:
    earned: jax.Array  # [N, I] bool: item i earned this episode
    zeroed: jax.Array  # [N, 3] bool: the section's points are void
    touched: jax.Array  # [N] bool: a ball has touched the robot this episode


def initial(n: int) -> ScoreState:
    return ScoreState(earned=jnp.zeros((n, len(ITEMS)), bool),
                      zeroed=jnp.zeros((n, 3), bool), touched=jnp.zeros((n,), bool))


def section_of(y: jax.Array) -> jax.Array:
    """[N] int: the section (0, 1, 2) a base at y [N] is in."""
    return jnp.searchsorted(jnp.asarray(SECTION_ENDS), y, side="right")


def start(y: jax.Array, on_platform: jax.Array) -> ScoreState:
    """A fresh episode's state for starts at y [N]; where `on_platform` [N] is False (a
    start along the course, not on the section's start platform) that section's points
    are void, as the rules void a non-random start."""
    state = initial(y.shape[0])
    void = ~on_platform[:, None] & (jnp.arange(3)[None, :] == section_of(y)[:, None])
    return state.replace(zeroed=void)


def _within(x, y, centre, radius):
    return jnp.hypot(x - centre[0], y - centre[1]) < radius


def reached_now(pos: jax.Array, earned: jax.Array, touched: jax.Array) -> jax.Array:
    """[N, I] bool: the items the base at pos [N, 3] earns at this step, given the items
    `earned` [N, I] before it (lane items need their lane) and `touched` [N]."""
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    had = {name: earned[:, i] for name, i in INDEX.items()}
    on_deck = ((x > -4.32) & (x < -1.68) & (y > 15.20) & (y < 20.44) & (z > DECK_Z))
    in_valley = (y > 15.30) & (y < 20.30) & (z < DECK_Z)
    mouth, crossed = y >= 21.93, y >= 27.83
    now = {
        **{f"smiley_{s}": _within(x, y, (cx, SMILEY_Y), ZONE_RADIUS)
           for s, cx in zip(("left", "centre", "right"), SIDES_X)},
        **{f"packet_{s}": _within(x, y, (cx, PACKET_Y), ZONE_RADIUS)
           for s, cx in zip(("left", "centre", "right"), SIDES_X)},
        "platform": (y >= 6.83) & (y <= 8.83) & (z > 1.294),
        "waves": (y >= 8.83) & (y < 12.33), "stairs": had["waves"] & (y >= 13.20),
        "bridge": on_deck, "riverbed": in_valley,
        "bridge_cross": had["bridge"] & mouth, "riverbed_out": had["riverbed"] & mouth,
        "exit": (had["bridge_cross"] | had["riverbed_out"]) & (y >= 23.08),
        **{f"stone{i + 1}": in_valley & (jnp.abs(x - sx) <= STONE_HALF)
           & (jnp.abs(y - sy) <= STONE_HALF) for i, (sx, sy) in enumerate(STONE_ZONES)},
        "under_bridge": in_valley & _within(x, y, UNDER_BRIDGE, UNDER_BRIDGE_RADIUS),
        "bridge_packet": on_deck & _within(x, y, BRIDGE_PACKET, BRIDGE_PACKET_RADIUS),
        "ball_band": (y >= 25.33) & (y < 27.33), "ball_zone": had["ball_band"] & crossed,
        "ball_touched": had["ball_band"] & crossed & touched,
        "finish": had["ball_zone"] & (y >= 30.83),
    }
    return jnp.stack([now[name] for name in NAMES], -1)


def update(state: ScoreState, pos: jax.Array, fell: jax.Array, outside: jax.Array,
           ball_touch: jax.Array) -> ScoreState:
    """The state after a control step: base position pos [N, 3], and [N] bool flags: the
    robot fell (base contact, tilt), left the course, a ball touched it."""
    touched = state.touched | ball_touch
    earned = state.earned | reached_now(pos, state.earned, touched)
    here = jnp.arange(3)[None, :] == section_of(pos[:, 1])[:, None]
    zeroed = state.zeroed | (here & (fell | outside)[:, None])
    return ScoreState(earned=earned, zeroed=zeroed, touched=touched)


def points(state: ScoreState) -> jax.Array:
    """[N, I] each item's points: earned, in a section not zeroed."""
    void = jnp.take_along_axis(state.zeroed, jnp.broadcast_to(
        jnp.asarray(SECTION)[None, :], state.earned.shape), axis=1)
    return jnp.where(state.earned & ~void, jnp.asarray(POINTS), 0.0)


def record(state: ScoreState) -> jax.Array:
    """[N, I] what a log shows of each item: its points, or for an item worth 0 points
    (platform, bridge_packet, the marks waves and ball_band) 1.0 where it was reached
    in a section not zeroed."""
    void = jnp.take_along_axis(state.zeroed, jnp.broadcast_to(
        jnp.asarray(SECTION)[None, :], state.earned.shape), axis=1)
    flag = (state.earned & ~void).astype(jnp.float32)
    return jnp.where(jnp.asarray(POINTS) > 0, points(state), flag)


def record_total(recorded: jax.Array) -> jax.Array:
    """[N] the score of a `record` [N, I]."""
    return jnp.where(jnp.asarray(POINTS) > 0, recorded, 0.0).sum(-1)


def total(state: ScoreState) -> jax.Array:
    """[N] the episode's score."""
    return points(state).sum(-1)


def section_scores(state: ScoreState) -> jax.Array:
    """[N, 3] the score of each section."""
    one_hot = jnp.asarray(SECTION)[:, None] == jnp.arange(3)[None, :]
    return points(state) @ one_hot.astype(jnp.float32)


def reached(state: ScoreState, item: str) -> jax.Array:
    """[N] bool: `item` earned in a section not zeroed (a goal reached without a fall)."""
    i = INDEX[item]
    return state.earned[:, i] & ~state.zeroed[:, ITEMS[i].section]
