"""training/fuse_hardswish.py: Paddle's four-node hard-swish becomes x * HardSigmoid(x), and the
rewritten graph computes what the original did; anything that only looks like it stays."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from training.fuse_hardswish import fuse


def _const(name: str, value: float) -> onnx.NodeProto:
    tensor = helper.make_tensor(name, TensorProto.FLOAT, [], [value])
    return helper.make_node("Constant", [], [name], value=tensor)


def _model(three: float = 3.0, six: float = 6.0) -> onnx.ModelProto:
    """y = hardswish(x) + x * clip(x + 3, 0, 6)  (the second term is not a hard-swish: no /6)."""
    nodes = [
        _const("c3", three), _const("c0", 0.0), _const("c6", 6.0), _const("d6", six),
        helper.make_node("Add", ["x", "c3"], ["a"]),
        helper.make_node("Clip", ["a", "c0", "c6"], ["c"]),
        helper.make_node("Mul", ["x", "c"], ["m"]),
        helper.make_node("Div", ["m", "d6"], ["hs"]),
        helper.make_node("Add", ["x", "c3"], ["a2"]),
        helper.make_node("Clip", ["a2", "c0", "c6"], ["c2"]),
        helper.make_node("Mul", ["x", "c2"], ["m2"]),
        helper.make_node("Add", ["hs", "m2"], ["y"]),
    ]  # fmt: skip
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out: np.ndarray = session.run(None, {"x": x})[0]
    return out


def test_the_hardswish_is_rewritten_and_computes_the_same() -> None:
    x = np.linspace(-8, 8, 64, dtype=np.float32)[None]
    original = _model()
    expected = _run(original, x)
    fused = _model()
    assert fuse(fused) == 1
    onnx.checker.check_model(fused)
    ops = [n.op_type for n in fused.graph.node]
    assert ops.count("HardSigmoid") == 1
    assert ops.count("Div") == 0  # the one Div belonged to the hard-swish
    assert ops.count("Clip") == 1  # the look-alike without /6 keeps its own
    np.testing.assert_allclose(_run(fused, x), expected, atol=1e-5)


def test_other_constants_are_not_taken_for_a_hardswish() -> None:
    for model in (_model(three=2.0), _model(six=5.0)):
        before = [n.op_type for n in model.graph.node]
        assert fuse(model) == 0
        assert [n.op_type for n in model.graph.node] == before
