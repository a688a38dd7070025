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
from motrix_jax.networks import memory_width
from motrix_jax.run_folder import CheckpointError, RunInfo, StorageError, read_run_info
from motrix_jax.trainer import start_backend

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


def memory_nodes(kind: str, cell: dict, x: str) -> tuple[list, list, str]:
    """(constants, nodes, output name) of one step of the recurrent layer (PyTorch's gate
    equations, as networks.GRUCell / LSTMCell) reading `x` and `memory_in`, writing
    `memory_out`; the output is the hidden state the MLP reads."""
    from onnx import helper, numpy_helper

    constants = [numpy_helper.from_array(np.asarray(cell[part][name], np.float32),
                                         f"memory_{part}_{name}")
                 for part in ("input", "hidden") for name in ("kernel", "bias")]
    gemm = lambda a, part, out: helper.make_node(
        "Gemm", [a, f"memory_{part}_kernel", f"memory_{part}_bias"], [out])
    node = helper.make_node
    if kind == "gru":
        nodes = [gemm(x, "input", "gi"), gemm("memory_in", "hidden", "gh"),
                 node("Split", ["gi"], ["ir", "iz", "in"], axis=-1),
                 node("Split", ["gh"], ["hr", "hz", "hn"], axis=-1),
                 node("Add", ["ir", "hr"], ["r_pre"]), node("Sigmoid", ["r_pre"], ["r"]),
                 node("Add", ["iz", "hz"], ["z_pre"]), node("Sigmoid", ["z_pre"], ["z"]),
                 node("Mul", ["r", "hn"], ["r_hn"]), node("Add", ["in", "r_hn"], ["n_pre"]),
                 node("Tanh", ["n_pre"], ["n"]),
                 # h' = (1 - z) n + z h = n + z (h - n)
                 node("Sub", ["memory_in", "n"], ["h_minus_n"]),
                 node("Mul", ["z", "h_minus_n"], ["z_h_minus_n"]),
                 node("Add", ["n", "z_h_minus_n"], ["memory_out"])]
        return constants, nodes, "memory_out"
    nodes = [node("Split", ["memory_in"], ["c", "h"], axis=-1),
             gemm(x, "input", "gi"), gemm("h", "hidden", "gh"),
             node("Add", ["gi", "gh"], ["gates"]),
             node("Split", ["gates"], ["i_pre", "f_pre", "g_pre", "o_pre"], axis=-1),
             node("Sigmoid", ["i_pre"], ["i"]), node("Sigmoid", ["f_pre"], ["f"]),
             node("Tanh", ["g_pre"], ["g"]), node("Sigmoid", ["o_pre"], ["o"]),
             node("Mul", ["f", "c"], ["f_c"]), node("Mul", ["i", "g"], ["i_g"]),
             node("Add", ["f_c", "i_g"], ["c_next"]), node("Tanh", ["c_next"], ["c_tanh"]),
             node("Mul", ["o", "c_tanh"], ["h_next"]),
             node("Concat", ["c_next", "h_next"], ["memory_out"], axis=-1)]
    return constants, nodes, "h_next"


def with_memory(graph, kind: str, cell: dict, width: int):
    """`graph` (policy_graph's) with the recurrent layer between the normalised
    observation and the first Gemm: input `memory_in` and output `memory_out`
    [batch, width] added."""
    from onnx import TensorProto, helper

    first = next(n for n in graph.node if n.op_type == "Gemm")
    constants, nodes, out = memory_nodes(kind, cell, first.input[0])
    first.input[0] = out
    at = list(graph.node).index(first)
    new_nodes = list(graph.node[:at]) + nodes + list(graph.node[at:])
    state = "zeros at an episode start; feed memory_out back at the next step"
    inputs = [*graph.input, helper.make_tensor_value_info(
        "memory_in", TensorProto.FLOAT, ["batch", width], f"recurrent memory: {state}")]
    outputs = [*graph.output, helper.make_tensor_value_info(
        "memory_out", TensorProto.FLOAT, ["batch", width], "the memory after this step")]
    return helper.make_graph(new_nodes, graph.name, inputs, outputs,
                             [*graph.initializer, *constants])


