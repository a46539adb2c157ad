"""The SCARF epoch of bench/tabular.ts in PyTorch 1.13, the same model, batch and optimizer:
a feature tokenizer, a Linear-BN-ReLU MLP, SimCLR's projector, cell corruption from the
batch's columns and NT-Xent. Prints one JSON line with the seconds of one epoch (after a
warm-up epoch). Run by Debian's python3 (python3-torch)."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
c, cards, d = cfg["continuous"], cfg["cardinalities"], cfg["tokenDim"]


class Tokenizer(nn.Module):
    def __init__(self):
        super().__init__()
        b = 1 / d**0.5
        self.num_weight = nn.Parameter(torch.empty(c, d).uniform_(-b, b))
        self.num_bias = nn.Parameter(torch.empty(c, d).uniform_(-b, b))
        self.cat_embed = nn.Embedding(sum(cards), d)
        self.cat_bias = nn.Parameter(torch.empty(len(cards), d).uniform_(-b, b))
        starts = [sum(cards[:i]) for i in range(len(cards))]
        self.register_buffer("offsets", torch.tensor(starts), persistent=False)

    def forward(self, x):
        num = x[:, :c].unsqueeze(2) * self.num_weight + self.num_bias
        if not cards:
            return num
        cat = self.cat_embed(x[:, c:].long() + self.offsets) + self.cat_bias
        return torch.cat([num, cat], 1)


hidden = cfg["hidden"]
layers, width = [], (c + len(cards)) * d
for h in hidden:
    layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(0.0)]
    width = h
tok = Tokenizer()
mlp = nn.Sequential(*layers)
proj = nn.Sequential(nn.Linear(width, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 128))
params = list(tok.parameters()) + list(mlp.parameters()) + list(proj.parameters())
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-5)

n = cfg["rows"]
x = torch.randn(n, c + len(cards))
for j, k in enumerate(cards):
    x[:, c + j] = torch.randint(0, k, (n,)).float()


def corrupt(x, rate):
    b, f = x.shape
    mask = torch.rand(b, f) < rate
    donors = torch.randint(0, b, (b, f))
    return torch.where(mask, x.gather(0, donors), x)


def nt_xent(z1, z2, t):
    z = F.normalize(torch.cat([z1, z2]))
    m = z.shape[0]
    logits = (z @ z.t() / t).masked_fill(torch.eye(m, dtype=torch.bool), float("-inf"))
    b = z1.shape[0]
    idx = torch.arange(b)
    return F.cross_entropy(logits, torch.cat([idx + b, idx]))


def epoch():
    bs = cfg["batchSize"]
    order = torch.randperm(n)
    for s in range(n // bs):
        xb = x[order[s * bs : (s + 1) * bs]]
        opt.zero_grad()
        enc = lambda v: proj(mlp(tok(v).flatten(1)))
        loss = nt_xent(enc(xb), enc(corrupt(xb, 0.6)), 1.0)
        loss.backward()
        opt.step()


epoch()
t0 = time.perf_counter()
epoch()
print(json.dumps({"epochSeconds": time.perf_counter() - t0}), flush=True)
