"""PyTorch's side of npm run bench:train: trains a luxcert IR graph, given as JSON by bench/train.ts,
with the same loss (and, where the spec has them, the same fine-tuning regularisers and per-image
perturbations), optimiser and batch (the IR interpreted by pytorch_ir.py), in the slots the bench asks
for (bench/slots.ts: `train S` lines on stdin, one JSON line back each), then prints its peak memory
and its inference images/s as one JSON line when told `finish`.
Usage: python3 bench/pytorch-train.py SPEC.json  (run by the bench with Debian's python3-torch)."""
import json
import resource
import sys
import time

import torch

from pytorch_ir import forward, load_spec, regularised_loss


def main():
    spec, inits = load_spec(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(1)
    params = {k: torch.nn.Parameter(t) for k, t in inits.items() if k in spec["trainable"]}
    values = {**inits, **params}

    b, size, k = spec["batch"], spec["size"], spec["keypoints"]
    g = torch.Generator().manual_seed(1)
    x = torch.rand(b, 3, size, size, generator=g)
    kp = torch.rand(b, k, 2, generator=g) * size
    opt = torch.optim.Adam(params.values(), lr=1e-3)

    mask = torch.ones(b, k)
    perturbation = [torch.tensor(spec[p], dtype=torch.float32).reshape(b, 1, 1, 1) for p in ("alpha", "beta")] if "regularisers" in spec else []

    def step():
        opt.zero_grad()
        regularised_loss(spec, values, x, kp, mask, *perturbation)[0].backward()
        opt.step()

    step()  # warm-up
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = line.split()
        if request == ["finish"]:
            break
        if len(request) != 2 or request[0] != "train" or not float(request[1]) > 0:
            raise ValueError(f"unknown request {line.strip()!r}")
        images, t0 = 0, time.perf_counter()
        while True:
            step()
            images += b
            if time.perf_counter() - t0 >= float(request[1]):
                break
        print(json.dumps({"images": images, "seconds": time.perf_counter() - t0}), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # PyTorch's own inference on the same graph and batch (running statistics, no autograd): the
    # ceiling its training step is measured against, as onnxruntime's is for luxcert's.
    with torch.no_grad():
        forward(spec, values, x, training=False)
        images, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 2:
            forward(spec, values, x, training=False)
            images += b
    infer = images / (time.perf_counter() - t0)
    print(json.dumps({"peakMiB": peak, "inferImagesPerSecond": infer, "torch": torch.__version__}))


main()