def metadata(info: RunInfo, step: int, seed: int, task) -> dict[str, str]:
    """What a robot-side program needs, as ONNX metadata (string values)."""
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}
    simple = {k: v for k, v in fields.items()
              if isinstance(v, bool | int | float | str | tuple)}
    doc = sys.modules[type(task).__module__].__doc__ or ""
    extra = task.export_metadata()
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
    memory = info.ppo.policy_memory
    if memory != "none":
        graph = with_memory(graph, memory, params["params"]["policy_memory"],
                            memory_width(memory, info.ppo.memory_size))
    model = onnx.helper.make_model(graph, producer_name="motrix_jax",
                                   opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    try:
        task = envs.run_task(info.env, info.task_changes)  # with the run's --task-set
    except ValueError as error:
        raise CheckpointError(f"{run_dir} is incompatible: {error}") from None
    props = metadata(info, step, seed, task)
    if info.ppo.distill_from:  # task_doc describes the teacher's observation
        props["observation"] = ("the task's student_observe (a student distilled from "
                                f"{info.ppo.distill_from}), {info.obs_size} values")
    if memory != "none":
        props |= {"memory": memory, "memory_size": str(info.ppo.memory_size),
                  "memory_layout": "[batch, H] GRU hidden state" if memory == "gru" else
                  "[batch, 2H]: LSTM cell state, then hidden state",
                  "memory_use": "inputs obs and memory_in (zeros at an episode start); "
                                "outputs action and memory_out, fed back as memory_in at "
                                "the next step; zero an env's memory where its episode ends"}
    onnx.helper.set_model_props(model, props)
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


def rollout_with_dones(run_dir: Path, policy, seed: int, envs_: int = 100,
                       steps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Observations [steps, envs_, obs] the policy saw after each step of a rollout of
    the run's env under the (recurrent) `policy`, and where episodes ended [steps, envs_]."""
    info = read_run_info(run_dir)
    env = envs.make_for_run(run_dir, info, envs_)
    _, (obs, done) = run_policy(env, policy, jax.random.PRNGKey(seed), steps,
                                lambda s: (s.obs, s.terminated | s.truncated))
    return obs, done


def largest_memory_difference(path: Path, policy, obs: np.ndarray, done: np.ndarray,
                              with_largest: bool = False):
    """max |onnxruntime - policy| over actions and memories when both step through the
    observations `obs` [T, N, obs] from zero memory, zeroing it where `done` [T, N]
    (and, `with_largest`, the largest |action| of the policy's)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    exported = live = np.asarray(policy.initial_memory(obs.shape[1]))
    largest, biggest_action = 0.0, 0.0
    for obs_t, done_t in zip(obs.astype(np.float32), done, strict=True):
        action, exported = session.run(["action", "memory_out"],
                                       {"obs": obs_t, "memory_in": exported})
        want, live = (np.asarray(x) for x in policy(obs_t, live))
        biggest_action = max(biggest_action, float(np.max(np.abs(want))))
        largest = max(largest, float(np.max(np.abs(action - want))),
                      float(np.max(np.abs(exported - live))))
        exported = np.where(done_t[:, None], 0.0, exported).astype(np.float32)
        live = np.asarray(policy.reset(live, done_t))
    return (largest, biggest_action) if with_largest else largest


def exported_check(run_dir: Path, path: Path, policy, seed: int) -> tuple[float, float, int]:
    """(max |onnxruntime(path) - policy|, the largest |action|, observations compared) on
    a rollout of the run's env under `policy` (a recurrent one stepped with its memory)."""
    if hasattr(policy, "initial_memory"):
        obs, done = rollout_with_dones(run_dir, policy, seed)
        diff, largest = largest_memory_difference(path, policy, obs, done, with_largest=True)
        return diff, largest, obs.shape[0] * obs.shape[1]
    obs = rollout_observations(run_dir, policy, seed)
    return (largest_difference(path, policy, obs),
            float(np.max(np.abs(np.asarray(policy(obs))))), len(obs))


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
        diff, largest, compared = exported_check(args.run, tmp, policy, args.seed)
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
          f"onnxruntime vs load_policy on {compared:,} rollout observations: "
          f"max |difference| {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
