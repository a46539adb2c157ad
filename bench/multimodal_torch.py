"""The contrastive image-text step of bench/multimodal.ts in PyTorch 1.13: the same two towers
(the small CNN: three conv3x3-BN-ReLU-maxpool stages from 32 channels, global average pooling,
a BatchNorm readout without affine parameters; the pre-norm transformer: token and position
embeddings, nn.TransformerEncoderLayer with GELU, final LayerNorm, mean over real tokens), the
two bias-free projections, CLIP's symmetric loss with a learnable clamped logit scale, and
AdamW, on the same batch of images and token windows. Prints one JSON line with the median
seconds of a step after warm-up steps. Run by Debian's python3 (python3-torch)."""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
V, L, B, d, S, E = cfg["vocab"], cfg["length"], cfg["batch"], cfg["dModel"], cfg["imageSize"], cfg["embedDim"]
PAD, CLS, SEP = 0, 2, 3


def stage(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]


class Text(nn.Module):
    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(V, d)
        self.pos = nn.Embedding(L, d)
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, cfg["heads"], 4 * d, 0.1, activation="gelu", batch_first=True, norm_first=True)
            for _ in range(cfg["layers"])
        )
        self.norm = nn.LayerNorm(d)

    def forward(self, ids):
        pad = ids.eq(PAD)
        h = self.drop(self.word(ids) + self.pos(torch.arange(ids.shape[1])))
        for layer in self.layers:
            h = layer(h, src_key_padding_mask=pad)
        h = self.norm(h)
        keep = (~pad).float().unsqueeze(2)
        return (h * keep).sum(1) / keep.sum(1).clamp_min(1)


class Clip(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = nn.Sequential(
            *stage(3, 32), *stage(32, 64), *stage(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.BatchNorm1d(128, affine=False)
        )
        self.text = Text()
        self.image_projection = nn.Linear(128, E, bias=False)
        self.text_projection = nn.Linear(d, E, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor([math.log(1 / 0.07)]))

    def forward(self, x, ids):
        zi = F.normalize(self.image_projection(self.image(x)))
        zt = F.normalize(self.text_projection(self.text(ids)))
        logits = zi @ zt.t() * self.logit_scale.exp().clamp(max=100)
        t = torch.arange(x.shape[0])
        return (F.cross_entropy(logits, t) + F.cross_entropy(logits.t(), t)) / 2


model = Clip()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
real = cfg["realTokens"]
x = torch.randn(B, 3, S, S)
ids = torch.randint(5, V, (B, L))
ids[:, 0] = CLS
ids[:, real - 1] = SEP
ids[:, real:] = PAD
times = []
for step in range(cfg["warmup"] + cfg["steps"]):
    t0 = time.perf_counter()
    opt.zero_grad()
    loss = model(x, ids)
    loss.backward()
    opt.step()
    if step >= cfg["warmup"]:
        times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({"stepSeconds": times[len(times) // 2], "threads": torch.get_num_threads()}))
