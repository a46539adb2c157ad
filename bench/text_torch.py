"""The MLM step of bench/text.ts in PyTorch 1.13: the same pre-norm transformer (token and
position embeddings, nn.TransformerEncoderLayer with GELU, final LayerNorm), BERT's masking
(15%; 80/10/10), the tied output layer, AdamW and gradient clipping, on the same batch and
window length. Prints one JSON line with the median seconds of a step after warm-up steps.
Run by Debian's python3 (python3-torch)."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
V, L, B, d = cfg["vocab"], cfg["length"], cfg["batch"], cfg["dModel"]
PAD, CLS, SEP, MASK = 0, 2, 3, 4


class Mlm(nn.Module):
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
        self.dense = nn.Linear(d, d)
        self.ln = nn.LayerNorm(d)
        self.bias = nn.Parameter(torch.zeros(V))

    def forward(self, ids):
        special = ids.eq(PAD) | ids.eq(CLS) | ids.eq(SEP)
        chosen = (torch.rand(ids.shape) < 0.15) & ~special
        r = torch.rand(ids.shape)
        rnd = torch.randint(0, V, ids.shape)
        ok = ~(rnd.eq(PAD) | rnd.eq(CLS) | rnd.eq(SEP) | rnd.eq(MASK))
        x = torch.where(chosen & (r >= 0.8) & (r < 0.9) & ok, rnd, ids).masked_fill(chosen & (r < 0.8), MASK)
        pad = x.eq(PAD)
        h = self.drop(self.word(x) + self.pos(torch.arange(L)))
        for layer in self.layers:
            h = layer(h, src_key_padding_mask=pad)
        h = self.norm(h)
        t = self.ln(F.gelu(self.dense(h[chosen])))
        return F.cross_entropy(F.linear(t, self.word.weight, self.bias), ids[chosen])


model = Mlm()
opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
real = cfg["realTokens"]
ids = torch.randint(5, V, (B, L))
ids[:, 0] = CLS
ids[:, real - 1] = SEP
ids[:, real:] = PAD
times = []
for step in range(cfg["warmup"] + cfg["steps"]):
    t0 = time.perf_counter()
    opt.zero_grad()
    loss = model(ids)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if step >= cfg["warmup"]:
        times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({"stepSeconds": times[len(times) // 2], "threads": torch.get_num_threads()}))
