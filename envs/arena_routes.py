"""Waypoint routes through the MotrixArena stage-2 course (organisers' frame: along +y,
x in [-5, 5]; facts in shared/MOTRIXARENA.md), chosen to earn the score's items
(`arena_score`), one table of routes per course.

- Section 1, one route per column x = -3, 0, 3 (the column nearest the spawn): its
  smiley (y 0), its red packet on the ramp (y 4.40), the "2026" platform (y 7.83):
  6 of the section's 18 points without a sideways detour.
- Section 2, two lanes of 12 waypoints each (the same count, so that episodes may draw
  either):
  `bridge`: x -3 over the waves, the foot of the left flight, the near bridge head,
  five points along the deck (its packet at y 17.82), the far head, the exit platform
  past the left flight down, and its centre (30 points);
  `riverbed`: x 2 over the waves, the foot of the right flight, its top landing, the
  stone packets 2 and 1, the under-bridge packets, the stone packets 3, 4 and 5, the
  far landing, the exit platform past the right flight down, and its centre (50 points).
- Section 3, one route per column (for section013; the whole course takes the centre
  one, from the exit platform's centre): across the ball band, past the lip, over the
  random terrain, the finish zone centre (0.05, 32.53).
No waypoint lies on a flight of stairs (a start along the route is dropped onto the
highest ground near its waypoint).
"""

from __future__ import annotations

import itertools

import numpy as np

COLUMNS = (-3.0, 0.0, 3.0)
LANES = ("bridge", "riverbed")


def section1(column: float) -> list[tuple[float, float]]:
    return [(column, 0.0), (column, 4.40), (column, 7.83)]


def section2(lane: str) -> list[tuple[float, float]]:
    if lane == "bridge":
        return [(-3.0, 10.3), (-3.0, 12.1), (-3.0, 14.8), (-3.0, 15.8), (-3.0, 16.8),
                (-3.0, 17.82), (-3.0, 18.8), (-3.0, 19.8), (-3.0, 20.9), (-3.0, 23.6),
                (-1.5, 24.0), (0.0, 24.33)]
    return [(2.0, 10.3), (2.0, 12.1), (2.0, 14.45), (3.5, 16.28), (0.36, 16.27),
            (-2.0, 17.82), (2.0, 18.10), (0.36, 19.79), (3.49, 19.82), (2.0, 21.2),
            (2.0, 23.6), (0.0, 24.33)]


def section3(column: float) -> list[tuple[float, float]]:
    return [(column, 26.33), (column, 28.3), (column, 30.0), (0.05, 32.53)]


def routes(course: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(routes [R, K, 2], each route's start column [R] (the x a spawn picks it by),
    each route's lane [R] (an index of LANES; -1 where the course has no section 2))
    of an arena course."""
    if course == "section011":
        variants = [(section1(c), c, -1) for c in COLUMNS]
    elif course == "section012":
        variants = [(section2(lane), 0.0, i) for i, lane in enumerate(LANES)]
    elif course == "section013":
        variants = [(section3(c), c, -1) for c in COLUMNS]
    elif course == "section002":
        variants = [(section1(c) + section2(lane) + section3(0.0), c, i)
                    for c, (i, lane) in itertools.product(COLUMNS, enumerate(LANES))]
    else:
        raise ValueError(f"no arena routes for course {course!r}; arena courses: "
                         "section011, section012, section013, section002")
    points, column, lane = zip(*variants)
    return (np.asarray(points, np.float32), np.asarray(column, np.float32),
            np.asarray(lane, np.int32))


def section_ends(course: str) -> tuple[int, ...]:
    """The waypoints passed (the goal counts) at each section's end, on the whole
    course; () on a single section."""
    if course != "section002":
        return ()
    return tuple(itertools.accumulate((len(section1(0.0)), len(section2("riverbed")),
                                       len(section3(0.0)))))
