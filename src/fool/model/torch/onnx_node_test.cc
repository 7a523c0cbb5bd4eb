// ONNX's own backend node tests (Debian's libonnx-testdata) for every operator the torch backend
// runs: each test's graph is run by the interpreter on the test's inputs and compared with the
// test's expected outputs with ONNX's own tolerances (rtol 1e-3, atol 1e-7). Tests that use an
// operator outside torch_supported_operators() are not run. Known failures are listed, with the
// reason, in onnx_node_known_failures.txt (beside this file); a listed test that passes fails this test too, so the
// list stays true.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/torch/torch_classifier.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

const char* const kNodeTestDir = "/usr/share/libonnx-testdata/data/node";

onnx::TensorProto read_tensor(const fs::path& p) {
  const auto bytes = read_file(p.string());
  onnx::TensorProto t;
  if (!t.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) throw Error(p.string() + ": not a TensorProto");
  return t;
}

// A tensor's values as doubles; false for types this comparison does not handle.
template <class T>
std::vector<double> raw_as(const std::string& raw) {
  std::vector<T> v(raw.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), raw.data(), v.size() * sizeof(T));
  return std::vector<double>(v.begin(), v.end());
}

bool values_of(const onnx::TensorProto& t, std::vector<double>* out) {
  const bool raw = t.has_raw_data();
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      *out = raw ? raw_as<float>(t.raw_data()) : std::vector<double>(t.float_data().begin(), t.float_data().end());
      return true;
    case onnx::TensorProto::DOUBLE:
      *out = raw ? raw_as<double>(t.raw_data()) : std::vector<double>(t.double_data().begin(), t.double_data().end());
      return true;
    case onnx::TensorProto::INT64:
      *out =
          raw ? raw_as<std::int64_t>(t.raw_data()) : std::vector<double>(t.int64_data().begin(), t.int64_data().end());
      return true;
    case onnx::TensorProto::INT32:
      *out =
          raw ? raw_as<std::int32_t>(t.raw_data()) : std::vector<double>(t.int32_data().begin(), t.int32_data().end());
      return true;
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::UINT8:
      *out =
          raw ? raw_as<std::uint8_t>(t.raw_data()) : std::vector<double>(t.int32_data().begin(), t.int32_data().end());
      return true;
    case onnx::TensorProto::INT8:
      *out =
          raw ? raw_as<std::int8_t>(t.raw_data()) : std::vector<double>(t.int32_data().begin(), t.int32_data().end());
      return true;
    default:
      return false;
  }
}

struct Outcome {
  std::string status;  // "pass", "fail", "skip"
  std::string why;
};

// Runs one node test directory (model.onnx, test_data_set_*/input_*.pb, output_*.pb).
Outcome run_node_test(const fs::path& dir, const std::string& tmp_model) {
  onnx::ModelProto m;
  {
    const auto bytes = read_file((dir / "model.onnx").string());
    if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return {"skip", "model does not parse"};
  }
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {"skip", "no test data"};
  for (const auto& set : sets) {
    onnx::ModelProto mm = m;
    auto* g = mm.mutable_graph();
    std::set<std::string> inits;
    for (const auto& t : g->initializer()) inits.insert(t.name());
    std::vector<std::string> inputs;
    for (const auto& in : g->input())
      if (!inits.count(in.name())) inputs.push_back(in.name());
    // The test's inputs become initializers: the interpreter then runs the graph without a feed.
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const fs::path p = set / ("input_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) return {"skip", "missing " + p.filename().string()};
      onnx::TensorProto t = read_tensor(p);
      t.set_name(inputs[i]);
      *g->add_initializer() = t;
    }
    g->clear_input();
    for (int o = 0; o < g->output_size(); ++o) {
      const fs::path p = set / ("output_" + std::to_string(o) + ".pb");
      if (!fs::exists(p)) continue;
      const onnx::TensorProto want_t = read_tensor(p);
      std::vector<double> want;
      if (!values_of(want_t, &want)) return {"skip", "output type " + std::to_string(want_t.data_type())};
      onnx::ModelProto one = mm;
      one.mutable_graph()->mutable_output()->SwapElements(0, o);
      std::string bytes;
      one.SerializeToString(&bytes);
      write_file_atomic(tmp_model, bytes);
      std::vector<std::int64_t> shape;
      std::vector<double> got;
      try {
        SpecOverrides keep;  // the output under test (a node test's graph has several)
        keep.output = one.graph().output(0).name();
        got = run_torch_graph(OnnxModel::load(tmp_model, keep), &shape);
      } catch (const Error& e) {
        return {"fail", e.what()};
      }
      std::vector<std::int64_t> want_shape(want_t.dims().begin(), want_t.dims().end());
      if (shape != want_shape) {
        std::string a, b;
        for (auto d : shape) a += std::to_string(d) + ",";
        for (auto d : want_shape) b += std::to_string(d) + ",";
        return {"fail", "output " + std::to_string(o) + " has shape [" + a + "], expected [" + b + "]"};
      }
      for (std::size_t i = 0; i < want.size(); ++i) {
        const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
        if (!both_nan && !(std::abs(got[i] - want[i]) <= 1e-7 + 1e-3 * std::abs(want[i]))) {
          std::ostringstream s;
          s << "output " << o << " element " << i << " is " << got[i] << ", expected " << want[i];
          return {"fail", s.str()};
        }
      }
    }
  }
  return {"pass", ""};
}

std::map<std::string, std::string> known_failures() {
  std::map<std::string, std::string> out;
  std::ifstream in(FOOL_NODE_KNOWN_FAILURES);
  if (!in) throw Error(std::string(FOOL_NODE_KNOWN_FAILURES) + ": cannot read");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.find(' ');
    out[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
  }
  return out;
}

TEST(OnnxNodeTests, EverySupportedOperatorsTestPasses) {
  if (!fs::exists(kNodeTestDir)) GTEST_SKIP() << kNodeTestDir << " is missing (Debian package libonnx-testdata)";
  const auto& supported = torch_supported_operators();
  const auto known = known_failures();
  const std::string tmp_model =
      (fs::temp_directory_path() / ("fool_node_test_" + std::to_string(::getpid()) + ".onnx")).string();
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kNodeTestDir)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int run = 0, passed = 0, skipped = 0, listed = 0;
  for (const auto& dir : dirs) {
    onnx::ModelProto m;
    const auto bytes = read_file((dir / "model.onnx").string());
    if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) continue;
    bool ok = m.graph().node_size() > 0;
    for (const auto& n : m.graph().node())
      ok = ok && (n.domain().empty() || n.domain() == "ai.onnx") &&
           std::binary_search(supported.begin(), supported.end(), n.op_type());
    if (!ok) continue;
    const std::string name = dir.filename().string();
    const Outcome r = run_node_test(dir, tmp_model);
    if (r.status == "skip") {
      ++skipped;
      continue;
    }
    ++run;
    const bool is_known = known.count(name) > 0;
    if (r.status == "pass") {
      ++passed;
      EXPECT_FALSE(is_known) << name << " passes now: remove it from onnx_node_known_failures.txt";
    } else if (is_known) {
      ++listed;
    } else {
      ADD_FAILURE() << name << ": " << r.why;
    }
  }
  std::error_code ec;
  fs::remove(tmp_model, ec);
  std::printf(
      "ONNX node tests of supported operators: %d passed of %d run (%d known failures listed, %d not comparable)\n",
      passed, run, listed, skipped);
  EXPECT_GT(run, 0);
}

}  // namespace
}  // namespace fool
