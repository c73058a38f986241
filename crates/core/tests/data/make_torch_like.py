"""Writes torch_like.safetensors: the state_dict PyTorch would save for
nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)) (keys 0.weight, 0.bias, 2.weight,
2.bias, F32, no batchprop metadata), with seeded values, through Python's safetensors package,
and torch_like.json: inputs and the outputs NumPy computes for them. crates/core/tests/interop.rs
loads the file and checks batchprop's outputs against these.

    python3 -m pip install numpy safetensors && python3 make_torch_like.py
"""
import json

import numpy as np
from safetensors.numpy import save_file

rng = np.random.default_rng(7)
tensors = {
    "0.weight": rng.normal(size=(3, 4)).astype(np.float32),
    "0.bias": rng.normal(size=(3,)).astype(np.float32),
    "2.weight": rng.normal(size=(2, 3)).astype(np.float32),
    "2.bias": rng.normal(size=(2,)).astype(np.float32),
}
save_file(tensors, "torch_like.safetensors")
x = rng.normal(size=(5, 4))  # five examples, one per row
a = np.tanh(x @ tensors["0.weight"].astype(np.float64).T + tensors["0.bias"])
out = a @ tensors["2.weight"].astype(np.float64).T + tensors["2.bias"]  # identity output
with open("torch_like.json", "w") as f:
    json.dump({"inputs": x.tolist(), "outputs": out.tolist()}, f, indent=1)
