"""Writes the bundled demo models (random weights, built with onnx.helper; never downloaded).

tiny_cnn.onnx          Conv -> Relu -> MaxPool -> Flatten -> Gemm -> Sub(logits, bias2) -> Softmax
tiny_cnn_renamed.onnx  the same network, every name changed and nodes re-emitted in another order
tiny_cnn_swapped.onnx  the same but Sub(bias2, logits): operands swapped (the op_target-string collision)
"""
import pathlib
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent


def build(prefix="", swap=False, reverse=False):
    rng = np.random.default_rng(0)
    n = lambda s: prefix + s  # noqa: E731
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), n("conv.w")),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), n("conv.b")),
        numpy_helper.from_array(rng.standard_normal((10, 8 * 16 * 16)).astype(np.float32), n("fc.w")),
        numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), n("fc.b")),
        numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), n("bias2")),
    ]
    sub_inputs = [n("bias2"), n("logits")] if swap else [n("logits"), n("bias2")]
    nodes = [
        helper.make_node("Conv", [n("image"), n("conv.w"), n("conv.b")], [n("c")], pads=[1, 1, 1, 1], name=n("conv")),
        helper.make_node("Relu", [n("c")], [n("r")], name=n("relu")),
        helper.make_node("MaxPool", [n("r")], [n("p")], kernel_shape=[2, 2], strides=[2, 2], name=n("pool")),
        helper.make_node("Flatten", [n("p")], [n("f")], axis=1, name=n("flatten")),
        helper.make_node("Gemm", [n("f"), n("fc.w"), n("fc.b")], [n("logits")], transB=1, name=n("fc")),
        helper.make_node("Sub", sub_inputs, [n("centered")], name=n("sub")),
        helper.make_node("Softmax", [n("centered")], [n("probs")], axis=1, name=n("softmax")),
    ]
    if reverse:
        nodes = nodes[::-1]  # graphcache does not need topological storage order
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info(n("image"), TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info(n("probs"), TensorProto.FLOAT, ["batch", 10])],
        initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="graphcache-demo")


if __name__ == "__main__":
    onnx.save(build(), HERE / "tiny_cnn.onnx")
    onnx.save(build(prefix="m2/", reverse=True), HERE / "tiny_cnn_renamed.onnx")
    onnx.save(build(swap=True), HERE / "tiny_cnn_swapped.onnx")
    print("wrote", ", ".join(p.name for p in sorted(HERE.glob("*.onnx"))))
