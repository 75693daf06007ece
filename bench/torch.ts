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
