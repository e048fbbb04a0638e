// Weight fingerprint of torch tensors without linking libtorch: each tensor's dtype, shape, data pointer
// and byte size are read through its Python attributes, and the bytes are hashed in place (CPU tensors
// with the threaded CPU path; CUDA tensors with the CUDA kernel when the extension was built with CUDA).
// CPU and GPU give identical digests for identical bytes, so either side's fingerprint is comparable.
#include "fingerprint_bindings.hpp"

#include <string>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"
#include "torch_types.hpp"

namespace graphcache::py_frontend {
namespace {

namespace py = pybind11;

struct TensorFacts {
  ir::DType dtype;
  std::vector<int64_t> dims;
  uintptr_t pointer;
  uint64_t bytes;
  std::string device;
};

TensorFacts read_tensor(py::handle tensor, size_t index) {
  const auto& t = TorchTypes::get();
  const std::string where = "weight_fingerprint: tensor " + std::to_string(index);
  if (!t.is(tensor, t.tensor)) throw Error(ErrorKind::kInvalidArgument, where + " is not a torch.Tensor");
  if (!tensor.attr("is_contiguous")().cast<bool>())
    throw Error(ErrorKind::kInvalidArgument, where + " is not contiguous (call .contiguous() first)");
  TensorFacts f;
  f.dtype = t.to_dtype(tensor.attr("dtype"));
  for (auto d : tensor.attr("shape")) f.dims.push_back(d.cast<int64_t>());
  f.pointer = tensor.attr("data_ptr")().cast<uintptr_t>();
  f.bytes = tensor.attr("numel")().cast<uint64_t>() * tensor.attr("element_size")().cast<uint64_t>();
  f.device = tensor.attr("device").attr("type").cast<std::string>();
  if (f.device == "meta")
    throw Error(ErrorKind::kInvalidArgument, where + " is on the meta device (no data)");
  return f;
}

std::string fingerprint_tensors(const py::sequence& tensors, bool secure, unsigned threads) {
  std::vector<TensorFacts> facts;
  for (size_t i = 0; i < tensors.size(); ++i) facts.push_back(read_tensor(tensors[i], i));
  bool any_cuda = false, any_cpu = false;
  for (const auto& f : facts) (f.device == "cuda" ? any_cuda : any_cpu) = true;
  if (any_cuda && any_cpu)
    throw Error(ErrorKind::kInvalidArgument,
                "weight_fingerprint: tensors on both CPU and CUDA; move them to one side");

  DeviceFingerprintOptions device_options;
  if (any_cuda) {  // run on torch's current stream, ordered after whatever produced the tensors
    const auto stream =
        py::module_::import("torch").attr("cuda").attr("current_stream")().attr("cuda_stream");
    device_options.stream = reinterpret_cast<void*>(stream.cast<uintptr_t>());
  }
  py::gil_scoped_release release;  // the tensors stay alive: the caller holds `tensors`
  if (any_cuda) {
    if (secure) throw Error(ErrorKind::kUnsupported, "weight_fingerprint: secure mode is CPU only");
    std::vector<DeviceWeightView> views;
    for (const auto& f : facts)
      views.push_back(DeviceWeightView{f.dtype, f.dims, reinterpret_cast<const void*>(f.pointer), f.bytes});
    return fingerprint_device_weights(views, device_options).hex();  // kUnsupported in builds without CUDA
  }
  std::vector<WeightView> views;
  for (size_t i = 0; i < facts.size(); ++i) {
    ir::WeightData data;
    data.source = ir::WeightData::Source::kMemory;
    data.pointer = reinterpret_cast<const void*>(facts[i].pointer);
    data.length = facts[i].bytes;
    views.push_back(WeightView{facts[i].dtype, facts[i].dims, data, "tensor " + std::to_string(i)});
  }
  FingerprintOptions options;
  options.mode = secure ? FingerprintMode::kSecure : FingerprintMode::kFast;
  options.threads = threads;
  return fingerprint_weights(views, options).hex();
}

}  // namespace

void bind_fingerprint(py::module_& m) {
  m.def(
      "weight_fingerprint", &fingerprint_tensors, py::arg("tensors"), py::arg("secure") = false,
      py::arg("threads") = 0,
      "Weight fingerprint (64 hex digits) of torch tensors in order; bytes are read in place, never copied.");
}

}  // namespace graphcache::py_frontend
