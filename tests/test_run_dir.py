"""RunDir, a run folder on disk as one object: new folders, config.json, the lock, resume
discovery and what an interruption before the first update leaves. No training here
(tests/test_reliability.py and tests/test_checkpoint.py train into run folders)."""

import os

import pytest

from motrix_jax import envs
from motrix_jax.run_dir import RunDir, RunFolderBusy
from motrix_jax.run_folder import CheckpointError, RunFolderError, RunInfo

INFO = RunInfo(env="cartpole", physics="motrixsim", ppo=envs.preset("cartpole"), obs_size=4,
               action_size=1)


def test_new_folders_are_never_reused_and_hold_their_config(tmp_path):
    first, second = RunDir.create(tmp_path, "cartpole"), RunDir.create(tmp_path, "cartpole")
    assert first.path != second.path and first.path.parent == tmp_path / "cartpole"
    first.write_info(INFO)
    assert first.read_info() == INFO
    assert os.listdir(second.path) == []


def test_resume_discovery_names_a_missing_folder_and_a_run_without_checkpoints(tmp_path):
    with pytest.raises(RunFolderError, match="no such run folder") as missing:
        RunDir.resumable(tmp_path / "nothing")
    assert not isinstance(missing.value, CheckpointError)  # a folder, not a checkpoint
    run = RunDir.create(tmp_path, "cartpole")
    run.write_info(INFO)
    with pytest.raises(CheckpointError, match=f"^{run.path}: has no checkpoint$"):
        RunDir.resumable(run.path)
    (run.path / "checkpoints" / "2").mkdir(parents=True)
    found, info = RunDir.resumable(run.path)
    assert found.path == run.path and info == INFO


def test_one_trainer_per_folder_and_the_lock_file_goes_with_it(tmp_path):
    run = RunDir.create(tmp_path, "cartpole")
    holder, other = RunDir(run.path), RunDir(run.path)
    assert holder.lock() is None
    with pytest.raises(RunFolderBusy, match=f"is in use by process {os.getpid()} on "):
        other.lock()
    holder.unlock()
    assert not (run.path / "lock").exists()
    assert other.lock() is None  # released: nothing to take over
    other.unlock()


def test_an_interruption_before_the_first_update_removes_only_a_new_empty_run(tmp_path):
    new = RunDir.create(tmp_path, "cartpole")
    new.write_info(INFO)
    assert new.after_interruption(new_run=True) == \
        f"interrupted before the first update; removed {new.path}"
    assert not new.path.exists()
    resumed = RunDir.create(tmp_path, "cartpole")
    (resumed.path / "checkpoints" / "4").mkdir(parents=True)
    assert resumed.after_interruption(new_run=False) == \
        f"interrupted; checkpoints so far are in {resumed.path}"
    assert resumed.path.is_dir()
