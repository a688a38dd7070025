#!/usr/bin/env bash
# Every GPU figure the Go1-on-MJX work needs, in two device runs on one NVIDIA H200 (one
# `run` per part, the second straight after the first while the machine is warm; planned
# at about 5 + 7 minutes, inside a session's 15 minutes of device time; not yet timed on
# a GPU). Results land in $OUT;
# copy them to benchmarks/results/gpu/. Prepare the wheels here once with
# benchmarks/gpu_wheels.sh.
#
#   run: bash benchmarks/gpu_go1.sh speed        carry: [".whl"]   timeout_s: 420
#   run: bash benchmarks/gpu_go1.sh playground   carry: [".whl"]   timeout_s: 540
#
# speed:      MJX physics per world (contacts, constraint rows, us per substep) for
#             go1_flat at 8192-32768 envs and the navigation robots at 8192; ours end to
#             end at 8192 and 32768; with BRAX=1 also Brax PPO over our env at 8192 (its
#             table in speed.log: the device tool brings back 8 files at most).
# playground: our go1_flat (MINUTES, default 3) and Playground's Go1JoystickFlatTerrain
#             with its Brax PPO settings (PLAYGROUND_STEPS env steps, default 50M; its
#             recipe is 200M) on the same card, one after the other, 8192 envs each.
#             Both write as they go: a part cut at its limit still brings back its curves.
# SMALL=1 runs every step at toy sizes on a CPU (PYTHON=.venv/bin/python), to check the
# script before spending device time.
set -uo pipefail
part=${1:?speed or playground}
export PYTHONUNBUFFERED=1
if [ -n "${OUT:-}" ]; then  # on the device machine: the carried wheels, then motrix_jax
  rm -rf /tmp/site  # a warm machine keeps the last part's install: never run old code
  export PYTHONPATH=/tmp/site  # (the carried setuptools builds motrix_jax below)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target /tmp/site .whl/*.whl || exit 1
  python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir \
    --target /tmp/site . || exit 1
fi
out=${OUT:-/tmp/gpu_go1_out}
mkdir -p "$out"
py=${PYTHON:-python3}
if [ "${SMALL:-0}" = 1 ]; then
  go1_envs="64 128"; nav_envs=64; mid=64; big=128; updates=2; steps=5; minutes=${MINUTES:-1}
  pg_steps=${PLAYGROUND_STEPS:-20480}; pg_envs="--num-envs 256 --playground-set num_evals=3
    --playground-set num_resets_per_eval=0 --playground-set num_eval_envs=16
    --playground-set episode_length=100 --playground-set num_minibatches=4"
else
  go1_envs="8192 16384 32768"; nav_envs=8192; mid=8192; big=32768; updates=5; steps=50
  minutes=${MINUTES:-3}; pg_steps=${PLAYGROUND_STEPS:-50000000}; pg_envs="--num-envs 8192"
fi
$py -c "import jax; print(jax.devices(), jax.__version__)"  # (in the output tail)
case $part in
  speed)
    $py benchmarks/physics.py --env go1_flat --backends mjx --num-envs $go1_envs \
      --steps $steps --out "$out/physics_go1_flat" 2>&1 | tee "$out/speed.log"
    $py benchmarks/physics.py --env vbot_navigation_flat anymal_c_navigation_flat \
      --backends mjx --num-envs $nav_envs --steps $steps --out "$out/physics_navigation" \
      2>&1 | tee -a "$out/speed.log"
    $py benchmarks/train_speed.py --env go1_flat --physics mjx --num-envs $mid $big \
      --updates $updates --out "$out/train_speed_go1_flat" 2>&1 | tee -a "$out/speed.log"
    if [ "${BRAX:-0}" = 1 ]; then
      $py benchmarks/vs_brax.py --env go1_flat --num-envs $mid --set mini_batches=4 \
        --updates $updates --steps $steps 2>&1 | tee -a "$out/speed.log"  # 8 files at most
    fi
    ;;
  playground)
    $py benchmarks/vs_playground.py --minutes $minutes --playground-steps $pg_steps \
      $pg_envs --run-root /tmp/runs --out "$out/vs_playground_go1_flat" \
      2>&1 | tee "$out/playground.log"
    ;;
  *) echo "unknown part: $part (speed or playground)"; exit 2 ;;
esac
