"""luxcert's IR interpreted in PyTorch: the forward pass of a graph given as JSON (nodes) and float32 initializers,
the keypoint heads' losses and the perturbation regularisers, defined as luxcert's training step
defines them. Shared by bench/pytorch-train.py (throughput) and bench/pytorch-gradients.py (the
gradient fixtures the tests compare luxcert's step with)."""
import json
import os

import torch
import torch.nn.functional as F


def load_spec(path):
    """A graph as bench/pytorch-spec.ts writes it: the JSON spec, and its initializers as tensors read from the float32 file beside it."""
    spec = json.load(open(path))
    inits = {}
    with open(os.path.join(os.path.dirname(path), spec["values"]), "rb") as f:
        for name, v in spec["initializers"].items():
            count = 1
            for d in v["dims"]:
                count *= d
            f.seek(4 * v["offset"])
            inits[name] = torch.frombuffer(bytearray(f.read(4 * count)), dtype=torch.float32).reshape(v["dims"])
    return spec, inits


def pair_pads(a, h):
    """Applies ONNX pads [top, left, bottom, right] itself when they are uneven; returns (input, symmetric pads)."""
    pads = a.get("pads", [0, 0, 0, 0])
    if pads[0] != pads[2] or pads[1] != pads[3]:
        return F.pad(h, (pads[1], pads[3], pads[0], pads[2])), (0, 0)
    return h, (pads[0], pads[1])


def run_node(op, a, ins, training):
    if op == "Conv":
        h, pad = pair_pads(a, ins[0])
        return F.conv2d(h, ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", [1, 1]), padding=pad,
                        dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
    if op == "BatchNormalization":
        # luxcert keeps the biased batch variance in its running statistics; only the batch statistics matter here.
        return F.batch_norm(ins[0], ins[3].clone(), ins[4].clone(), ins[1], ins[2], training=training, momentum=0.1, eps=a.get("epsilon", 1e-5))
    if op == "Relu":
        return F.relu(ins[0])
    if op == "Abs":
        return ins[0].abs()
    if op == "Clip":
        return torch.clamp(ins[0], a.get("min"), a.get("max"))
    if op in ("Add", "Sub", "Mul", "Div"):
        return {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op](ins[0], ins[1])
    if op == "Flatten":
        return torch.flatten(ins[0], a.get("axis", 1))
    if op == "Gemm":
        x = ins[0].t() if a.get("transA", 0) else ins[0]
        w = ins[1].t() if a.get("transB", 0) else ins[1]
        y = a.get("alpha", 1.0) * (x @ w)
        if len(ins) > 2 and ins[2] is not None:
            y = y + a.get("beta", 1.0) * ins[2]
        return y
    if op == "MatMul":
        return ins[0] @ ins[1]
    if op == "Reshape":
        shape = [ins[0].shape[i] if d == 0 else d for i, d in enumerate(a["shape"])]
        return ins[0].reshape(shape)
    if op == "Identity":
        return ins[0]
    if op == "Concat":
        return torch.cat(ins, a.get("axis", 0))
    if op == "Pad":
        p = a["pads"]
        r = len(p) // 2
        flat = []
        for i in reversed(range(r)):
            flat += [p[i], p[i + r]]
        return F.pad(ins[0], flat, value=a.get("value", 0.0))
    if op in ("MaxPool", "AveragePool"):
        h, pad = pair_pads(a, ins[0])
        k, s = a["kernel_shape"], a.get("strides", [1, 1])
        if op == "MaxPool":
            return F.max_pool2d(h, k, s, pad, ceil_mode=bool(a.get("ceil_mode", 0)))
        return F.avg_pool2d(h, k, s, pad, ceil_mode=bool(a.get("ceil_mode", 0)), count_include_pad=bool(a.get("count_include_pad", 0)))
    if op == "GlobalAveragePool":
        return ins[0].mean((2, 3), keepdim=True)
    raise SystemExit(f"pytorch_ir: operator {op} is not interpreted")


def forward(spec, values, x, training=True):
    """All values of the graph on input x (BatchNorm with batch statistics when training)."""
    env = {spec["input"]: x}
    for n in spec["nodes"]:
        ins = [(env[i] if i in env else values[i]) if i else None for i in n["inputs"]]
        env[n["outputs"][0]] = run_node(n["op"], n["attrs"], ins, training)
    return env


def head_loss(spec, out, kp, mask):
    """Smooth-L1 over labelled coordinates (regression) or cell cross-entropy over labelled keypoints inside the input (heatmap)."""
    b, k, size = kp.shape[0], kp.shape[1], spec["size"]
    if spec["head"] == "regression":
        w = mask.unsqueeze(2).expand(b, k, 2)
        h = F.smooth_l1_loss(out.reshape(b, k, 2), kp, beta=1.0, reduction="none")
        return (h * w).sum() / torch.clamp((w != 0).sum(), min=1)
    grid = spec["grid"]
    cx, cy = torch.floor(kp[..., 0] * grid / size), torch.floor(kp[..., 1] * grid / size)
    inside = (cx >= 0) & (cy >= 0) & (cx < grid) & (cy < grid)
    cells = torch.where(inside, cy * grid + cx, torch.zeros_like(cx)).long().reshape(-1)
    w = torch.where(inside, mask, torch.zeros_like(mask)).reshape(-1)
    ce = F.cross_entropy(out.reshape(b * k, grid * grid), cells, reduction="none")
    return (ce * w).sum() / torch.clamp((w != 0).sum(), min=1)


def wasserstein(clean, perturbed, probes):
    terms = []
    for p in probes:
        a, b = clean[p], perturbed[p]
        if a.dim() > 2:
            a, b = a.mean(tuple(range(2, a.dim()))), b.mean(tuple(range(2, b.dim())))
        terms.append((torch.sort(a.t(), dim=1).values - torch.sort(b.t(), dim=1).values).abs().mean())
    return torch.stack(terms).mean()


def relu_stability(clean, perturbed, names, margin):
    terms = []
    for v in names:
        z, zp = clean[v], perturbed[v]
        hinge = F.relu(margin * (zp - z).abs() - z.abs())
        terms.append(hinge.mean() / (torch.sqrt((z * z).mean()).detach() + 1e-6))
    return torch.stack(terms).mean()


def regularised_loss(spec, values, x, kp, mask, alpha=None, beta=None):
    """The training step's loss with the fine-tuning regularisers of spec["regularisers"] (if any) on the
    perturbed batch clamp(alpha * x + beta, 0, 1): (total, head loss, {"wasserstein": W, "reluStability": S})."""
    clean = forward(spec, values, x)
    loss = head_loss(spec, clean[spec["output"]], kp, mask)
    total, terms = loss, {}
    reg = spec.get("regularisers")
    if reg:
        perturbed = forward(spec, values, torch.clamp(x * alpha + beta, 0, 1))
        if "wasserstein" in reg:
            terms["wasserstein"] = wasserstein(clean, perturbed, reg["wasserstein"]["probes"])
            total = total + reg["wasserstein"]["lambda"] * terms["wasserstein"]
        if "reluStability" in reg:
            terms["reluStability"] = relu_stability(clean, perturbed, reg["reluStability"]["values"], reg["reluStability"]["margin"])
            total = total + reg["reluStability"]["mu"] * terms["reluStability"]
    return total, loss, terms
