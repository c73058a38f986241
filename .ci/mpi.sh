#!/usr/bin/env bash
# Data-parallel training over MPI (feature `mpi`): one epoch of the book's network in f64 on 1,
# 2 and 3 processes from the same seed (3: uneven shares of every mini-batch) gives the same
# accuracy and parameters that agree to the drift the sums' order makes (printed); a process
# that fails ends the job with its one-line error and a non-zero exit, not a hang.
# Usage: .ci/mpi.sh PYTHON (with numpy). Needs libopenmpi-dev, openmpi-bin, libclang-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --oversubscribe --bind-to none)

cargo build -q --release --features mpi --example mnist
bin=target/release/examples/mnist
for np in 1 2 3; do
    timeout 300 "${mpirun[@]}" -np $np "$bin" --epochs 1 --dtype f64 --threads 1 --seed 7 \
        --save "$work/np$np.json" --check-sync 2>"$work/np$np.err" | grep '^Epoch' >"$work/np$np.out"
    echo "np $np: $(cat "$work/np$np.out")"
done
"$python" - "$work" <<'PY'
import json, sys
import numpy as np
work = sys.argv[1]
lines = [open(f"{work}/np{n}.out").read().split("(")[0] for n in (1, 2, 3)]
assert lines[0] == lines[1] == lines[2], lines  # the same test accuracy
def params(n):
    net = json.load(open(f"{work}/np{n}.json"))
    return np.concatenate([np.ravel(a) for a in net["weights"] + net["biases"]])
one = params(1)
for n in (2, 3):
    d = np.abs(params(n) - one)
    rel_norm = np.linalg.norm(d) / np.linalg.norm(one)
    rel_max = (d / np.maximum(np.abs(one), 1e-3)).max()
    print(f"np {n} against np 1: |dp|/|p| = {rel_norm:.2e}, max |dp_i|/max(|p_i|, 1e-3) = {rel_max:.2e}")
    assert rel_norm < 1e-4, rel_norm  # rounding amplified by 5,000 steps at eta 3, not a bug's size
PY
# One process fails (a truncated file on "its host"): the job ends, with that process's line.
mkdir "$work/bad"
cp data/mnist/* "$work/bad/"
head -c 100000 data/mnist/train-images-idx3-ubyte.gz >"$work/bad/train-images-idx3-ubyte.gz"
set +e
timeout 120 "${mpirun[@]}" -np 1 "$bin" --epochs 1 : -np 1 "$bin" --epochs 1 --data "$work/bad" \
    >"$work/fail.out" 2>"$work/fail.err"
code=$?
set -e
grep -q '^error (rank 1 of 2): .*train-images-idx3-ubyte.gz: corrupt gzip stream' "$work/fail.err" ||
    { cat "$work/fail.err"; exit 1; }
[ "$code" -ne 0 ] && [ "$code" -ne 124 ] || { echo "exit $code: expected the job to fail, not hang"; exit 1; }
echo "a failing process ends the job: exit $code, $(grep -c '^error' "$work/fail.err") error line"
