"""PyTorch's side of npm run bench:train: trains a luxcert IR graph, given as JSON by bench/train.ts,
with the same loss, optimiser and batch, and prints images/s and peak memory as one JSON line.
Usage: python3 bench/pytorch-train.py SPEC.json  (run by the bench with Debian's python3-torch)."""
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F


def main():
    spec = json.load(open(sys.argv[1]))
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(1)
    inits = {k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["dims"]) for k, v in spec["initializers"].items()}
    params = {k: torch.nn.Parameter(t) for k, t in inits.items() if k in spec["trainable"]}
    values = {**inits, **params}
    nodes = spec["nodes"]

    def forward(x):
        env = {spec["input"]: x}
        get = lambda name: env[name] if name in env else values[name]
        for n in nodes:
            a = n["attrs"]
            ins = [get(i) if i else None for i in n["inputs"]]
            op = n["op"]
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                h = ins[0]
                if pads[0] != pads[2] or pads[1] != pads[3]:
                    h = F.pad(h, (pads[1], pads[3], pads[0], pads[2]))
                    pads = [0, 0, 0, 0]
                y = F.conv2d(h, ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", [1, 1]), padding=(pads[0], pads[1]),
                             dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
            elif op == "BatchNormalization":
                y = F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], training=True, momentum=0.1, eps=a.get("epsilon", 1e-5))
            elif op == "Relu":
                y = F.relu(ins[0])
            elif op == "Add":
                y = ins[0] + ins[1]
            elif op == "Sub":
                y = ins[0] - ins[1]
            elif op == "Mul":
                y = ins[0] * ins[1]
            elif op == "Flatten":
                y = torch.flatten(ins[0], a.get("axis", 1))
            elif op == "Gemm":
                w = ins[1].t() if a.get("transB", 0) else ins[1]
                y = a.get("alpha", 1.0) * (ins[0] @ w)
                if len(ins) > 2 and ins[2] is not None:
                    y = y + a.get("beta", 1.0) * ins[2]
            elif op == "Reshape":
                shape = [ins[0].shape[i] if d == 0 else d for i, d in enumerate(a["shape"])]
                y = ins[0].reshape(shape)
            elif op == "Identity":
                y = ins[0]
            else:
                raise SystemExit(f"pytorch-train: operator {op} is not in this bench's interpreter")
            env[n["outputs"][0]] = y
        return env[spec["output"]]

    b, size, k = spec["batch"], spec["size"], spec["keypoints"]
    g = torch.Generator().manual_seed(1)
    x = torch.rand(b, 3, size, size, generator=g)
    kp = torch.rand(b, k, 2, generator=g) * size
    opt = torch.optim.Adam(params.values(), lr=1e-3)
    grid = spec.get("grid")

    def loss_of(out):
        if spec["head"] == "regression":
            return F.smooth_l1_loss(out.reshape(b, k, 2), kp, beta=1.0)
        cells = (torch.floor(kp[..., 1] * grid / size) * grid + torch.floor(kp[..., 0] * grid / size)).long().reshape(-1)
        return F.cross_entropy(out.reshape(b * k, grid * grid), cells)

    def step():
        opt.zero_grad()
        loss_of(forward(x)).backward()
        opt.step()

    step()  # warm-up
    images, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < spec["seconds"]:
        step()
        images += b
    rate = images / (time.perf_counter() - t0)
    print(json.dumps({"imagesPerSecond": rate, "peakMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__}))


main()
