"""Every bad input is one line and writes nothing: config values (CLI and config.json
alike), output paths, task fields, play's options; output that reads in a pipe."""

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import orbax.checkpoint as ocp
import pytest
from conftest import jax_cartpole
from rich.console import Console
from test_checkpoint import new_run, small_cfg
from test_reliability import half_run, one_line

from motrix_jax import envs, play, train, trainer
from motrix_jax.display import Display


@pytest.mark.parametrize("args,message", [
    (["--set", "learning_rate=inf"], "learning_rate must be a finite number, got inf"),
    (["--set", "ratio_clip=nan"], "ratio_clip must be a finite number, got nan"),
    (["--set", "lambda_param=nan"], "lambda_param must be a finite number"),
    (["--max-env-steps", "nan"], "--max-env-steps='nan': expected an integer"),
    (["--max-env-steps", "inf"], "--max-env-steps='inf': expected an integer"),
    (["--max-env-steps", "1e18"], ("max_env_steps = 1,000,000,000,000,000,000 is beyond "
                                  "what can run")),
    (["--seed", "99999999999"], "seed must be in 0 .. 2**31 - num_seeds"),
    (["--num-seeds", "100000"], "num_seeds = 100,000 is beyond what can run"),
    (["--set", "learning_epochs=1e12"], "learning_epochs = 1,000,000,000,000 is beyond"),
    (["--set", "policy_hidden_sizes=64,1e9"], "policy_hidden_sizes='64,1e9': expected"),
    (["--set", "policy_hidden_sizes=64,1000000000"], "widths in 1 .. 65536"),
])
def test_config_values_are_checked_before_anything_runs(tmp_path, capsys, args, message):
    root = tmp_path / "runs"
    assert train.main(["--env", "cartpole", *args, "--run-root", str(root)]) == 2
    assert message in one_line(capsys.readouterr().err)
    assert not root.exists()


