"""Rewrite PP-OCR's hard-swish activations so ONNX Runtime runs the recognizer faster.

Paddle2ONNX writes each hard-swish as four nodes, ``x * clip(x + 3, 0, 6) / 6``; ONNX Runtime
runs them one by one over the whole feature map (an Add, a Clip, a Mul and a Div, about a third
of the model's time). ``x * HardSigmoid(x)`` with alpha = 1/6, beta = 1/2 is the same function in
two nodes (HardSigmoid has been in ONNX since opset 6, so the model's opset stays as it is).
Nothing else changes: the weights, the metadata (the character list) and every other node.

    .venv/bin/python -m training.fuse_hardswish ORIGINAL.onnx lpr/models/ppocr_v4_rec.onnx

reads the model as RapidOCR ships it (``ch_PP-OCRv4_rec_infer.onnx`` in the
rapidocr-onnxruntime 1.4.4 wheel), writes the rewritten one, checks with ONNX Runtime that both
give the same probabilities on random lines, and updates the MD5 in the JSON beside the output.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _scalars(graph: onnx.GraphProto) -> dict[str, float]:
    """Names of one-element constants (Constant nodes and initializers) -> their value."""
    out: dict[str, float] = {}
    arrays = [(i.name, numpy_helper.to_array(i)) for i in graph.initializer]
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].type == 4:
            arrays.append((node.output[0], numpy_helper.to_array(node.attribute[0].t)))
    for name, value in arrays:
        if np.asarray(value).size == 1:
            out[name] = float(np.asarray(value).reshape(-1)[0])
    return out


def _only(consumers: dict[str, list[onnx.NodeProto]], name: str, op: str) -> onnx.NodeProto | None:
    """The one node that reads ``name``, if there is exactly one and it is an ``op``."""
    after = consumers[name]
    return after[0] if len(after) == 1 and after[0].op_type == op else None


def _hardswish_at(
    clip: onnx.NodeProto,
    producer: dict[str, onnx.NodeProto],
    consumers: dict[str, list[onnx.NodeProto]],
    scalar: dict[str, float],
) -> tuple[str, list[onnx.NodeProto]] | None:
    """(x, [add, clip, mul, div]) when ``clip`` is the middle of x * clip(x + 3, 0, 6) / 6."""
    add = producer.get(clip.input[0])
    if add is None or add.op_type != "Add" or len(clip.input) != 3:
        return None
    variables = [i for i in add.input if i not in scalar]
    x = variables[0] if len(variables) == 1 else ""
    mul = _only(consumers, clip.output[0], "Mul")
    div = _only(consumers, mul.output[0], "Div") if mul is not None else None
    if (
        not x
        or [scalar[i] for i in add.input if i in scalar] != [3.0]
        or (scalar.get(clip.input[1]), scalar.get(clip.input[2])) != (0.0, 6.0)
        or len(consumers[add.output[0]]) != 1
        or mul is None
        or sorted(mul.input) != sorted([x, clip.output[0]])
        or div is None
        or div.input[0] != mul.output[0]
        or scalar.get(div.input[1]) != 6.0
    ):
        return None
    return x, [add, clip, mul, div]


def fuse(model: onnx.ModelProto) -> int:
    """Rewrite every hard-swish of ``model`` in place; returns how many."""
    graph = model.graph
    scalar = _scalars(graph)
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    replace: dict[int, list[onnx.NodeProto]] = {}
    drop: set[int] = set()
    for clip in (n for n in graph.node if n.op_type == "Clip"):
        found = _hardswish_at(clip, producer, consumers, scalar)
        if found is None:
            continue
        x, (add, _, mul, div) = found
        gate = f"{div.output[0]}/hard_sigmoid"
        replace[id(div)] = [
            helper.make_node("HardSigmoid", [x], [gate], name=gate, alpha=1 / 6, beta=0.5),
            helper.make_node("Mul", [x, gate], [div.output[0]], name=f"{div.output[0]}/mul"),
        ]
        drop.update(id(n) for n in (add, clip, mul))
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        if id(node) in drop:
            continue
        nodes.extend(replace.get(id(node), [node]))
    used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
    # The rewritten hard-swishes leave their constants (3, 0, 6, 6) unused: drop them.
    nodes = [n for n in nodes if n.op_type != "Constant" or any(o in used for o in n.output)]
    kept = [i for i in graph.initializer if i.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return len(replace)


def max_difference(a: Path, b: Path, lines: int = 8, seed: int = 0) -> float:
    """Largest difference between the two models' outputs on random 48 px lines."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    worst = 0.0
    sessions: list[Any] = [
        ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (a, b)
    ]
    name = sessions[0].get_inputs()[0].name
    for width in (224, 320)[: max(1, lines // 4)]:
        for _ in range(4):
            x = rng.uniform(-1, 1, (1, 3, 48, width)).astype(np.float32)
            outs = [s.run(None, {name: x})[0] for s in sessions]
            worst = max(worst, float(np.abs(outs[0] - outs[1]).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("original", type=Path, help="the PP-OCR recognizer as RapidOCR ships it")
    ap.add_argument("out", type=Path, help="where to write the rewritten model")
    args = ap.parse_args(argv)
    model = onnx.load(str(args.original))
    n = fuse(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(args.out))
    diff = max_difference(args.original, args.out)
    print(f"{n} hard-swish rewritten; largest output difference {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit("the rewritten model does not compute the same function")
    from lpr.recognizers.plate_model import file_md5

    described = args.out.with_suffix(".json")
    if described.is_file():
        info = json.loads(described.read_text(encoding="utf-8"))
        info.update(md5=file_md5(args.out), bytes=args.out.stat().st_size)
        described.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
