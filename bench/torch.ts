/**
 * The PyTorch reference of the training benchmarks (bench/train.ts, bench/train-to-hr.ts): which
 * python can import it, and the seeds' model in PyTorch, defined once for both.
 */
import { execFileSync } from "node:child_process";

/** The pyenv/venv python3 first, then Debian's (python3-torch installs for /usr/bin/python3). */
export function findTorchPython(imports = "torch"): string | undefined {
  return ["python3", "/usr/bin/python3"].find((python) => {
    try {
      execFileSync(python, ["-c", `import ${imports}`], { stdio: "ignore", timeout: 60_000 });
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Embedding(32) → Dropout 0.3 → LSTM(32) → Linear(vocab), the same layers as the tfjs model;
 * the script must have imported torch and set `vocab`.
 */
export const TORCH_LSTM = String.raw`
class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, 32, padding_idx=0)
        self.dropout = torch.nn.Dropout(0.3)
        self.lstm = torch.nn.LSTM(32, 32, batch_first=True)
        self.out = torch.nn.Linear(32, vocab)
    def forward(self, x):
        # Left-padded, so the last step is the last item; padding steps read the zero padding
        # embedding (tfjs masks them instead: a small difference in what the state starts from).
        h, _ = self.lstm(self.dropout(self.embedding(x)))
        return self.out(h[:, -1, :])
`;

/**
 * The two models of bench/train-to-hr.ts in PyTorch, trained on the sessions it exports until a
 * validation HR@20 (argv: folder, recipe|default, vocab, max epochs, target, validation
 * prefixes). Prints one JSON line: the validation HR@20 and training seconds per epoch.
 */
export const TORCH_MODELS = String.raw`
import json, os, sys, time
import numpy as np
import torch
folder, variant, vocab, max_epochs, target, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(os.cpu_count() or 1)
torch.manual_seed(42)
MAX_LEN, BATCH = 20, 256

def sessions(name):
    w = np.fromfile(f"{folder}/{name}", dtype=np.int32)
    n = int(w[0]); offsets = w[1:n + 2]; ids = w[n + 2:]
    return [ids[offsets[s]:offsets[s + 1]].astype(np.int64) for s in range(n)]
train, valid = sessions("train.bin"), sessions("valid.bin")
counts = torch.from_numpy(np.fromfile(f"{folder}/counts.bin", dtype=np.float64)).float()

# Validation: every prefix of the first sessions (up to the limit) whose target is known.
vx, vy, vlast, seen = [], [], [], 0
for s in valid:
    if seen >= limit: break
    for t in range(1, len(s)):
        seen += 1
        if s[t] < 2: continue
        p = s[max(0, t - MAX_LEN):t]
        row = np.zeros(MAX_LEN, dtype=np.int64); row[MAX_LEN - len(p):] = p
        vx.append(row); vy.append(s[t]); vlast.append(p[-1])
vx, vy, vlast = torch.tensor(np.array(vx)), torch.tensor(vy), torch.tensor(vlast)

if variant == "recipe":
${TORCH_LSTM.replace(/^/gm, "    ")}
    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = [], []
    for s in train:
        for t in range(1, len(s)):
            if s[t] < 2: continue
            p = s[max(0, t - MAX_LEN):t]
            row = np.zeros(MAX_LEN, dtype=np.int64); row[MAX_LEN - len(p):] = p
            xs.append(row); ys.append(s[t])
    tx, ty = torch.tensor(np.array(xs)), torch.tensor(ys)
    loss_fn = torch.nn.CrossEntropyLoss()
    def epoch():
        model.train()
        for i in torch.randperm(len(tx)).split(BATCH):
            opt.zero_grad(); loss_fn(model(tx[i]), ty[i]).backward(); opt.step()
    def scores(x):
        return model(x)
else:
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, 64)
            torch.nn.init.uniform_(self.emb.weight, -0.05, 0.05)
            self.gru = torch.nn.GRU(64, 64, batch_first=True)
            self.drop = torch.nn.Dropout(0.2)
            total = counts.sum()
            floor = torch.log(torch.tensor(0.5) / total)
            self.bias = torch.nn.Parameter(torch.where(counts > 0, torch.log(counts.clamp(min=1) / total), floor))
        def states(self, x):
            return self.gru(self.drop(self.emb(x)))[0]
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    q = counts.clamp(min=1) ** 0.5; q[:2] = 0; q = q / q.sum(); logq = torch.log(q.clamp(min=1e-30))
    BATCH = 512
    windows = []
    for s in train:
        for start in range(0, len(s) - 1, MAX_LEN):
            w = s[start:start + MAX_LEN + 1]
            if len(w) >= 2: windows.append(w)
    def epoch():
        model.train()
        order = torch.randperm(len(windows)).tolist()
        for c in range(0, len(order), BATCH * 50):
            chunk = sorted(order[c:c + BATCH * 50], key=lambda i: len(windows[i]))
            groups, cur, n = [], [], 0
            for i in chunk:
                cur.append(i); n += len(windows[i]) - 1
                if n >= BATCH: groups.append(cur); cur, n = [], 0
            if cur: groups.append(cur)
            for g in [groups[i] for i in torch.randperm(len(groups)).tolist()]:
                T = max(len(windows[i]) for i in g) - 1
                x = torch.zeros(len(g), T, dtype=torch.long); y = torch.zeros(len(g), T, dtype=torch.long)
                for r, i in enumerate(g):
                    w = torch.from_numpy(windows[i]); x[r, :len(w) - 1] = w[:-1]; y[r, :len(w) - 1] = w[1:]
                mask = y > 1
                h, t = model.states(x)[mask], y[mask]
                uniq, labels = torch.unique(t, return_inverse=True)
                neg = torch.multinomial(q, 1024, replacement=True)
                neg = neg[~torch.isin(neg, uniq)].unique()
                cand = torch.cat([uniq, neg])
                logits = h @ model.emb.weight[cand].t() + model.bias[cand] - logq[cand]
                opt.zero_grad(); torch.nn.functional.cross_entropy(logits, labels).backward(); opt.step()
    def scores(x):
        # Right-align is not needed: read the state after the last real item of each left-padded row.
        lengths = (x > 0).sum(1)
        packed = torch.stack([torch.cat([r[r > 0], r[r == 0]]) for r in x])
        h = model.states(packed)[torch.arange(len(x)), lengths - 1]
        return h @ model.emb.weight.t() + model.bias

history, spent = [], 0.0
for e in range(max_epochs):
    t0 = time.perf_counter(); epoch(); spent_epoch = time.perf_counter() - t0
    model.eval(); hits = 0
    with torch.no_grad():
        for i in torch.arange(len(vx)).split(1024):
            s = scores(vx[i]); s[:, :2] = -1e9
            s.scatter_(1, vlast[i].unsqueeze(1), -1e9)
            hits += (s.topk(20, 1).indices == vy[i].unsqueeze(1)).any(1).sum().item()
    hr = hits / len(vx)
    history.append({"hr20": hr, "seconds": spent_epoch})
    if hr >= target: break
print(json.dumps({"history": history, "threads": torch.get_num_threads(), "version": torch.__version__}))
`;
