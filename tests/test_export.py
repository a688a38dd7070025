"""ONNX export: onnxruntime gives load_policy's actions, the metadata says what a
robot needs, bad input is one line."""

import json
import re
import shutil

import jax
import numpy as np
import onnx
import pytest
from conftest import jax_cartpole
from test_checkpoint import new_run, small_cfg
from test_reliability import flip_a_bit, one_line

from motrix_jax import export, train
from motrix_jax.checkpoint import Checkpointer, load_policy
from motrix_jax.ppo import make_ppo, seed_keys


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A 2-update, 2-seed cartpole run on MotrixSim through the CLI."""
    root = tmp_path_factory.mktemp("runs")
    assert train.main(["--env", "cartpole", "--num-envs", "32", "--num-seeds", "2",
                       "--max-env-steps", str(32 * 32 * 2), "--set", "mini_batches=4",
                       "--set", "check_point_interval=1", "--set", "policy_hidden_sizes=16,8",
                       "--set", "value_hidden_sizes=16,16", "--run-root", str(root)]) == 0
    (run,) = (root / "cartpole").iterdir()
    return run


def test_the_cli_exports_a_policy_equal_to_load_policy_on_a_rollout(cli_run, tmp_path,
                                                                     capsys):
    out = tmp_path / "policy.onnx"
    assert export.main(["--run", str(cli_run), "--seed", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "at update 2, seed 1" in printed and "on 10,000 rollout observations" in printed
    assert float(re.search(r"max \|difference\| (\S+)", printed).group(1)) <= 1e-5
    model = onnx.load(out)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["env"] == "cartpole" and meta["physics_trained_on"] == "motrixsim"
    assert (meta["obs_size"], meta["action_size"], meta["ctrl_dt"]) == ("4", "1", "0.01")
    assert meta["checkpoint_update"] == "2" and meta["seed"] == "1"
    assert meta["observation_normalizer"] == "folded in"
    assert "Observation (4): cart position" in meta["task_doc"]
    (obs,), (action,) = model.graph.input, model.graph.output
    assert (obs.name, action.name) == ("obs", "action")
    assert obs.type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.parametrize("changes", [
    {}, {"state_preprocessor": False}, {"share_features": True, "num_seeds": 2}])
def test_exported_actions_equal_load_policy(tmp_path, changes):
    # freshly initialised networks (whose policy head is near zero) with weights and
    # observation statistics drawn at random, so every layer and the normaliser count
    cfg = small_cfg(2, **changes)
    env = jax_cartpole(cfg.num_envs)
    _, run_dir = new_run(tmp_path, "run", cfg, env)
    state = jax.jit(jax.vmap(make_ppo(cfg, env).init))(seed_keys(cfg))
    rng = np.random.default_rng(0)

    def drawn(x):
        return rng.normal(0.0, 0.5, x.shape).astype(np.float32)
    stats = state.obs_stats.replace(mean=drawn(state.obs_stats.mean),
                                    var=np.exp(drawn(state.obs_stats.var)))
    state = state.replace(params=jax.tree.map(drawn, state.params), obs_stats=stats)
    checkpointer = Checkpointer(run_dir)
    checkpointer.save(state, {"update": 2, "env_steps": 0, "wall_time": 0.0,
                              "last_return": [None] * cfg.num_seeds})
    checkpointer.close()
    obs = rng.normal(0.0, [0.3, 0.1, 1.0, 2.0], (10_000, 4)).astype(np.float32)
    for seed in range(cfg.num_seeds):
        out = tmp_path / f"seed{seed}.onnx"
        assert export.export(run_dir, out, seed=seed) == 2
        assert export.largest_difference(out, load_policy(run_dir, 2, seed), obs) <= 1e-5


def test_bad_export_input_is_one_line_exit_2(cli_run, tmp_path, capsys):
    cases = [
        (["--run", str(tmp_path / "missing"), "--out", str(tmp_path / "p.onnx")],
         "no such run folder"),
        (["--run", str(cli_run), "--out", str(tmp_path / "no" / "p.onnx")], "no such folder"),
        (["--run", str(cli_run), "--out", str(tmp_path / "p.txt")], "must end in .onnx"),
        (["--run", str(cli_run), "--seed", "5", "--out", str(tmp_path / "p.onnx")],
         "--seed must be in 0 .. 1, got 5"),
        (["--run", str(cli_run), "--step", "x", "--out", str(tmp_path / "p.onnx")],
         "--step must be an update number or 'best'"),
    ]
    for args, message in cases:
        assert export.main(args) == 2
        assert message in one_line(capsys.readouterr().err)
    assert not (tmp_path / "p.onnx").exists()


def test_a_damaged_checkpoint_is_not_exported(cli_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(cli_run, run)
    for step in (1, 2):
        flip_a_bit(run / "checkpoints" / str(step))
    assert export.main(["--run", str(run), "--out", str(tmp_path / "p.onnx")]) == 2
    assert "no intact checkpoint" in one_line(capsys.readouterr().err)


def test_go1_metadata_says_how_an_action_becomes_joint_targets():
    from motrix_jax import envs
    from motrix_jax.config import PPOConfig
    from motrix_jax.run_folder import RunInfo

    info = RunInfo(env="go1_flat", physics="motrixsim", ppo=PPOConfig(), obs_size=48,
                   action_size=12)
    meta = export.metadata(info, 7, 0, envs.make_task("go1_flat"))
    assert meta["joint_target"] == '"default_joint_pos + 0.25 * action"'
    assert json.loads(meta["default_joint_pos"]) == [0.0, 0.9, -1.8] * 4
    assert json.loads(meta["pd_gains"]) == {"kp": 80.0, "kd": 1.0}
    assert json.loads(meta["task_fields"])["ctrl_dt"] == 0.02
    assert "Observation (48)" in meta["task_doc"]


def with_task_changes(run, tmp_path, changes):
    """A copy of `run` whose config.json records `changes` as its --task-set."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    config = json.loads((copy / "config.json").read_text())
    config["task_changes"] = changes
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def test_export_metadata_holds_the_runs_task_changes(cli_run, tmp_path):
    run = with_task_changes(cli_run, tmp_path, {"max_angle": 0.3})
    out = tmp_path / "policy.onnx"
    assert export.main(["--run", str(run), "--out", str(out)]) == 0
    props = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert json.loads(props["task_fields"])["max_angle"] == 0.3


def test_an_export_failing_its_own_check_exits_1_and_writes_nothing(
        cli_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "policy.onnx"
    monkeypatch.setattr(export, "largest_difference", lambda *args: 5.2e20)
    assert export.main(["--run", str(cli_run), "--out", str(out)]) == export.EXIT_CHECK
    assert "not written: onnxruntime and load_policy disagree" in one_line(
        capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
