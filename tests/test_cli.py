import json
import subprocess
import sys

import pytest

from motrix_jax import train


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "motrix_jax.train", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd, check=False)


@pytest.mark.parametrize("args,message", [
    (["--env", "cartpol"], "unknown env 'cartpol' (did you mean 'cartpole'?); available:"),
    (["--env", "cartpole", "--set", "mini_batches=7"],
     "num_envs * rollouts = 65536 is not divisible by mini_batches = 7"),
    (["--env", "cartpole", "--set", "learning_rate=-1"], "learning_rate must be > 0"),
    (["--env", "cartpole", "--set", "rollouts=many"], "rollouts='many': expected an integer"),
    (["--env", "cartpole", "--set", "lerning_rate=1"], "did you mean 'learning_rate'"),
    (["--env", "cartpole", "--num-processes", "2"],
     "--num-processes and --process-id go together"),
    (["--env", "cartpole", "--num-processes", "2", "--process-id", "2"],
     "--process-id must be in 0 .. 1, got 2"),
    (["--env", "cartpole", "--coordinator", "localhost:1234", "--physics", "motrixsim"],
     "several processes need --physics mjx"),
    (["--resume", "runs/cartpole/x", "--num-processes", "2", "--process-id", "0"],
     "runs/cartpole/x: no such run folder"),
    (["--env", "go1_flat", "--task-set", "domain_randomisation=true"],
     "did you mean 'domain_randomization'"),
    (["--env", "go1_flat", "--task-set", "command_levels=many"],
     "command_levels='many': expected an integer"),
    (["--env", "go1_flat", "--task-set", "reward_scales=1"], "cannot be set from the command"),
    (["--env", "go1_flat", "--task-set", "sim_dt=0"],  # was a ZeroDivisionError traceback
     "task field 'sim_dt': must be > 0, got 0.0"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    # in this process (the program itself runs as one in the tests below)
    assert train.main([*args, "--run-root", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_list_shows_envs_with_sizes():
    result = run_cli("--list")
    assert result.returncode == 0
    assert "cartpole" in result.stdout and "1000" in result.stdout


def test_short_run_writes_config_and_metrics(tmp_path):
    result = run_cli("--env", "CartPole", "--num-envs", "64", "--max-env-steps", "6144",
                     "--set", "mini_batches=8", "--run-root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "cartpole").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["env"] == "cartpole" and config["ppo"]["num_envs"] == 64
    assert config["ppo"]["mini_batches"] == 8
    # what the backend ran with: cartpole's 10 ms control step is one MotrixSim substep
    assert config["physics_options"]["substeps"] == 1
    assert config["physics_options"]["timestep"] == 0.01
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3  # 6144 / (64 * 32)
    last = json.loads(lines[-1])
    assert last["update"] == 3 and last["env_steps"] == 6144
    assert "compiled" in result.stdout and "steps/s" in result.stdout
    assert "physics=motrixsim" in result.stdout
    assert "this run needs about" in result.stdout  # the duration, said once
    assert result.stdout.count("this run needs about") == 1


def test_durations_read_as_durations():
    from motrix_jax.display import fmt_eta, fmt_return

    assert fmt_eta(15 * 3600 + 33 * 60 + 32) == "15h 33m"  # not "15:33:32", a clock time
    assert fmt_eta(423) == "7m 03s" and fmt_eta(42) == "42s" and fmt_eta(None) == "-"
    assert fmt_return(float("nan")) == "-" and fmt_return(12.345) == "12.3"
