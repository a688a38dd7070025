"""docs/writing-a-task.md's task, run as the page says: its module saved in the envs
package is a registered env, which trains, plays and exports through the CLIs."""

import json
import re
import sys
from pathlib import Path

import pytest

from motrix_jax import envs, export, play, train
from motrix_jax.envs import registry
from motrix_jax.task import Task

PAGE = Path(__file__).parents[1] / "docs" / "writing-a-task.md"


def page_module() -> str:
    """The page's Python code blocks, in order: one module."""
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.DOTALL | re.MULTILINE)
    assert blocks, "no Python code block on the page"
    return "\n".join(blocks)


@pytest.fixture
def pendulum_module(tmp_path, monkeypatch):
    """The page's module as envs/pendulum.py (in a folder added to the envs package), the
    registry collecting it; afterwards the registry without it."""
    folder = tmp_path / "package"
    folder.mkdir()
    (folder / "pendulum.py").write_text(page_module())
    monkeypatch.setattr(envs, "__path__", [*envs.__path__, str(folder)])
    registry.registered.cache_clear()
    yield
    sys.modules.pop("motrix_jax.envs.pendulum", None)
    registry.registered.cache_clear()


def test_the_pages_task_is_registered_and_trains_plays_and_exports(
        pendulum_module, tmp_path, capsys):
    assert "pendulum" in envs.REGISTRY and list(envs.REGISTRY)[-1] == "pendulum"
    task = envs.make_task("pendulum")
    assert isinstance(task, Task) and (task.obs_size, task.action_size) == (3, 1)
    assert envs.target("pendulum").checks[0].key == "eval/measure_mean"
    assert envs.preset("pendulum").num_envs == 256

    root = tmp_path / "runs"
    assert train.main(["--env", "pendulum", "--run-root", str(root), "--num-envs", "8",
                       "--max-env-steps", "128", "--set", "rollouts=8",
                       "--set", "mini_batches=2", "--set", "learning_epochs=1",
                       "--task-set", "episode_length=20"]) == 0
    run_dir = next((root / "pendulum").iterdir())
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task_changes"] == {"episode_length": 20}
    capsys.readouterr()

    assert play.main(["--run", str(run_dir), "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 deterministic episodes" in out and "upright" in out  # each reward term
    onnx = tmp_path / "pendulum.onnx"
    assert export.main(["--run", str(run_dir), "--out", str(onnx)]) == 0
    assert "max |difference|" in capsys.readouterr().out and onnx.stat().st_size > 0


def test_without_the_module_there_is_no_such_env():
    assert "pendulum" not in envs.REGISTRY
    with pytest.raises(envs.UnknownEnvError, match="unknown env 'pendulum'"):
        envs.canonical_name("pendulum")
