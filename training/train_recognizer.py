"""Train the plate line recognizer on synthetic line crops only (CTC, CPU).

    nice -n 5 .venv/bin/python -m training.train_recognizer --out training/runs/r1 --steps 3000

Reproducible: the seed fixes the weights' initialization, the training stream (generated in
one data-loader worker from ``seed``) and the synthetic validation set. Writes ``best.pt``
(by exact-line accuracy on the synthetic validation set), ``last.pt`` and ``metrics.json``.
Export with ``training/export_onnx.py``. The real plate images are never read here.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from lpr.recognizers.plate_model import CHARSET, INPUT_H, INPUT_W, greedy_decode, prepare_line
from training.model import CRNN
from training.synth_lines import make_samples

CHAR_INDEX = {c: i for i, c in enumerate(CHARSET)}


def encode(text: str) -> list[int]:
    return [CHAR_INDEX[c] for c in text]


class SyntheticLines(IterableDataset):
    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[np.ndarray, str]]:
        info = get_worker_info()
        wid = info.id if info is not None else 0
        cv2.setNumThreads(1)
        rng = np.random.default_rng([self.seed, wid])
        while True:
            for img, text in make_samples(rng):
                yield prepare_line(img, INPUT_H, INPUT_W), text


def collate(
    batch: list[tuple[np.ndarray, str]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    x = torch.from_numpy(np.stack([b[0] for b in batch])[:, None])
    texts = [b[1] for b in batch]
    targets = torch.tensor([i for t in texts for i in encode(t)], dtype=torch.long)
    lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
    return x, targets, lengths, texts


def make_val(seed: int, n: int) -> tuple[torch.Tensor, list[str]]:
    rng = np.random.default_rng([seed, 1_000_003])
    samples: list[tuple[np.ndarray, str]] = []
    while len(samples) < n:
        samples.extend(make_samples(rng))
    x = torch.from_numpy(np.stack([prepare_line(s[0]) for s in samples])[:, None])
    return x, [s[1] for s in samples]


@torch.no_grad()
def evaluate(model: CRNN, x: torch.Tensor, texts: list[str]) -> float:
    model.eval()
    ok = 0
    for i in range(0, len(texts), 256):
        probs = model(x[i : i + 256]).softmax(-1).numpy()
        ok += sum(
            greedy_decode(p, CHARSET) == t for p, t in zip(probs, texts[i : i + 256], strict=True)
        )
    model.train()
    return ok / len(texts)


@dataclass(frozen=True)
class Schedule:
    """Linear warm-up to ``lr``, then a cosine down to 2% of it, ending at ``steps`` or after
    ``minutes`` of training (whichever comes first; 0 minutes: no time budget)."""

    lr: float
    steps: int
    warm: int
    minutes: float = 0.0

    def progress(self, step: int, elapsed_s: float) -> float:
        p = (step - self.warm) / max(1, self.steps - self.warm)
        if self.minutes:
            p = max(p, elapsed_s / (self.minutes * 60))
        return min(1.0, p)

    def lr_at(self, step: int, elapsed_s: float) -> float:
        if step < self.warm:
            return self.lr * (step + 1) / self.warm
        cosine = 0.5 * (1 + math.cos(math.pi * self.progress(step, elapsed_s)))
        return self.lr * (0.02 + 0.98 * cosine)

    def done(self, step: int, elapsed_s: float) -> bool:
        return step >= self.steps or (step > self.warm and self.progress(step, elapsed_s) >= 1.0)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--val", type=int, default=1000)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help="time budget: the cosine schedule ends at whichever of --steps/--minutes comes first",
    )
    ap.add_argument(
        "--channels", default="16,32,64,96,128", help="conv widths (5, comma-separated)"
    )
    ap.add_argument("--hidden", type=int, default=64, help="BiLSTM hidden size")
    ap.add_argument("--init", type=Path, default=None, help="start from these weights (fine-tune)")
    return ap.parse_args()


def train_step(
    model: CRNN,
    opt: torch.optim.Optimizer,
    ctc: torch.nn.CTCLoss,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> float:
    """One optimiser step on a batch (CTC loss, gradients clipped at 5); the loss."""
    x, targets, lengths = batch
    logits = model(x)  # (N, T, C)
    logp = logits.log_softmax(-1).permute(1, 0, 2)  # (T, N, C)
    in_len = torch.full((x.shape[0],), logp.shape[0], dtype=torch.long)
    loss = ctc(logp, targets, in_len, lengths)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return float(loss.item())


def save(model: CRNN, config: dict[str, object], path: Path) -> None:
    torch.save({"state_dict": model.state_dict(), "config": config}, path)


def checkpoint(
    model: CRNN,
    config: dict[str, object],
    out: Path,
    metrics: dict[str, object],
    row: dict[str, float],
    best: float,
) -> float:
    """Print and record an evaluation, save last.pt (and best.pt when no worse); the best."""
    history: list[dict[str, float]] = metrics["history"]  # type: ignore[assignment]
    history.append(row)
    print(json.dumps(row), flush=True)
    save(model, config, out / "last.pt")
    if row["val_line_acc"] >= best:
        best = row["val_line_acc"]
        save(model, config, out / "best.pt")
    metrics.update(best_val_line_acc=best, steps_done=row["step"], minutes=row["minutes"])
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return best


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    config: dict[str, object] = {
        "channels": [int(c) for c in args.channels.split(",")],
        "hidden": args.hidden,
    }
    model = CRNN(len(CHARSET), tuple(int(c) for c in args.channels.split(",")), args.hidden)
    if args.init is not None:
        model.load_state_dict(torch.load(args.init, map_location="cpu")["state_dict"])
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = Schedule(args.lr, args.steps, min(200, args.steps // 10), args.minutes)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    val_x, val_t = make_val(args.seed, args.val)
    t0 = time.time()
    wait = 0.0
    t_fetch = time.time()
    loader = DataLoader(
        SyntheticLines(args.seed),
        batch_size=args.batch,
        num_workers=args.workers,
        collate_fn=collate,
    )
    metrics: dict[str, object] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "params": n_params,
        "config": config,
        "charset": CHARSET,
        "history": [],
    }
    best = -1.0
    losses: list[float] = []
    step = 0
    for step, (x, targets, lengths, _) in enumerate(loader, start=1):
        wait += time.time() - t_fetch
        for g in opt.param_groups:
            g["lr"] = schedule.lr_at(step - 1, time.time() - t0)
        losses.append(train_step(model, opt, ctc, (x, targets, lengths)))
        done = schedule.done(step, time.time() - t0)
        if step % args.eval_every == 0 or done:
            row = {
                "step": step,
                "loss": float(np.mean(losses[-args.eval_every :])),
                "val_line_acc": evaluate(model, val_x, val_t),
                "lr": schedule.lr_at(step - 1, time.time() - t0),
                "minutes": (time.time() - t0) / 60,
                "data_wait_minutes": wait / 60,
            }
            best = checkpoint(model, config, args.out, metrics, row, best)
        if done:
            break
        t_fetch = time.time()
    print(f"done: {step} steps, best synthetic val line accuracy {best:.4f}", flush=True)


if __name__ == "__main__":
    main()
