"""PyTorch's side of bench/train-kernels.ts: each kernel (a layer's forward, input gradient, weight
gradient, or BatchNormalization / ReLU forward and backward) timed with PyTorch's own ATen kernels
on the shapes given as JSON; prints {"torch", "ms"} as one JSON line.
Usage: python3 bench/pytorch-kernels.py KERNELS.json  (Debian's python3-torch)."""
import json
import sys
import time

import torch
import torch.nn.functional as F


def runner(k):
    x = torch.rand(k["input"]) * 2 - 1
    dy = torch.rand(k["output"]) * 2 - 1
    if k["op"] == "Conv":
        w = torch.rand(k["weight"]) * 2 - 1
        s, p = [k["stride"]] * 2, [k["pad"]] * 2
        if k["part"] == "forward":
            return lambda: F.conv2d(x, w, None, s, p)
        mask = [k["part"] == "input gradient", k["part"] == "weight gradient", False]
        return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, s, p, [1, 1], False, [0, 0], 1, mask)
    if k["op"] == "BatchNormalization":
        c = k["input"][1]
        x.requires_grad_()
        scale, bias = (torch.rand(c) + 0.5).requires_grad_(), (torch.rand(c) * 2 - 1).requires_grad_()
        mean, var = torch.rand(c) * 2 - 1, torch.rand(c) + 0.5

        def bn():
            y = F.batch_norm(x, mean, var, scale, bias, training=True, momentum=0.1, eps=1e-5)
            return torch.autograd.grad(y, (x, scale, bias), dy)
        return bn
    x.requires_grad_()
    return lambda: torch.autograd.grad(F.relu(x), x, dy)


def ms_per_call(fn, seconds):
    fn()
    fn()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        calls += 1
    return (time.perf_counter() - t0) / calls * 1000


def main():
    spec = json.load(open(sys.argv[1]))
    torch.set_num_threads(spec["threads"])
    print(json.dumps({"torch": torch.__version__, "ms": [ms_per_call(runner(k), spec["seconds"]) for k in spec["kernels"]]}))


main()
