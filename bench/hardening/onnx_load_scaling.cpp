// ONNX load + key against model size: generates models of 10^4 .. 10^6 ONNX nodes (residual
// MatMul/Relu/Add blocks, each with a 4x4 weight that the loader keeps by value as a Constant node, so
// 1.33 IR nodes per ONNX node), writes each to a temp file and measures load_onnx_file and compute_key on
// it in a fresh process (this program re-run with --measure), so the peak memory is the loader's and the
// key's alone: not the generator's protobuf objects, and not an earlier, larger size. Flat ns/node and
// bytes/node from the smallest to the largest model show both are linear.
//
// Columns: IR nodes, file size, median load and key times of the runs (and per node), total per node,
// the process's CPU time for load + key per node (steadier than wall time on a shared machine),
// peak RSS of the measuring process, and (peak RSS - RSS before loading, after a warm-up on a 4-node
// model) / IR nodes: the memory one
// node costs while the model is loaded and keyed, the mapped file's pages included; load_B/n: the same
// for the load alone (the rest of the peak is the key's, with the loaded graph). cold_cpu/n: the first
// run's CPU per node alone, all of its memory fresh from the kernel (a command that keys one model); the
// later runs of a small model reuse the hot pages glibc kept, a large model's (blocks over glibc's 32 MiB
// mmap ceiling) are fresh every run, so the medians' growth compares reused memory with fresh.
#include <onnx/onnx_pb.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"

#include "../bench_usage.hpp"
#include "residual_model.hpp"

namespace {

// Residual blocks of 3 ONNX nodes and a 4x4 raw_data weight (tests/frontends/onnx/residual_model.hpp, shared
// with the golden-keys test).
std::string make_model_bytes(size_t target_nodes) {
  return graphcache::onnx_test::residual_model({.blocks = target_nodes / 3});
}

// A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: the peak so far).
double status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  const size_t length = std::strlen(field);
  for (std::string line; std::getline(status, line);) {
    if (line.compare(0, length, field) == 0 && line.size() > length && line[length] == ':')
      return std::strtod(line.c_str() + length + 1, nullptr);
  }
  return 0;
}

double cpu_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// Minor page faults of this process so far: first touches of fresh memory, each zeroed by the kernel.
double minor_faults() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

// CPU ms to take `bytes` of fresh memory from the kernel and write one byte per page: the page faults (and
// the kernel zeroing the pages) that as large a peak costs at the least, whatever code touches it.
double fresh_memory_cpu_ms(size_t bytes) {
  if (bytes == 0) return 0;
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return 0;
  const double cpu0 = cpu_ms();
  auto* bytes_at = static_cast<volatile char*>(memory);
  for (size_t offset = 0; offset < bytes; offset += 4096) bytes_at[offset] = 1;
  const double spent = cpu_ms() - cpu0;
  ::munmap(memory, bytes);
  return spent;
}

