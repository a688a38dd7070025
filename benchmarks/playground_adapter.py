"""MuJoCo Playground's Go1 joystick task and its own Brax PPO settings, for benchmarks only.

Playground (`pip install --no-deps playground==0.2.0 ml-collections lxml mediapy tqdm`,
with brax 0.14.2 from the [bench] extra; without dependencies because it declares
`warp-lang`, which its JAX implementation does not need) loads its Go1 from its own
MJCF, whose visual meshes come from a clone of mujoco_menagerie that it fetches with git
on first use. Offline (as on the benchmark machines), `load` gives it a stand-in
menagerie instead: a tetrahedron for each visual mesh. Those geoms neither collide
(contype 0) nor carry mass (every body has its own inertial), so the physics is
Playground's own; only a rendered video would look wrong.

`load(name)` is the env with `impl="jax"` (MJX's JAX implementation; 0.2.0 defaults to
Warp); `ppo_settings(name)` are `locomotion_params.brax_ppo_config` as
`brax.training.agents.ppo.train` takes them (its domain randomiser on request: its
training script's `--domain_randomization`, off by default there).
"""

from __future__ import annotations

import functools
import re
import struct
import tempfile
from pathlib import Path

import brax_adapter  # noqa: F401  (JAX 0.10's stand-in for jax.device_put_replicated)

GO1_FLAT = "Go1JoystickFlatTerrain"


def tetrahedron_stl(size: float = 0.02) -> bytes:
    """A binary STL of one small tetrahedron (positive volume, as MuJoCo's mesh checks
    want)."""
    v = [(0.0, 0.0, 0.0), (size, 0.0, 0.0), (0.0, size, 0.0), (0.0, 0.0, size)]
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    data = bytearray(b"\0" * 80 + struct.pack("<I", len(faces)))
    for face in faces:
        data += struct.pack("<3f", 0.0, 0.0, 0.0)  # normal: MuJoCo recomputes it
        for i in face:
            data += struct.pack("<3f", *v[i])
        data += struct.pack("<H", 0)
    return bytes(data)


def standin_menagerie(xml_dir: Path, robot: str = "unitree_go1") -> Path:
    """A temporary menagerie holding a tetrahedron for every mesh file the MJCFs in
    `xml_dir` name; its root."""
    root = Path(tempfile.mkdtemp(prefix="menagerie_standin_"))
    assets = root / robot / "assets"
    assets.mkdir(parents=True)
    names = {m for xml in xml_dir.glob("*.xml")
             for m in re.findall(r'file="([^"]+\.(?:stl|obj|STL))"', xml.read_text())}
    for name in names:
        (assets / Path(name).name).write_bytes(tetrahedron_stl())
    return root


def load(name: str = GO1_FLAT):
    """Playground's env `name` on MJX's JAX implementation, with a stand-in menagerie
    where the real one is absent."""
    from etils import epath
    from mujoco_playground import registry
    from mujoco_playground._src import mjx_env
    from mujoco_playground._src.locomotion.go1 import go1_constants

    if not (mjx_env.MENAGERIE_PATH / "unitree_go1").exists():
        mjx_env.MENAGERIE_PATH = epath.Path(standin_menagerie(Path(go1_constants.ROOT_PATH)
                                                              / "xmls"))
    return registry.load(name, config_overrides={"impl": "jax"})


def ppo_settings(name: str = GO1_FLAT, randomize: bool = False) -> dict:
    """Playground's Brax PPO settings for `name` as keyword arguments of `ppo.train`
    (network factory built); with `randomize`, its domain randomiser (its training
    script's --domain_randomization, off there by default)."""
    from brax.training.agents.ppo import networks as ppo_networks
    from mujoco_playground import registry
    from mujoco_playground.config import locomotion_params

    settings = locomotion_params.brax_ppo_config(name, "jax").to_dict()
    network = settings.pop("network_factory")
    settings.pop("training_metrics_steps", None)
    return {**settings,
            "network_factory": functools.partial(ppo_networks.make_ppo_networks, **network),
            "randomization_fn": registry.get_domain_randomizer(name) if randomize else None}
