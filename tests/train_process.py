"""`python tests/train_process.py RUN_DIR [--resume]`: `train.fit` on the pure-JAX
cartpole in a process of its own, for tests that kill it. Its programs come from the
tests' disk compile cache, so the process starts training within seconds."""

import sys
from pathlib import Path

from conftest import jax_cartpole

from motrix_jax import train
from motrix_jax.run_folder import read_run_info

if __name__ == "__main__":
    run_dir = Path(sys.argv[1])
    info = read_run_info(run_dir)
    sys.exit(train.fit(jax_cartpole(info.ppo.num_envs), info, run_dir,
                       resume="--resume" in sys.argv[2:]))
