"""The CoLES step of bench/sequences.ts in PyTorch 1.13: the same event encoder (an embedding
per categorical field, numeric channels beside them, nn.GRU, the state after each history's
last event), two random contiguous stretches per history, NT-Xent at temperature 0.1 and
Adam, on the same batch. Prints one JSON line with the median seconds of a step after
warm-up steps. Run by Debian's python3 (python3-torch)."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
B, L, K, E, H = cfg["batch"], cfg["length"], cfg["levels"], cfg["embedDim"], cfg["hidden"]
C = 1 + 2 + 3  # one categorical field, one numeric field (value, present), gap, time to end, valid


class EventGru(nn.Module):
    def __init__(self):
        super().__init__()
        self.field = nn.Embedding(K + 2, E, padding_idx=0)
        self.gru = nn.GRU(E + 4, H, batch_first=True)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        h = self.drop(torch.cat([self.field(x[:, :, 0].long()), x[:, :, 1 : C - 1]], 2))
        out, _ = self.gru(h)
        last = x[:, :, C - 1].sum(1).clamp(min=1).long() - 1
        return out.gather(1, last.view(-1, 1, 1).expand(x.size(0), 1, H)).squeeze(1)


def crop(x, lo=0.3, hi=0.8, min_events=4):
    b, l, c = x.shape
    n = x[:, :, c - 1].sum(1).clamp(min=1)
    share = torch.rand(b) * (hi - lo) + lo
    k = torch.maximum((n * share).floor(), n.clamp(max=min_events)).clamp(min=1)
    start = torch.minimum((torch.rand(b) * (n - k + 1)).floor(), n - k)
    w = max(1, min(l, int(k.max().item())))
    j = torch.arange(w, dtype=torch.float32).unsqueeze(0)
    idx = (start.unsqueeze(1) + j).clamp(max=l - 1)
    inside = (j < k.unsqueeze(1)).float().unsqueeze(2)
    return x.gather(1, idx.long().unsqueeze(2).expand(b, w, c)) * inside


def nt_xent(a, b, t=0.1):
    z = F.normalize(torch.cat([a, b]))
    logits = (z @ z.t() / t).masked_fill(torch.eye(2 * B, dtype=torch.bool), float("-inf"))
    idx = torch.arange(B)
    return F.cross_entropy(logits, torch.cat([idx + B, idx]))


lengths = torch.tensor([min(L, 1 + (i * 37) % cfg["maxEvents"]) for i in range(B)])
valid = (torch.arange(L).unsqueeze(0) < lengths.unsqueeze(1)).float()
x = torch.cat([torch.randint(2, K + 2, (B, L, 1)).float(), torch.randn(B, L, 1), torch.ones(B, L, 1), torch.randn(B, L, 2)], 2)
x = torch.cat([x * valid.unsqueeze(2), valid.unsqueeze(2)], 2)
model = EventGru()
opt = torch.optim.Adam(model.parameters(), lr=0.002)
times = []
for step in range(cfg["warmup"] + cfg["steps"]):
    t0 = time.perf_counter()
    opt.zero_grad()
    loss = nt_xent(model(crop(x)), model(crop(x)))
    loss.backward()
    opt.step()
    if step >= cfg["warmup"]:
        times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({"stepSeconds": times[len(times) // 2], "threads": torch.get_num_threads()}))
