"""Export trained weights to ONNX for lpr.recognizers.plate_model.

    .venv/bin/python -m training.export_onnx training/runs/r1/best.pt \
        --metrics training/runs/r1/metrics.json

Writes ``lpr/models/plate_rec.onnx`` and ``plate_rec.json`` (charset, input size, MD5 of the
ONNX file, and the training run's summary) and checks that onnxruntime gives the same logits
as torch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from lpr.recognizers.plate_model import CHARSET, DEFAULT_MODEL, INPUT_H, INPUT_W, file_md5
from training.model import CRNN


def export(
    weights: Path, out: Path, metrics: Path | None, temperature: float = 1.0
) -> dict[str, object]:
    ckpt = torch.load(weights, map_location="cpu")
    config = ckpt["config"]
    model = CRNN(len(CHARSET), tuple(config["channels"]), int(config["hidden"]))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    dummy = torch.randn(2, 1, INPUT_H, INPUT_W)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (dummy,),
        str(out),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 1, INPUT_H, INPUT_W)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = sess.run(None, {"image": x})[0]
    diff = float(np.abs(ref - got).max())
    if diff > 1e-3:
        raise SystemExit(f"ONNX output differs from torch by {diff}")
    info: dict[str, object] = {
        "charset": CHARSET,
        "input_h": INPUT_H,
        "input_w": INPUT_W,
        "md5": file_md5(out),
        "temperature": temperature,
        "bytes": out.stat().st_size,
        "architecture": f"CRNN conv {config['channels']} BiLSTM {config['hidden']} CTC",
        "trained_on": "synthetic line crops only (training/synth_lines.py)",
    }
    if metrics is not None and metrics.is_file():
        m = json.loads(metrics.read_text())
        info["training"] = {
            k: m.get(k) for k in ("args", "params", "best_val_line_acc", "steps_done", "minutes")
        }
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("weights", type=Path)
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--metrics", type=Path, default=None)
    ap.add_argument(
        "--temperature", type=float, default=1.0, help="softmax temperature the reader applies"
    )
    args = ap.parse_args()
    info = export(args.weights, args.out, args.metrics, args.temperature)
    print(f"wrote {args.out} ({info['bytes']} bytes, md5 {info['md5']})")


if __name__ == "__main__":
    main()
