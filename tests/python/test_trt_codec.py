"""blob_codec with what Torch-TensorRT puts in its cache entries: buffer-protocol engines (TensorRT's
IHostMemory is one; a numpy array stands in for it here), OpOverloads, named functions."""

import tracemalloc

import numpy as np
import pytest
import torch

from graphcache import blob_codec


def test_any_buffer_protocol_engine_is_stored_as_bytes_with_one_copy():
    engine = np.frombuffer(np.random.default_rng(0).bytes(16 << 20), dtype=np.uint8)  # not bytes
    tracemalloc.start()
    try:
        blob = blob_codec.encode((engine, ["x"]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < engine.nbytes * 1.1  # the blob itself, no intermediate copy of the engine
    got = blob_codec.decode(blob)
    assert isinstance(got[0], bytes) and got[0] == engine.tobytes() and got[1] == ["x"]


def test_non_contiguous_and_typed_buffers_keep_their_logical_bytes():
    a = np.arange(24, dtype=np.int32).reshape(4, 6)[:, ::2]
    assert blob_codec.decode(blob_codec.encode((a,)))[0] == a.tobytes()
    assert blob_codec.decode(blob_codec.encode((memoryview(b"abc"), bytearray(b"de"))))[:2] == (b"abc", b"de")


def test_op_overloads_and_packets_round_trip_to_the_same_objects():
    ops = {torch.ops.aten.relu.default, torch.ops.aten.add.Tensor}
    got = blob_codec.decode(blob_codec.encode((ops, torch.ops.aten.mul)))
    assert got[0] == ops and got[1] is torch.ops.aten.mul


def test_an_unknown_op_is_a_codec_error_not_a_crash():
    blob = blob_codec.encode((torch.ops.aten.relu.default,)).replace(b"aten::relu", b"aten::nope")
    with pytest.raises(blob_codec.CodecError):
        blob_codec.decode(blob)


def helper_fn(x):
    return x


def test_named_functions_by_name_trusted_only_and_lambdas_refused():
    blob = blob_codec.encode((helper_fn,))
    assert blob_codec.decode(blob, trusted_modules=(__name__,))[0] is helper_fn
    untrusted = blob_codec.decode(blob)[0]
    assert isinstance(untrusted, blob_codec.Record) and untrusted.record_type.endswith(":helper_fn")
    with pytest.raises(TypeError, match="without pickle"):
        blob_codec.encode((lambda: 1,))
