"""Continue training a chainrule model in PyTorch (docs/deploy.md).

  python3 examples/deploy/continue_training.py run/model.safetensors digits.json run-torch/model.safetensors

Reads a model.safetensors written by `chainrule train --out` (weights plus the architecture in its
metadata), builds the same torch.nn.Sequential, loads the weights with load_state_dict(strict=True),
trains on the JSON data ({"inputs": [[...features], ...], "labels": [...]}, e.g. from
examples/deploy/mnist-json.mjs) and writes the result with the same names and metadata, so
`chainrule eval --model run-torch` reads it back. Uses `safetensors` when installed, else the
small reader and writer below (the format is 8 bytes of header length, a JSON header, raw bytes).
"""
import json
import struct
import sys

import torch
import torch.nn as nn

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[e["dtype"]])
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors, meta):
    header, chunks, offset = {"__metadata__": meta}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "leakyRelu": nn.LeakyReLU}


def build(arch):
    """The torch twin of chainrule's models.buildModel (src/models): same layers, same names."""
    act = ACT[arch["activation"]]
    sizes = arch["sizes"]
    if arch["model"] == "mlp":
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i + 2 < len(sizes):
                layers.append(act())
        return nn.Sequential(*layers)
    c, h, w = arch["input"]
    layers, flat, tokens = [nn.Unflatten(1, (c, h, w))], None, arch["layers"].split("-")
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.startswith("conv"):
            spec = t[4:]
            stride = int(spec.split("s")[1]) if "s" in spec else 1
            spec = spec.split("s")[0]
            filters, k = (int(spec.split("x")[0]), int(spec.split("x")[1])) if "x" in spec else (int(spec), 3)
            layers.append(nn.Conv2d(c, filters, k, stride=stride, padding=k // 2))
            c, h, w = filters, (h - 1) // stride + 1, (w - 1) // stride + 1
            if i + 1 < len(tokens) and tokens[i + 1] == "bn":
                layers.append(nn.BatchNorm2d(c))
                i += 1
            layers.append(act())
        elif t == "bn":
            layers.append(nn.BatchNorm2d(c) if flat is None else nn.BatchNorm1d(flat))
        elif t.startswith("pool") or t.startswith("avgpool"):
            k = int(t.lstrip("avgpol") or 2)
            layers.append(nn.MaxPool2d(k) if t.startswith("pool") else nn.AvgPool2d(k))
            h, w = h // k, w // k
        elif t == "gap":
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            h = w = 1
            flat = c
        elif t.startswith("dropout"):
            layers.append(nn.Dropout2d(float(t[7:])) if flat is None else nn.Dropout(float(t[7:])))
        elif t.startswith("fc"):
            if flat is None:
                layers.append(nn.Flatten())
                flat = c * h * w
            layers += [nn.Linear(flat, int(t[2:])), act()]
            flat = int(t[2:])
        i += 1
    if flat is None:
        layers.append(nn.Flatten())
        flat = c * h * w
    layers.append(nn.Linear(flat, sizes[-1]))
    return nn.Sequential(*layers)


def main(src, data_path, dst, epochs=3):
    tensors, meta = read_safetensors(src)
    arch = json.loads(meta["chainrule.architecture"])
    model = build(arch)
    model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in tensors.items()}, strict=True)
    with open(data_path) as f:
        d = json.load(f)
    x, y = torch.tensor(d["inputs"], dtype=torch.float32), torch.tensor(d["labels"])
    if "chainrule.normalization" in meta:
        norm = json.loads(meta["chainrule.normalization"])
        x = (x - torch.tensor(norm["mean"])) / torch.tensor(norm["std"])
    loss_fn = nn.CrossEntropyLoss() if arch["loss"] == "softmax" else nn.MultiMarginLoss()

    def accuracy():
        model.eval()
        with torch.no_grad():
            return (model(x).argmax(1) == y).float().mean().item()

    print(f"loaded {src}: {arch['model']} {arch.get('layers', arch['sizes'])}, load_state_dict(strict=True) ok")
    print(f"accuracy on {len(y)} samples before: {accuracy():.4f}")
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    torch.manual_seed(0)
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(len(y)).split(64):
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, accuracy {accuracy():.4f}")
    out = {k: v for k, v in model.state_dict().items()}
    write_safetensors(dst, out, meta)
    print(f"wrote {dst} ({len(out)} tensors, the same names and metadata)")


if __name__ == "__main__":
    import os
    os.makedirs(os.path.dirname(os.path.abspath(sys.argv[3])), exist_ok=True)
    main(sys.argv[1], sys.argv[2], sys.argv[3])
