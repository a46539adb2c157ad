"""PyTorch side of bench/pretrain.ts: the same SimCLR step (same encoder, projector, batch,
batched augmentations and NT-Xent), loading the TypeScript side's initial weights and data
from safetensors, timed step by step on request.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "python"))
import safetensors_min  # noqa: E402
from torch_worker import serve  # noqa: E402


class Backbone(nn.Module):
    """Pretext's SmallCnn: conv3x3-BN-ReLU-maxpool per stage, then avg pool or flatten."""

    def __init__(self, width=32, depth=3, pool="flatten", readout_norm=False):
        super().__init__()
        layers, c = [], 1
        for stage in range(depth):
            out = width * 2 ** stage
            layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            c = out
        side = 28 // 2 ** depth
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()] if pool == "avg" else [nn.Flatten()]
        self.out_dim = c if pool == "avg" else c * side * side
        if readout_norm:
            layers.append(nn.BatchNorm1d(self.out_dim, affine=False))
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x)


def mlp(d, hidden, out):
    return nn.Sequential(nn.Linear(d, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))


class SimCLR(nn.Module):
    """Backbone + projector; with rotationWeight > 0 also Pretext's rotation head."""

    def __init__(self, encoder, method):
        super().__init__()
        self.backbone = Backbone(
            encoder.get("width", 32), encoder.get("depth", 3), encoder.get("pool", "avg"), encoder.get("readoutNorm", False)
        )
        if method.get("views", 2) != 2:
            raise ValueError("the speed case mirrors two-view SimCLR only")
        d = self.backbone.out_dim
        hidden = method.get("hiddenDim", 512)
        self.temperature = method.get("temperature", 0.2)
        self.rotation_weight = method.get("rotationWeight", 0)
        self.projector = mlp(d, hidden, method.get("projDim", 128))
        if self.rotation_weight > 0:
            self.rotationHead = mlp(d, hidden, 4)

    def forward(self, x):
        return self.projector(self.backbone(x))


def augment(x, g, spec):
    """The recipe's crop + flip (one affine resampling), jitter and noise: batched, like Pretext's."""
    unsupported = set(spec) - {"crop", "jitter", "noise"}
    if unsupported:
        raise ValueError(f"the PyTorch side mirrors crop, jitter and noise only; the recipe also has {sorted(unsupported)}")
    b = x.shape[0]
    if "crop" in spec:
        (s0, s1), (r0, r1), flip = spec["crop"]["scale"], spec["crop"]["ratio"], spec["crop"]["flip"]
        area = torch.rand(b, generator=g) * (s1 - s0) + s0
        ratio = torch.exp(torch.rand(b, generator=g) * (math.log(r1) - math.log(r0)) + math.log(r0))
        w = (area * ratio).sqrt().clamp(max=1)
        h = (area / ratio).sqrt().clamp(max=1)
        cx = (torch.rand(b, generator=g) * 2 - 1) * (1 - w)
        cy = (torch.rand(b, generator=g) * 2 - 1) * (1 - h)
        sign = (torch.rand(b, generator=g) < flip).float() * -2 + 1
        zero = torch.zeros_like(w)
        theta = torch.stack([torch.stack([w * sign, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)
        x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), padding_mode="reflection", align_corners=False)
    if "jitter" in spec:
        j = spec["jitter"]
        apply = torch.rand(b, 1, 1, 1, generator=g) < j["p"]
        bf = (torch.rand(b, generator=g) * 2 * j["brightness"] + 1 - j["brightness"]).reshape(b, 1, 1, 1)
        cf = (torch.rand(b, generator=g) * 2 * j["contrast"] + 1 - j["contrast"]).reshape(b, 1, 1, 1)
        bright = x * bf
        mean = bright.mean((1, 2, 3), keepdim=True)
        x = torch.where(apply, ((bright - mean) * cf + mean).clamp(0, 1), x)
    if "noise" in spec:
        n = spec["noise"]
        apply = torch.rand(b, 1, 1, 1, generator=g) < n["p"]
        x = torch.where(apply, (x + torch.randn(x.shape, generator=g) * n["std"]).clamp(0, 1), x)
    return x


def one_rotation_each(x):
    """Image i turned by (i mod 4) quarter turns, as Pretext's oneRotationEach."""
    n = x.shape[0]
    i = torch.arange(n)
    k = i % 4
    turned = torch.cat([x, x.transpose(2, 3).flip(3), x.flip([2, 3]), x.transpose(2, 3).flip(2)])
    return turned.index_select(0, k * n + i), k


def nt_xent(z1, z2, t=0.2):
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.t() / t).masked_fill(torch.eye(2 * b, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(b) + b, torch.arange(b)])
    return F.cross_entropy(logits, targets)


class Case:
    """Everything but the weights and data comes from the recipe the TypeScript side runs."""

    def __init__(self, cmd):
        _, t = safetensors_min.load(cmd["path"])
        self.model = SimCLR(cmd["encoder"], cmd.get("method", {}))
        self.model.load_state_dict({k[len("model."):]: v for k, v in t.items() if k.startswith("model.")})
        self.images = t["images"]
        opt = cmd["optimizer"]
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=opt["lr"], weight_decay=opt["weightDecay"])
        self.batch = cmd["batchSize"]
        self.augment = cmd["augment"]
        self.mean, self.std = cmd["norm"]["mean"], cmd["norm"]["std"]
        self.g = torch.Generator().manual_seed(0)
        self.order = torch.randperm(self.images.shape[0], generator=self.g)
        self.pos = 0

    def step(self):
        batch = self.batch
        if self.pos + batch > self.images.shape[0]:
            self.order, self.pos = torch.randperm(self.images.shape[0], generator=self.g), 0
        idx = self.order[self.pos:self.pos + batch]
        self.pos += batch
        x = (self.images.index_select(0, idx).float() / 255).unsqueeze(1)
        a = (augment(x, self.g, self.augment) - self.mean) / self.std
        b = (augment(x, self.g, self.augment) - self.mean) / self.std
        self.opt.zero_grad()
        m = self.model
        if m.rotation_weight > 0:
            # Both views of image i turned alike; the head names the turn from backbone features.
            (a, k), (b, _) = one_rotation_each(a), one_rotation_each(b)
        ha, hb = m.backbone(a), m.backbone(b)
        loss = nt_xent(m.projector(ha), m.projector(hb), m.temperature)
        if m.rotation_weight > 0:
            loss = loss + m.rotation_weight * F.cross_entropy(m.rotationHead(torch.cat([ha, hb])), torch.cat([k, k]))
        loss.backward()
        self.opt.step()
        return loss.item()


if __name__ == "__main__":
    serve(Case)
