"""Records PyTorch's loss and weight gradients for one luxcert training-step case (given as JSON by
scripts/record-pytorch-gradients.ts) and prints them as one JSON line.
Usage: python3 bench/pytorch-gradients.py CASE.json  (Debian's python3-torch)."""
import json
import sys

import torch

from pytorch_ir import load_spec, regularised_loss


def main():
    spec, inits = load_spec(sys.argv[1])
    torch.set_num_threads(1)
    t = lambda v: torch.tensor(v["data"], dtype=torch.float32).reshape(v["dims"])
    params = {k: torch.nn.Parameter(v) for k, v in inits.items() if k in spec["trainable"]}
    values = {**inits, **params}
    x, kp, mask = t(spec["x"]), t(spec["keypoints"]), t(spec["mask"])
    reg = spec.get("regularisers")
    total, loss, terms = regularised_loss(spec, values, x, kp, mask, *((t(spec["alpha"]), t(spec["beta"])) if reg else ()))
    result = {"torch": torch.__version__, "loss": loss.item(), **{k: v.item() for k, v in terms.items()}}
    total.backward()
    result["gradients"] = {k: p.grad.reshape(-1).tolist() for k, p in params.items()}
    print(json.dumps(result))


main()