// CPU ns per random read in a table of 40 bytes per node (the names map's size; the key's node table is a
// third of it), each read's address from the one before (a random cycle): what a hash-table probe that
// misses the cache costs at this size, whatever the table's code.
double random_read_ns(size_t nodes) {
  std::vector<uint64_t> next(std::max<size_t>(nodes * 5, 2));
  for (size_t i = 0; i < next.size(); ++i) next[i] = i;
  uint64_t state = 0x9E3779B97F4A7C15u;
  for (size_t i = next.size() - 1; i > 0; --i) {  // Sattolo's shuffle: one cycle through every slot
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    std::swap(next[i], next[state % i]);
  }
  const double cpu0 = cpu_ms();
  uint64_t at = 0;
  for (size_t i = 0; i < nodes; ++i) at = next[at];
  const double spent = cpu_ms() - cpu0;
  if (at == next.size()) std::puts("");  // keeps the chain
  return spent * 1e6 / static_cast<double>(nodes);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The child: loads and keys `path` `runs` times and prints one row.
int measure(const std::string& path, size_t file_bytes, int runs) {
  // One-time costs (libonnx's schema registry, built on first use) before the baseline: they are per
  // process, not per node.
  (void)graphcache::compute_key(graphcache::load_onnx_bytes(make_model_bytes(3), ""));
  const double rss_before_kib = status_kib("VmRSS");
  std::vector<double> load_ms, key_ms, total_cpu_ms, load_cpu_ms, load_faults, key_faults;
  double load_peak_kib = 0;
  size_t nodes = 0;
  for (int run = 0; run < runs; ++run) {
    const double cpu0 = cpu_ms(), faults0 = minor_faults();
    const auto t0 = std::chrono::steady_clock::now();
    const graphcache::ir::Graph graph = graphcache::load_onnx_file(path);
    const auto t1 = std::chrono::steady_clock::now();
    load_cpu_ms.push_back(cpu_ms() - cpu0);
    const double faults1 = minor_faults();
    load_faults.push_back(faults1 - faults0);
    if (run == 0) {  // the load's peak, then the key's alone (writing 5 to clear_refs resets VmHWM)
      load_peak_kib = status_kib("VmHWM");
      std::ofstream("/proc/self/clear_refs") << "5";
    }
    const graphcache::KeyResult key = graphcache::compute_key(graph);
    const auto t2 = std::chrono::steady_clock::now();
    total_cpu_ms.push_back(cpu_ms() - cpu0);
    key_faults.push_back(minor_faults() - faults1);

    load_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    key_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    nodes = graph.nodes.size();
    (void)key;
  }
  // Since the reset: run 0's key with its graph loaded, and every later run.
  const double later_peak_kib = status_kib("VmHWM");
  const double peak_kib = std::max(load_peak_kib, later_peak_kib);
  const auto n = static_cast<double>(nodes);
  std::vector<double> fresh_ms, random_ns;
  for (int run = 0; run < runs; ++run) random_ns.push_back(random_read_ns(nodes));
  for (int run = 0; run < runs; ++run)
    fresh_ms.push_back(
        fresh_memory_cpu_ms(static_cast<size_t>(std::max(0.0, peak_kib - rss_before_kib) * 1024)));
  const double load = median(load_ms), key = median(key_ms), cpu = median(total_cpu_ms);
  // The load's and the key's CPU time, each the median of its own runs (so they need not add up to cpu).
  std::vector<double> key_cpu_ms(total_cpu_ms.size());
  for (size_t i = 0; i < key_cpu_ms.size(); ++i) key_cpu_ms[i] = total_cpu_ms[i] - load_cpu_ms[i];
  std::printf(
      "%10zu %9.1f %9.1f %9.0f %9.1f %9.0f %10.0f %10.0f %10.1f %10.0f %10.0f %10.0f %10.0f %8.0f %8.0f "
      "%9.0f %8.1f %10.0f\n",
      nodes, static_cast<double>(file_bytes) / (1 << 20), load, load * 1e6 / n, key, key * 1e6 / n,
      (load + key) * 1e6 / n, cpu * 1e6 / n, peak_kib / 1024, (peak_kib - rss_before_kib) * 1024 / n,
      (load_peak_kib - rss_before_kib) * 1024 / n, median(load_cpu_ms) * 1e6 / n,
      median(key_cpu_ms) * 1e6 / n, median(load_faults) * 1000 / n, median(key_faults) * 1000 / n,
      median(fresh_ms) * 1e6 / n, median(random_ns), total_cpu_ms.front() * 1e6 / n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(
      argc, argv,
      "bench_onnx_load_scaling [MAX_ONNX_NODES (default 1000000)]\n  ONNX load + key "
      "time and peak memory per node for models of 10^4 ONNX nodes up to "
      "MAX_ONNX_NODES (4 sizes: 10^4, 10^5, 3*10^5, 10^6), each measured in a "
      "fresh process");
  if (argc == 4 && std::strcmp(argv[1], "--write") == 0) {  // a model to profile with --measure
    const std::string bytes = make_model_bytes(std::strtoull(argv[2], nullptr, 10));
    std::ofstream(argv[3], std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return 0;
  }
  if (argc == 5 && std::strcmp(argv[1], "--measure") == 0)
    return measure(argv[2], std::strtoull(argv[3], nullptr, 10), std::atoi(argv[4]));
  const size_t max_nodes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("onnx_load_scaling." + std::to_string(::getpid()) + ".onnx"))
          .string();
  std::printf("%10s %9s %9s %9s %9s %9s %10s %10s %10s %10s %10s %10s %10s %8s %8s %9s %8s %10s\n", "nodes",
              "file_MiB", "load_ms", "load_ns/n", "key_ms", "key_ns/n", "total_ns/n", "cpu_ns/n", "peak_MiB",
              "peak_B/n", "load_B/n", "ld_cpu/n", "key_cpu/n", "ld_flt/k", "key_flt/k", "fresh_mem",
              "rand_ns", "cold_cpu/n");
  struct Row {
    double nodes, total_ns, cpu_ns, peak_bytes, load_cpu_ns, key_cpu_ns, cold_cpu_ns;
  };
  // Measures the model at `model` in a fresh process (`runs` runs), prints its row (with `suffix`) and
  // gives it back; nullopt if the child failed.
  const auto measure_in_child = [&](const std::string& model, size_t file_bytes, const char* runs,
                                    const char* suffix) -> std::optional<Row> {
    std::fflush(stdout);
    // The child's row comes back through a pipe, for the summary against the targets below.
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) return std::nullopt;
    const pid_t child = ::fork();
    if (child == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      ::execl("/proc/self/exe", argv[0], "--measure", model.c_str(), std::to_string(file_bytes).c_str(), runs,
              static_cast<char*>(nullptr));
      std::perror("exec");
      std::_Exit(127);
    }
    ::close(pipe_fds[1]);
    std::string line;
    char buffer[512];
    for (ssize_t got; (got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
      line.append(buffer, static_cast<size_t>(got));
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "measuring %s failed (status %d)\n", model.c_str(), status);
      return std::nullopt;
    }
    while (!line.empty() && line.back() == '\n') line.pop_back();
    std::printf("%s%s\n", line.c_str(), suffix);
    double f[18] = {};
    if (std::sscanf(line.c_str(), "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf",
                    &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11],
                    &f[12], &f[13], &f[14], &f[15], &f[16], &f[17]) != 18)
      return std::nullopt;
    return Row{f[0], f[6], f[7], f[9], f[11], f[12], f[17]};
  };
  // Growth is each model's per-node figure over the smallest model's, measured right before and right
  // after it (their mean): this shared VM's speed drifts by a third within minutes, and a figure taken
  // minutes apart would measure the drift.
  const std::string smallest_path = path + ".smallest";
  size_t smallest_bytes = 0;
  std::vector<Row> rows, smallest_before, smallest_after;
  bool failed = false;
  for (size_t n : {size_t{10000}, size_t{100000}, size_t{300000}, size_t{1000000}}) {
    if (n > max_nodes) break;
    const std::string& model = rows.empty() ? smallest_path : path;
    // Generated in a child of its own: generated and freed in this process, the 10^6-node model's protobuf
    // objects made the next child's first run much slower (cold_cpu/n 917-1014 vs 563-615 ns/node).
    if (const pid_t writer = ::fork(); writer == 0) {
      const std::string bytes = make_model_bytes(n);
      std::ofstream(model, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      std::_Exit(0);
    } else if (int status = 0; writer < 0 || ::waitpid(writer, &status, 0) != writer || status != 0) {
      std::fprintf(stderr, "writing the %zu-node model failed\n", n);
      failed = true;
      break;
    }
    std::error_code size_error;
    const size_t file_bytes = std::filesystem::file_size(model, size_error);
    if (size_error) {
      std::fprintf(stderr, "%s: %s\n", model.c_str(), size_error.message().c_str());
      failed = true;
      break;
    }
    if (rows.empty()) smallest_bytes = file_bytes;
    // Medians; the smallest model's runs take milliseconds (many, for a steady median), the largest seconds.
    // More runs at 3*10^5 nodes would raise the later runs' peak (glibc keeps more freed memory), not the
    // load's.
    const char* runs = n <= 10000 ? "21" : n <= 100000 ? "5" : "3";
    const std::optional<Row> row =
        measure_in_child(rows.empty() ? smallest_path : path, file_bytes, runs, "");
    if (!row) {
      failed = true;
      break;
    }
    rows.push_back(*row);
    if (rows.size() == 1) {
      smallest_before.push_back(*row);
      smallest_after.push_back(*row);
      continue;
    }
    smallest_before.push_back(smallest_after.back());
    const std::optional<Row> again =
        measure_in_child(smallest_path, smallest_bytes, "21", "  (smallest, again)");
    if (!again) {
      failed = true;
      break;
    }
    smallest_after.push_back(*again);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(smallest_path);
  if (failed) return 1;
  // Issue 18's targets: <= 1.5 us and <= 300 bytes of peak memory per node at the largest size, and a flat
  // per-node cost (ratios to the smallest model's figures near 1).
  constexpr double kTargetNs = 1500, kTargetBytes = 300;
  std::printf(
      "\nagainst the targets (<= %.0f ns and <= %.0f peak bytes per node; growth = per-node figure / the "
      "smallest model's, measured right before and after it):\n",
      kTargetNs, kTargetBytes);
  std::printf("%10s %10s %10s %10s %11s %11s %11s %11s %11s %11s\n", "nodes", "wall/tgt", "cpu/tgt",
              "peak/tgt", "wall_growth", "cpu_growth", "peak_growth", "load_growth", "key_growth",
              "cold_growth");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const auto base = [&](double Row::*field) {
      return (smallest_before[i].*field + smallest_after[i].*field) / 2;
    };
    std::printf("%10.0f %10.2f %10.2f %10.2f %11.2f %11.2f %11.2f %11.2f %11.2f %11.2f\n", row.nodes,
                row.total_ns / kTargetNs, row.cpu_ns / kTargetNs, row.peak_bytes / kTargetBytes,
                row.total_ns / base(&Row::total_ns), row.cpu_ns / base(&Row::cpu_ns),
                row.peak_bytes / rows.front().peak_bytes, row.load_cpu_ns / base(&Row::load_cpu_ns),
                row.key_cpu_ns / base(&Row::key_cpu_ns), row.cold_cpu_ns / base(&Row::cold_cpu_ns));
  }
  return 0;
}
