#!/usr/bin/env bash
# The wheels benchmarks/gpu_go1.sh installs on the device machine (an H200 image with
# Python 3.12, JAX with CUDA, flax, optax, chex, orbax, rich, lxml, tqdm and matplotlib,
# and no registry), downloaded here into .whl/ (ignored by git; carried by the device
# tool, 64 MiB at most together with the working tree). motrixsim is left out (its core
# wheel alone is 67 MB; the MJX runs do not import it), and so is mujoco-studio
# (MuJoCo's viewer; `import mujoco` goes on without it), and what only videos, Brax's
# learner app or notebooks import (imageio-ffmpeg, flask, mediapy).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
packages=(mujoco==4.0.0 mujoco-core==4.0.0 mujoco-mjx==3.17.0 tensorboardX==2.6.5 \
    trimesh==5.2.0 brax==0.14.2 jaxopt==0.8.5 ml-collections==1.1.0 playground==0.2.0
    setuptools==84.2.1)  # setuptools: builds motrix_jax there (--no-build-isolation)
for package in "${packages[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl "$package" 2>&1 | { grep -v '^WARNING: Location' || true; }
done
count=$(ls .whl/*.whl | wc -l)
[ "$count" -eq "${#packages[@]}" ] || { echo "expected ${#packages[@]} wheels in .whl, found $count"; exit 1; }
du -ch .whl/*.whl | tail -1
