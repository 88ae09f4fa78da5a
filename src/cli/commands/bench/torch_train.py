"""PyTorch eager peer of `ds bench train --compare-torch`: the same Llama decoder (RMSNorm, RoPE,
SwiGLU, causal attention, untied head), batch and AdamW, on random tokens, on `threads` CPU threads.
argv[1]: JSON {vocab, hidden, inter, layers, heads, kv_heads, seq, batch, lr, steps, warmup, threads}.
Prints one JSON line: step_ms, tokens_per_s, sgemm_gflops (a 1024^3 float32 matmul), versions."""
import json, math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
torch.manual_seed(1)
D, H, Hkv, L, Fi, V, T, B = a["hidden"], a["heads"], a["kv_heads"], a["layers"], a["inter"], a["vocab"], a["seq"], a["batch"]
Dh = D // H


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


def rope_tables():
    inv = 1.0 / (10000 ** (torch.arange(0, Dh, 2).float() / Dh))
    ang = torch.outer(torch.arange(T).float(), inv)  # [T, Dh/2]
    emb = torch.cat([ang, ang], -1)  # [T, Dh]
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., : Dh // 2], x[..., Dh // 2:]
    return torch.cat([-x2, x1], -1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(D), RMSNorm(D)
        self.q = nn.Linear(D, H * Dh, bias=False)
        self.k = nn.Linear(D, Hkv * Dh, bias=False)
        self.v = nn.Linear(D, Hkv * Dh, bias=False)
        self.o = nn.Linear(H * Dh, D, bias=False)
        self.gate = nn.Linear(D, Fi, bias=False)
        self.up = nn.Linear(D, Fi, bias=False)
        self.down = nn.Linear(Fi, D, bias=False)

    def forward(self, x, cos, sin, mask):
        h = self.n1(x)
        q = self.q(h).view(B, T, H, Dh).transpose(1, 2)  # [B, H, T, Dh]
        k = self.k(h).view(B, T, Hkv, Dh).transpose(1, 2)
        v = self.v(h).view(B, T, Hkv, Dh).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if Hkv != H:
            k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(Dh) + mask  # [B, H, T, T]
        att = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * Dh)
        x = x + self.o(att)
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm(D)
        self.head = nn.Linear(D, V, bias=False)
        cos, sin = rope_tables()
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        self.register_buffer("mask", torch.full((T, T), float("-inf")).triu(1))

    def forward(self, ids):
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x, self.cos, self.sin, self.mask)
        return self.head(self.norm(x))


model = Llama()
opt = torch.optim.AdamW(model.parameters(), lr=a["lr"])


def step():
    ids = torch.randint(0, V, (B, T + 1))
    logits = model(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(a["warmup"]):
    step()
t0 = time.perf_counter()
for _ in range(a["steps"]):
    loss = step()
step_ms = (time.perf_counter() - t0) * 1000 / a["steps"]

x, y = torch.randn(1024, 1024), torch.randn(1024, 1024)
for _ in range(2):
    x @ y
times = []
for _ in range(5):
    t = time.perf_counter()
    x @ y
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({
    "step_ms": step_ms,
    "tokens_per_s": B * T / (step_ms / 1000),
    "final_loss": loss,
    "params": sum(p.numel() for p in model.parameters()),
    "sgemm_gflops": 2 * 1024 ** 3 / times[2] / 1e9,
    "threads": torch.get_num_threads(),
    "torch": torch.__version__,
}))
