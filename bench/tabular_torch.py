"""One pretraining epoch of bench/tabular.ts in PyTorch 1.13, the same model, batch and
optimizer: a feature tokenizer and a Linear-BN-ReLU MLP, cell corruption from the batch's
columns, and the method's head and loss as Pretext's method files define them: SCARF
(SimCLR's projector, NT-Xent), the denoising autoencoder and masked feature modeling (a
reconstruction head, squared error on every cell or on the corrupted ones), VIME (a mask head
with binary cross-entropy plus twice the reconstruction error). The step reads the loss and
the logged figures as Pretext's trainer does. Prints one JSON line with the seconds of one
epoch (after a warm-up epoch). Run by Debian's python3 (python3-torch)."""
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
method = cfg.get("method", "scarf")
if cards:
    raise SystemExit("the reconstruction heads here are written for continuous columns only")
tok = Tokenizer()
mlp = nn.Sequential(*layers)
f = c + len(cards)
if method == "scarf":
    heads = [nn.Sequential(nn.Linear(width, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 128))]
else:
    heads = [nn.Sequential(nn.Linear(width, 256), nn.ReLU(), nn.Linear(256, c))]
    if method == "vime":
        heads.append(nn.Sequential(nn.Linear(width, 256), nn.ReLU(), nn.Linear(256, f)))
params = list(tok.parameters()) + list(mlp.parameters()) + [p for h in heads for p in h.parameters()]
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-5)
rate = {"scarf": 0.6, "dae": 0.15, "mfm": 0.3, "vime": 0.3}[method]

n = cfg["rows"]
x = torch.randn(n, c + len(cards))
for j, k in enumerate(cards):
    x[:, c + j] = torch.randint(0, k, (n,)).float()


def corrupt(x, rate):
    b, f = x.shape
    mask = torch.rand(b, f) < rate
    donors = torch.randint(0, b, (b, f))
    return torch.where(mask, x.gather(0, donors), x), mask.float()


def encode(v):
    return mlp(tok(v).flatten(1))


def mse(pred, target, weight=None):
    per_cell = (pred - target).square()
    if weight is None:
        return per_cell.mean()
    return (per_cell * weight).sum() / weight.sum().clamp_min(1)


def step_loss(xb):
    """The method's loss on a batch, and the figures Pretext's step logs (read as numbers)."""
    if method == "scarf":
        return nt_xent(heads[0](encode(xb)), heads[0](encode(corrupt(xb, rate)[0])), 1.0)
    corrupted, mask = corrupt(xb, rate)
    h = encode(corrupted)
    rec = mse(heads[0](h), xb, mask if method == "mfm" else None)
    rec.item()
    if method != "vime":
        return rec
    logits = heads[1](h)
    with torch.no_grad():
        ((logits > 0).float() == mask).float().mean().item()
    return F.binary_cross_entropy_with_logits(logits, mask) + 2 * rec


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
        loss = step_loss(xb)
        if not math.isfinite(loss.item()):
            continue
        loss.backward()
        opt.step()


epoch()
t0 = time.perf_counter()
epoch()
print(json.dumps({"epochSeconds": time.perf_counter() - t0}), flush=True)
