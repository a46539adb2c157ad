"""PyTorch side of bench/engine.ts: a worker that builds the same models from the same
weights and data (safetensors files written by the TypeScript side) and times them on
request, so the two sides can be alternated in one run.

Protocol: one JSON command per line on stdin, one JSON answer per line on stdout.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "python"))
import safetensors_min  # noqa: E402
from torch_worker import serve  # noqa: E402


def mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128),
    )


class TrainCase:
    def __init__(self, make, path):
        _, t = safetensors_min.load(path)
        self.model = make()
        self.model.load_state_dict({k[len("model."):]: v for k, v in t.items() if k.startswith("model.")})
        self.x, self.y = t["x"], t["y"]
        # PyTorch's defaults, as a user would write them (Adam without foreach in 1.13).
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def step(self):
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()


class DispatchCase:
    def __init__(self, path):
        _, t = safetensors_min.load(path)
        self.a, self.b = t["a"], t["b"]

    def step(self):
        """One unit: 1,000 adds (the TypeScript side times the same unit)."""
        a, b = self.a, self.b
        for _ in range(1000):
            a + b


def make_case(cmd):
    kind = cmd["case"]
    if kind == "dispatch":
        return DispatchCase(cmd["path"])
    return TrainCase(mlp if kind == "mlp-step" else cnn, cmd["path"])


if __name__ == "__main__":
    serve(make_case)
