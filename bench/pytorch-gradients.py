"""Records PyTorch's loss and weight gradients for one luxcert training-step case (given as JSON by
scripts/record-pytorch-gradients.ts) and prints them as one JSON line.
Usage: python3 bench/pytorch-gradients.py CASE.json  (Debian's python3-torch)."""
import json
import sys

import torch

from pytorch_ir import forward, head_loss, relu_stability, wasserstein


def main():
    spec = json.load(open(sys.argv[1]))
    torch.set_num_threads(1)
    t = lambda v: torch.tensor(v["data"], dtype=torch.float32).reshape(v["dims"])
    inits = {k: t(v) for k, v in spec["initializers"].items()}
    params = {k: torch.nn.Parameter(v) for k, v in inits.items() if k in spec["trainable"]}
    values = {**inits, **params}
    x, kp, mask = t(spec["x"]), t(spec["keypoints"]), t(spec["mask"])
    clean = forward(spec, values, x)
    loss = head_loss(spec, clean[spec["output"]], kp, mask)
    total = loss
    result = {"torch": torch.__version__, "loss": loss.item()}
    reg = spec.get("regularisers")
    if reg:
        xp = torch.clamp(x * t(spec["alpha"]) + t(spec["beta"]), 0, 1)
        perturbed = forward(spec, values, xp)
        if "wasserstein" in reg:
            w = wasserstein(clean, perturbed, reg["wasserstein"]["probes"])
            total = total + reg["wasserstein"]["lambda"] * w
            result["wasserstein"] = w.item()
        if "reluStability" in reg:
            s = relu_stability(clean, perturbed, reg["reluStability"]["values"], reg["reluStability"]["margin"])
            total = total + reg["reluStability"]["mu"] * s
            result["reluStability"] = s.item()
    total.backward()
    result["gradients"] = {k: p.grad.reshape(-1).tolist() for k, p in params.items()}
    print(json.dumps(result))


main()