@pytest.mark.parametrize("env,change,message", [
    ("go1_rough", "terrain=rugh", ("terrain must be one of flat, rough, stairs, got 'rugh' "
                                  "(did you mean 'rough'?)")),
    ("vbot_navigation_flat", "robot=spot", "robot must be one of vbot, anymal_c"),
    ("vbot_navigation_flat", "course=secton013", "(did you mean 'section013'?)"),
])
def test_string_task_fields_take_only_their_values(tmp_path, capsys, env, change, message):
    assert train.main(["--env", env, "--task-set", change, "--run-root", str(tmp_path)]) == 2
    assert message in one_line(capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


TINY = ["--num-envs", "32", "--set", "rollouts=16", "--set", "mini_batches=4",
        "--max-env-steps", "512"]  # were a bad value accepted, the run would be short


@pytest.mark.parametrize("env,change,message", [
    ("cartpole", "max_angle=nan", "cartpole task field 'max_angle' must be a finite number"),
    ("cartpole", "sim_dt=nan", "task field 'sim_dt' must be a finite number, got nan"),
    ("cartpole", "sim_dt=0", "task field 'sim_dt': must be > 0, got 0.0"),
    ("cartpole", "episode_length=0", "'episode_length' must be in 1 .. 10,000,000"),
    ("cartpole", "episode_length=1e12", "'episode_length' must be in 1 .. 10,000,000"),
    ("cartpole", "obs_size=5", "'obs_size' is fixed by the task's code and model"),
    ("cartpole", "name=x", "'name' is fixed by the task's code and model"),
    ("go1_flat", "command_levels=0", "'command_levels' must be >= 1"),
    ("go1_flat", "action_scale=-1", "'action_scale': must be > 0, got -1.0"),
    ("go1_rough", "initial_levels=99,100", ("initial_levels = (99, 100) must be terrain "
                                           "levels in 0 .. 9")),
    ("go1_flat", "reward_scales.alive=2", ("go1_flat.reward_scales has no entry 'alive'; "
                                          "entries: action_rate,")),
    ("go1_flat", "command_high=-5,1,1", ("command_low = (-1.0, -1.0, -1.0) must be <= "
                                        "command_high = (-5.0, 1.0, 1.0)")),
])
def test_task_fields_are_checked_against_what_the_task_can_run(
        tmp_path, capsys, env, change, message):
    assert train.main(["--env", env, *TINY, "--task-set", change,
                       "--run-root", str(tmp_path)]) == 2
    assert message in one_line(capsys.readouterr().err)
    assert not list(tmp_path.iterdir())  # checked before the run folder is created


def test_float_tuples_and_reward_scales_take_numbers():
    changes = envs.parse_task_changes("go1_flat", ["command_high=1.5,0.5,1",
                                                   "reward_scales.torques=-1e-4"])
    assert changes == {"command_high": (1.5, 0.5, 1.0), "reward_scales.torques": -1e-4}
    task = envs.run_task("go1_flat", changes)  # as a run's config.json holds them
    assert task.command_high == (1.5, 0.5, 1.0) and task.reward_scales["torques"] == -1e-4


def test_a_flag_and_a_set_of_the_same_field_conflict(tmp_path, capsys):
    tiny = ["--set", "rollouts=16", "--set", "mini_batches=4", "--max-env-steps", "2048"]
    assert train.main(["--env", "cartpole", "--num-envs", "64", "--set", "num_envs=128",
                       *tiny, "--run-root", str(tmp_path)]) == 2
    assert "--num-envs and --set num_envs=... both set num_envs; give one" in one_line(
        capsys.readouterr().err)


def test_a_run_root_that_is_a_file_is_one_line(tmp_path, capsys):
    root = tmp_path / "a_file"
    root.write_text("")
    assert train.main(["--env", "cartpole", "--run-root", str(root)]) == 2
    assert f"cannot create a run folder in {root / 'cartpole'}" in one_line(
        capsys.readouterr().err)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 4-update cartpole run (checkpoints 2 and 4)."""
    return half_run(tmp_path_factory.mktemp("trained"), updates=4, stop_after=4)[2]


def edited(run_dir, tmp_path, edit):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize("edit,message", [
    (lambda c: c.update(ppo=[1, 2]), "config.json is corrupt: TypeError: ppo must be a JSON"),
    (lambda c: c["ppo"].update(num_envs=32.0), "num_envs must be an integer, got 32.0"),
    (lambda c: c["ppo"].update(learning_rate=None), "learning_rate must be a finite number"),
    (lambda c: c.update(task_changes={"reward_scales": 1}),
     "task field 'reward_scales' (dict) cannot be set"),
    (lambda c: c.update(task_changes={"episode_length": "long"}),
     "task field 'episode_length' must be an integer, got 'long'"),
    (lambda c: c.update(task_changes=[1]), "config.json is corrupt"),
    (lambda c: c["ppo"].pop("learning_rate"), "ppo has no 'learning_rate' (add it"),
    (lambda c: c["ppo"].update(learning_rat=1e-3), "unknown ppo key 'learning_rat'"),
    (lambda c: c.update(extra=1), "config.json is corrupt: unknown key 'extra'"),
    (lambda c: c.update(env=5), "env must be a string, got 5"),
    (lambda c: c.update(processes=0), "processes must be an integer >= 1, got 0"),
    (lambda c: c.update(task_changes={"max_angle": float("nan")}),
     "task field 'max_angle' must be a finite number"),
    (lambda c: c.update(task_changes={"obs_size": 5}), "'obs_size' is fixed by the task"),
])
def test_a_malformed_config_json_is_one_line_for_resume_and_play(
        trained, tmp_path, capsys, edit, message):
    run = edited(trained, tmp_path, edit)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for main, flag in ((train.main, "--resume"), (play.main, "--run")):
        assert main([flag, str(run)]) == 2
        assert message in one_line(capsys.readouterr().err)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("args,message", [
    (["--video", "{tmp}/missing/out.mp4"], "no such folder {tmp}/missing"),
    (["--video", "{tmp}/out.avi"], "the name must end in .mp4 or .gif"),
    (["--step", "abc"], "--step must be an update number or 'best', got 'abc'"),
])
def test_play_checks_its_options_before_running_episodes(
        trained, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setattr(play, "evaluate", lambda *a, **k: pytest.fail("episodes ran"))
    args = [a.format(tmp=tmp_path) for a in args]
    assert play.main(["--run", str(trained), *args]) == 2
    assert message.format(tmp=tmp_path) in one_line(capsys.readouterr().err)


def test_list_in_a_pipe_is_one_env_per_line_with_full_names():
    out = io.StringIO()
    train.list_envs(Console(file=out))
    lines = out.getvalue().splitlines()
    assert lines[0].split("\t")[0] == "name"
    names = [line.split("\t")[0] for line in lines[1:]]
    assert names == list(envs.REGISTRY)
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows["go1_flat"][1] == "go1-flat-terrain-walk" and rows["go1_flat"][2] == "48"


def test_plain_progress_lines_come_at_least_every_minute():
    out, now = io.StringIO(), [0.0]
    display = Display(Console(file=out, soft_wrap=True), total_updates=1000, steps_per_update=10,
                      start_update=0, log_every=100, every_s=60.0, clock=lambda: now[0])
    record = {"update": 0, "env_steps": 0, "episodes": 0, "episode_length": 0.0,
              "learning_rate": 1e-3}
    shown = []
    for update, t in enumerate([10.0, 50.0, 61.0, 100.0, 122.0], start=1):
        now[0] = t
        ended = {"episodes": 3, "episode_length": 57.0} if update == 4 else {}
        display.show({**record, "update": update, **ended}, None, None)
        shown.append(out.getvalue().count("\n"))
    assert shown == [0, 0, 1, 1, 2]  # at 61 s and at 122 s, not per update
    first, second = out.getvalue().splitlines()
    assert "return        -  length       -" in first  # no episode ended yet: not "nan"
    # update 5 ended no episode: the length shown is update 4's, not 0
    assert "length    57.0" in second


def save_error(tmp_path, capsys, spoil=None) -> str:
    """The stderr line of a 4-update cartpole run whose first checkpoint cannot be
    written (`spoil(run_dir)` prepares that); asserts exit code 1."""
    cfg = small_cfg(4)
    info, run_dir = new_run(tmp_path, "run", cfg, jax_cartpole(cfg.num_envs))
    if spoil is not None:
        spoil(run_dir)
    capsys.readouterr()
    code = train.fit(jax_cartpole(cfg.num_envs), info, run_dir,
                     console=Console(file=io.StringIO()))
    assert code == 1
    return one_line(capsys.readouterr().err)


def test_a_full_disk_while_saving_is_one_line_naming_the_folder(
        tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ocp.CheckpointManager, "save", full)
    assert save_error(tmp_path, capsys) == (
        f"error: cannot write the checkpoint of update 2 in "
        f"{(tmp_path / 'run').absolute() / 'checkpoints'}: No space left on device")


def test_sigterm_during_start_up_leaves_no_run_folder(tmp_path):
    root = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "motrix_jax.train", "--env", "cartpole", "--num-envs", "32",
         "--run-root", str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(root.glob("cartpole/*/config.json")) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == train.EXIT_INTERRUPTED, err
    assert "interrupted before the first update; removed" in err
    assert os.listdir(root / "cartpole") == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # wanted
def test_a_start_up_signal_python_ignored_still_ends_the_start_up(tmp_path, capsys):
    # Under load a SIGTERM once landed in a JAX gc callback, where Python prints and
    # ignores exceptions: the KeyboardInterrupt was lost and the run trained on. A
    # finaliser is such a place too.
    class Finaliser:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)

    with trainer.StartSignals() as signals:
        Finaliser()  # collected at once: its KeyboardInterrupt is ignored
        with pytest.raises(KeyboardInterrupt):
            signals.check()
    cfg = small_cfg(4)  # and once the trainer has started, `fit` stops before training
    info, run_dir = new_run(tmp_path, "run", cfg, jax_cartpole(cfg.num_envs))
    with pytest.raises(KeyboardInterrupt):
        train.fit(jax_cartpole(cfg.num_envs), info, run_dir, started=signals.check,
                  console=Console(file=io.StringIO()))
    assert not (run_dir / "metrics.jsonl").exists() and not (run_dir / "lock").exists()


def test_a_checkpoints_path_that_is_a_file_is_one_line_naming_it(tmp_path, capsys):
    def spoil(run_dir):
        (run_dir / "checkpoints").write_text("not a folder")

    assert save_error(tmp_path, capsys, spoil) == (
        f"error: cannot write the checkpoint of update 2 in "
        f"{(tmp_path / 'run').absolute() / 'checkpoints'}: Not a directory")
