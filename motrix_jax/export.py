"""Export a trained policy to ONNX: `python -m motrix_jax.export --run RUN_DIR
[--step K|best] [--seed I] --out policy.onnx`.

The graph is the deterministic policy (the Gaussian mean) with the observation
normaliser folded in: input `obs` [batch, obs_size] float32, raw observations as
the task computes them; output `action` [batch, action_size] float32, what the
trainer feeds the task's `ctrl`. The batch axis is dynamic. Built with the `onnx`
package's helpers (Sub, Div, Clip, then Gemm and Elu per layer); the file's
metadata says what a robot-side program needs: the env and its task fields
(action scale, control period, ...), the task module's documentation of its
observation layout and action meaning, and where the weights came from.

After writing, the file is run with onnxruntime on the observations of a short
rollout of the env under the policy and compared with `load_policy` (the largest
difference is printed); the file is written under a temporary name and renamed only
when that check passes (otherwise one line and exit code 1, no file). Bad input
(missing run, damaged checkpoint, unwritable output) prints one line and exits with
code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import jax
import numpy as np

from motrix_jax import envs
from motrix_jax.checkpoint import load_policy, parse_step, saved_policy
from motrix_jax.evaluation import run_policy
from motrix_jax.run_folder import CheckpointError, RunInfo, StorageError, read_run_info
from motrix_jax.session import start_backend

EXIT_USAGE = 2
EXIT_CHECK = 1  # the exported file failed its own check (or could not be written)
TOLERANCE = 1e-4  # of the largest action (at least 1): float32 rounding is ~1e-6
OBS_CLIP = 5.0  # normalization.normalize's clip, in standard deviations
OPSET = 17


def policy_layers(params: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel [in, out], bias [out]) of the policy path: trunk layers, then the head."""
    trunk = params["params"]["policy_trunk"]
    names = sorted(trunk, key=lambda name: int(name.split("_")[1]))
    layers = [trunk[name] for name in names] + [params["params"]["policy_head"]]
    return [(np.asarray(layer["kernel"], np.float32), np.asarray(layer["bias"], np.float32))
            for layer in layers]


def policy_graph(layers, obs_mean, obs_std, obs_size: int, action_size: int):
    """The ONNX graph of `action = MLP(clip((obs - mean) / std))` (no normaliser when
    `obs_mean` is None), ELU after every layer but the last."""
    from onnx import TensorProto, helper, numpy_helper

    constants, nodes, x = [], [], "obs"
    if obs_mean is not None:
        constants += [numpy_helper.from_array(np.asarray(obs_mean, np.float32), "obs_mean"),
                      numpy_helper.from_array(np.asarray(obs_std, np.float32), "obs_std"),
                      numpy_helper.from_array(np.float32(-OBS_CLIP), "clip_low"),
                      numpy_helper.from_array(np.float32(OBS_CLIP), "clip_high")]
        nodes += [helper.make_node("Sub", ["obs", "obs_mean"], ["centred"]),
                  helper.make_node("Div", ["centred", "obs_std"], ["scaled"]),
                  helper.make_node("Clip", ["scaled", "clip_low", "clip_high"], ["obs_n"])]
        x = "obs_n"
    for i, (kernel, bias) in enumerate(layers):
        constants += [numpy_helper.from_array(kernel, f"kernel_{i}"),
                      numpy_helper.from_array(bias, f"bias_{i}")]
        last = i == len(layers) - 1
        out = "action" if last else f"linear_{i}"
        nodes.append(helper.make_node("Gemm", [x, f"kernel_{i}", f"bias_{i}"], [out]))
        if not last:
            nodes.append(helper.make_node("Elu", [out], [f"hidden_{i}"], alpha=1.0))
            x = f"hidden_{i}"
    inputs = [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", obs_size],
                                            "raw observations, as the task computes them")]
    outputs = [helper.make_tensor_value_info(
        "action", TensorProto.FLOAT, ["batch", action_size],
        "deterministic action (the policy mean), before the task's ctrl mapping")]
    return helper.make_graph(nodes, "motrix_jax_policy", inputs, outputs, constants)


def metadata(info: RunInfo, step: int, seed: int, task) -> dict[str, str]:
    """What a robot-side program needs, as ONNX metadata (string values)."""
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}
    simple = {k: v for k, v in fields.items()
              if isinstance(v, bool | int | float | str | tuple)}
    doc = sys.modules[type(task).__module__].__doc__ or ""
    extra = task.export_metadata() if hasattr(task, "export_metadata") else {}
    return {"env": info.env, "physics_trained_on": info.physics,
            "obs_size": str(info.obs_size), "action_size": str(info.action_size),
            "ctrl_dt": str(task.ctrl_dt), "checkpoint_update": str(step),
            "seed": str(seed),
            "observation_normalizer": "folded in" if info.ppo.state_preprocessor else "none",
            "task_fields": json.dumps(simple, default=list),
            "task_doc": doc.strip(), **{k: json.dumps(v) for k, v in extra.items()}}


