"""Turn an exported ``plate_rec.onnx`` back into a training checkpoint (to fine-tune from it).

    .venv/bin/python -m training.onnx_to_pt lpr/models/plate_rec.onnx training/runs/r0/init.pt

``training/runs/`` is not committed, so the committed weights are the only copy of a finished
run. The ONNX export folds each BatchNorm into its convolution; here the folded convolution
becomes the (bias-free) conv and the BatchNorm is set so that it reproduces the folded bias in
eval mode *and* in train mode: its running mean/variance (and the matching gamma/beta) are the
statistics of the conv outputs on a batch of synthetic lines. The LSTM gates are reordered from
ONNX (i, o, f, c) to torch (i, f, g, o). The result is checked against onnxruntime.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lpr.recognizers.plate_model import CHARSET
from training.model import CRNN


def _lstm_gates(a: np.ndarray) -> np.ndarray:
    i, o, f, c = np.split(a, 4, axis=0)
    return np.concatenate([i, f, c, o], axis=0)


def _batch_norm(model: CRNN, index: int) -> torch.nn.BatchNorm2d:
    """The BatchNorm at ``model.cnn[index]`` (each convolution is followed by one)."""
    layer = model.cnn[index]
    assert isinstance(layer, torch.nn.BatchNorm2d)
    return layer


def calibrate_batch_norms(model: CRNN, conv_idx: list[int], x: torch.Tensor) -> None:
    """Set each convolution's BatchNorm so that, on ``x``, train-mode batch statistics give
    what the ONNX model computes (the norm passes the convolution's output through)."""
    stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(k: int) -> Callable[[torch.nn.Module, tuple[Any, ...], torch.Tensor], None]:
        def f(_m: torch.nn.Module, _inp: tuple[Any, ...], out: torch.Tensor) -> None:
            stats[k] = (out.mean(dim=(0, 2, 3)), out.var(dim=(0, 2, 3), unbiased=False))

        return f

    handles = [model.cnn[k].register_forward_hook(hook(k)) for k in conv_idx]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    for k in conv_idx:
        mu, var = stats[k]
        norm = _batch_norm(model, k + 1)
        assert norm.running_mean is not None and norm.running_var is not None
        with torch.no_grad():
            norm.running_mean.copy_(mu)
            norm.running_var.copy_(var)
            norm.bias.copy_(norm.bias + mu)
            norm.weight.copy_(torch.sqrt(var + norm.eps))


def convert(onnx_path: Path, calib: int = 256, seed: int = 0) -> tuple[dict, dict]:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    lstm = next(n for n in graph.node if n.op_type == "LSTM")
    matmul = next(n for n in graph.node if n.op_type == "MatMul")
    conv_w = [inits[n.input[1]] for n in convs]
    conv_b = [inits[n.input[2]] for n in convs]
    channels = tuple(int(w.shape[0]) for w in conv_w)
    w_ih, w_hh, bias = (inits[lstm.input[k]] for k in (1, 2, 3))
    hidden = int(w_hh.shape[-1])
    config = {"channels": list(channels), "hidden": hidden}
    model = CRNN(len(CHARSET), channels, hidden)
    sd = model.state_dict()
    conv_idx = [i for i, m in enumerate(model.cnn) if isinstance(m, torch.nn.Conv2d)]
    for k, (w, b) in zip(conv_idx, zip(conv_w, conv_b, strict=True), strict=True):
        sd[f"cnn.{k}.weight"] = torch.from_numpy(w.copy())
        bn = f"cnn.{k + 1}"
        sd[f"{bn}.weight"] = torch.ones(len(b))
        sd[f"{bn}.bias"] = torch.from_numpy(b.copy())
        sd[f"{bn}.running_mean"] = torch.zeros(len(b))
        sd[f"{bn}.running_var"] = torch.full((len(b),), 1.0 - _batch_norm(model, k + 1).eps)
    for d, suffix in ((0, ""), (1, "_reverse")):
        sd[f"rnn.weight_ih_l0{suffix}"] = torch.from_numpy(_lstm_gates(w_ih[d]))
        sd[f"rnn.weight_hh_l0{suffix}"] = torch.from_numpy(_lstm_gates(w_hh[d]))
        wb, rb = np.split(bias[d], 2)
        sd[f"rnn.bias_ih_l0{suffix}"] = torch.from_numpy(_lstm_gates(wb))
        sd[f"rnn.bias_hh_l0{suffix}"] = torch.from_numpy(_lstm_gates(rb))
    sd["fc.weight"] = torch.from_numpy(inits[matmul.input[1]].T.copy())
    sd["fc.bias"] = torch.from_numpy(inits["fc.bias"].copy())
    model.load_state_dict(sd)
    model.eval()

    # Calibrate the BatchNorms on synthetic lines (train-mode batch statistics then match).
    from training.train_recognizer import make_val

    x, _ = make_val(seed, calib)
    calibrate_batch_norms(model, conv_idx, x)
    return {"state_dict": model.state_dict(), "config": config}, {"x": x[:8]}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("onnx", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ckpt, probe = convert(args.onnx)
    model = CRNN(len(CHARSET), tuple(ckpt["config"]["channels"]), ckpt["config"]["hidden"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    import onnxruntime as ort

    sess = ort.InferenceSession(str(args.onnx), providers=["CPUExecutionProvider"])
    x = probe["x"]
    with torch.no_grad():
        ref = model(x).numpy()
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    diff = float(np.abs(ref - got).max())
    if diff > 1e-3:
        raise SystemExit(f"converted model differs from ONNX by {diff}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, args.out)
    print(f"wrote {args.out} (config {ckpt['config']}, max |diff| vs ONNX {diff:.2e})")


if __name__ == "__main__":
    main()
