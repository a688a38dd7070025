"""The registry's contents: every registered name (in `--list` order), its MotrixLab
aliases, summary, PPO preset, suite target and budget, held against
tests/registered_envs.json.

The file was written from the registry before the task modules declared their own
entries (a6ebea5), so moving an entry cannot change it silently; a task added since
needs nothing here. A deliberate change to a name, alias, preset, target or budget is
recorded by rewriting the file: `python tests/test_registry.py --write`.
"""

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from motrix_jax import envs
from motrix_jax.envs import registry
from motrix_jax.task import Task

HERE = Path(__file__).parent
RECORD = HERE / "registered_envs.json"


def load_suite():
    sys.path.insert(0, str(HERE.parent / "benchmarks"))
    spec = importlib.util.spec_from_file_location("suite", HERE.parent / "benchmarks" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def registered() -> list[dict]:
    """Each registered env as JSON: name, aliases, summary, preset, suite target, budget."""
    suite = load_suite()
    rows = []
    for name, spec in envs.REGISTRY.items():
        what, checks, measure = suite.TARGETS[name]
        rows.append({"name": name, "aliases": list(spec.aliases), "summary": spec.summary,
                     "preset": json.loads(json.dumps(dataclasses.asdict(spec.preset()))),
                     "target": what, "checks": [list(check) for check in checks],
                     "measure": None if measure is None else measure.__name__,
                     "minutes": suite.BUDGET_MINUTES.get(name, suite.DEFAULT_MINUTES)})
    return rows


def test_every_recorded_env_is_registered_as_recorded_in_its_order():
    """A task added later needs no new line here: only the recorded envs are held."""
    recorded = json.loads(RECORD.read_text())
    now = {row["name"]: row for row in registered()}
    assert [name for name in now if name in {row["name"] for row in recorded}] == [
        row["name"] for row in recorded]
    for was in recorded:
        assert now[was["name"]] == was, was["name"]
        for alias in was["aliases"]:
            assert envs.ALIASES[alias] == was["name"]


def test_every_registered_task_is_a_frozen_dataclass_task_with_every_member():
    required = [name for name in Task.__annotations__ if name not in vars(Task)]
    assert {"name", "obs_size", "episode_length", "contact_pairs"} <= set(required)
    for name, spec in envs.REGISTRY.items():
        task = spec.task()
        assert isinstance(task, Task) and dataclasses.is_dataclass(task), name
        assert type(task).__dataclass_params__.frozen, name
        assert [m for m in required if not hasattr(task, m)] == [], name
        assert task.name == name


def test_a_name_registered_twice_is_refused(tmp_path, monkeypatch):
    (tmp_path / "copycat.py").write_text(
        "from motrix_jax.envs.cartpole import ENVS as THEIRS\n\nENVS = list(THEIRS)\n")
    monkeypatch.setattr(envs, "__path__", [*envs.__path__, str(tmp_path)])
    registry.registered.cache_clear()
    try:
        with pytest.raises(ValueError, match="env name 'cartpole' is registered twice: in "
                                             "envs/cartpole.py and envs/copycat.py"):
            registry.registered()
    finally:
        sys.modules.pop("motrix_jax.envs.copycat", None)
        monkeypatch.undo()
        registry.registered.cache_clear()
    assert "cartpole" in envs.REGISTRY


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    # one env a line, so that a change shows as the lines of the envs it touched
    RECORD.write_text("[\n" + ",\n".join(json.dumps(row) for row in registered()) + "\n]\n")