def export(run_dir: Path, out: Path, step: int | str | None = None, seed: int = 0) -> int:
    """Write the ONNX file of run_dir's policy (checkpoint `step`, seed `seed`) to
    `out`; the checkpoint's update. CheckpointError or ValueError on bad input."""
    import onnx

    info, step, saved = saved_policy(run_dir, step)
    if not 0 <= seed < info.ppo.num_seeds:
        raise ValueError(f"--seed must be in 0 .. {info.ppo.num_seeds - 1}, got {seed}")
    params = jax.tree.map(lambda x: np.asarray(x[seed]), saved["params"])
    mean = std = None
    if info.ppo.state_preprocessor:
        mean = np.asarray(saved["obs_mean"][seed])
        std = np.sqrt(np.asarray(saved["obs_var"][seed], np.float64) + 1e-8)
    graph = policy_graph(policy_layers(params), mean, std, info.obs_size, info.action_size)
    model = onnx.helper.make_model(graph, producer_name="motrix_jax",
                                   opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    try:
        task = envs.run_task(info.env, info.task_changes)  # with the run's --task-set
    except ValueError as error:
        raise CheckpointError(f"{run_dir} is incompatible: {error}") from None
    onnx.helper.set_model_props(model, metadata(info, step, seed, task))
    onnx.checker.check_model(model)
    try:
        onnx.save(model, out)
    except OSError as error:
        raise ValueError(f"cannot write {out}: {error.strerror or error}") from None
    return step


def rollout_observations(run_dir: Path, policy, seed: int, envs_: int = 500,
                         steps: int = 20) -> np.ndarray:
    """Observations [envs_ * steps, obs] of the run's env under `policy`."""
    info = read_run_info(run_dir)
    if envs.is_host_name(info.env):  # a host env's envs are whole programs (EnvPool's
        envs_, steps = 16, envs_ * steps // 16  # Go1: ~50 MB each): fewer, longer
    env = envs.make_for_run(run_dir, info, envs_)
    _, obs = run_policy(env, policy, jax.random.PRNGKey(seed), steps, lambda s: s.obs)
    return obs.reshape(-1, info.obs_size)


def largest_difference(path: Path, policy, obs: np.ndarray) -> float:
    """max |onnxruntime(path)(obs) - policy(obs)| (`policy`: from `load_policy`); nan
    where either is not finite."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (exported,) = session.run(["action"], {"obs": obs.astype(np.float32)})
    return float(np.max(np.abs(exported - np.asarray(policy(obs)))))


def check_out(out: Path) -> None:
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"--out {out}: the name must end in .onnx")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: no such folder {out.parent}")
    if out.is_dir():
        raise ValueError(f"--out {out}: is a folder")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motrix_jax.export",
                                     description="Export a trained policy to ONNX.")
    parser.add_argument("--run", required=True, type=Path, help="a run folder")
    parser.add_argument("--step", default=None, help="checkpoint update or 'best' "
                                                     "(default: the newest intact)")
    parser.add_argument("--seed", type=int, default=0, help="which of the run's seeds")
    parser.add_argument("--out", required=True, type=Path, help="the .onnx file to write")
    args = parser.parse_args(argv)
    # written under a temporary name and renamed once checked: a failed export leaves
    # no .onnx (nor changes one that was there)
    tmp = args.out.with_name(f".{args.out.name}.{os.getpid()}.tmp")
    try:
        check_out(args.out)
        start_backend()
        step = export(args.run, tmp, parse_step(args.step), args.seed)
        policy = load_policy(args.run, step, args.seed)
        obs = rollout_observations(args.run, policy, args.seed)
        diff = largest_difference(tmp, policy, obs)
        largest = float(np.max(np.abs(np.asarray(policy(obs)))))
        if not diff <= TOLERANCE * max(1.0, largest):
            print(f"error: {args.out} not written: onnxruntime and load_policy disagree on "
                  f"{args.run}'s policy at update {step} (max |difference| {diff:.1e}, "
                  f"actions up to {largest:.1e}); a damaged checkpoint?", file=sys.stderr)
            return EXIT_CHECK
        os.replace(tmp, args.out)
    except (CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CHECK
    except OSError as error:  # the rename: a full disk, a folder in the way
        print(f"error: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_CHECK
    finally:
        tmp.unlink(missing_ok=True)
    print(f"{args.out}: policy of {args.run} at update {step}, seed {args.seed}; "
          f"onnxruntime vs load_policy on {len(obs):,} rollout observations: "
          f"max |difference| {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
