// Damaged ONNX models: each defect that crashed or fooled a backend is refused by both, with one
// line naming the file, before either backend reads the graph.
#include "fool/model/onnx/onnx_validate.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <functional>
#include <limits>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/testing/onnx_test_graph.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

class OnnxValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_onnx_validate_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // x [N,1,28,28] -> Flatten -> Gemm(W [10,784], b [10]) -> Softmax
    testing::GraphBuilder g(13, {1, 28, 28});
    auto* flat = g.node("Flatten", {"x"});
    auto* gemm = g.node("Gemm", {testing::out_of(flat), g.weight({10, 784}), g.weight({10})});
    testing::GraphBuilder::attr(gemm, "transB", std::int64_t{1});
    auto* sm = g.node("Softmax", {testing::out_of(gemm)});
    const std::string path = g.write(dir_ / "good.onnx", testing::out_of(sm), 10);
    ASSERT_TRUE(good_.ParseFromString(read_text_file(path)));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `good_` changed by `edit` and expects both backends to refuse it with one line naming
  // the file and containing `needle`.
  void expect_refused(const std::string& name, const std::function<void(onnx::ModelProto&)>& edit,
                      const std::string& needle) {
    onnx::ModelProto m = good_;
    edit(m);
    std::string bytes;
    m.SerializeToString(&bytes);
    const std::string path = (dir_ / (name + ".onnx")).string();
    write_file_atomic(path, bytes);
    for (const Backend& b : testing::registered_backends({"opencv", "torch"})) {
      ClassifierOptions o;
      o.backend = b;
      try {
        load_classifier(path, o);
        ADD_FAILURE() << name << " accepted by " << backend_name(b);
      } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
        EXPECT_NE(msg.find(path), std::string::npos) << msg;
        EXPECT_NE(msg.find(needle), std::string::npos) << name << ": " << msg;
      }
    }
  }
  onnx::TensorProto& weight(onnx::ModelProto& m) { return *m.mutable_graph()->mutable_initializer(0); }

  fs::path dir_;
  onnx::ModelProto good_;
};

TEST_F(OnnxValidation, TheIntactModelLoadsInBothBackends) {
  for (const Backend& b : testing::registered_backends({"opencv", "torch"})) {
    ClassifierOptions o;
    o.backend = b;
    EXPECT_EQ(load_classifier((dir_ / "good.onnx").string(), o)->spec().num_classes, 10);
  }
}

TEST_F(OnnxValidation, InitializerDataShorterThanItsShape) {
  expect_refused(
      "short",
      [&](onnx::ModelProto& m) {
        weight(m).clear_raw_data();  // (the test graph writes raw data): one value in float_data
        weight(m).add_float_data(0.5f);
      },
      "holds 1 values");
  expect_refused(
      "short_raw",
      [&](onnx::ModelProto& m) {
        weight(m).clear_float_data();
        weight(m).set_raw_data(std::string(4, '\0'));
      },
      "holds 4 bytes");
  expect_refused(
      "long_raw",
      [&](onnx::ModelProto& m) {
        weight(m).clear_float_data();
        weight(m).set_raw_data(std::string(7841 * 4, '\0'));
      },
      "needs 31360");
}

TEST_F(OnnxValidation, ZeroAndNegativeDimensions) {
  expect_refused(
      "zero",
      [&](onnx::ModelProto& m) {
        weight(m).set_dims(1, 0);
        weight(m).clear_float_data();
      },
      "zero dimension");
  expect_refused(
      "negative", [&](onnx::ModelProto& m) { weight(m).set_dims(1, -784); }, "negative dimension");
  expect_refused(
      "huge", [&](onnx::ModelProto& m) { weight(m).set_dims(1, std::int64_t{1} << 40); }, "2^31");
}

TEST_F(OnnxValidation, ExternalDataThatIsMissingOrShort) {
  auto external = [&](onnx::ModelProto& m, const std::string& location) {
    auto& t = weight(m);
    t.clear_float_data();
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t.add_external_data();
    kv->set_key("location");
    kv->set_value(location);
  };
  expect_refused(
      "ext_missing", [&](onnx::ModelProto& m) { external(m, "weights.bin"); }, "missing");
  write_file_atomic((dir_ / "short.bin").string(), std::string(100, '\0'));
  expect_refused(
      "ext_short", [&](onnx::ModelProto& m) { external(m, "short.bin"); }, "which holds 100");
  expect_refused(
      "ext_escape", [&](onnx::ModelProto& m) { external(m, "../etc/passwd"); }, "outside");
  expect_refused(
      "ext_absolute", [&](onnx::ModelProto& m) { external(m, "/etc/passwd"); }, "outside");
}

TEST_F(OnnxValidation, DanglingNamesAndDuplicates) {
  expect_refused(
      "missing_init", [&](onnx::ModelProto& m) { m.mutable_graph()->mutable_initializer()->DeleteSubrange(0, 1); },
      "which no input, initializer or earlier node provides");
  expect_refused(
      "orphan_output", [&](onnx::ModelProto& m) { m.mutable_graph()->mutable_output(0)->set_name("nobody"); },
      "produced by no node");
  expect_refused(
      "dup_output", [&](onnx::ModelProto& m) { *m.mutable_graph()->add_output() = m.graph().output(0); },
      "two graph outputs");
  expect_refused(
      "dup_node_output",
      [&](onnx::ModelProto& m) { m.mutable_graph()->mutable_node(1)->set_output(0, m.graph().node(0).output(0)); },
      "already taken");
}

TEST_F(OnnxValidation, AttributesWhoseValueIsNotTheirType) {
  expect_refused(
      "attr_type",
      [&](onnx::ModelProto& m) {
        m.mutable_graph()->mutable_node(1)->mutable_attribute(0)->set_type(onnx::AttributeProto::FLOAT);
      },
      "attribute 'transB'");
  expect_refused(
      "attr_undefined",
      [&](onnx::ModelProto& m) {
        m.mutable_graph()->mutable_node(1)->mutable_attribute(0)->set_type(onnx::AttributeProto::UNDEFINED);
      },
      "no valid type");
}

// Issue 20: LRN divides by (bias + ...)^beta; a bias of 0 or less gave NaN on torch and ordinary
// numbers on OpenCV. Refused, naming the node, as the Caffe converter refuses k <= 0.
TEST_F(OnnxValidation, LrnParametersThatMakeNan) {
  auto lrn = [](float bias, float beta) {
    return [bias, beta](onnx::ModelProto& m) {
      auto* g = m.mutable_graph();
      auto* n = g->add_node();  // between the input and Flatten: x -> LRN -> Flatten
      n->set_op_type("LRN");
      n->set_name("norm");
      n->add_input("x");
      n->add_output("x_lrn");
      testing::GraphBuilder::attr(n, "size", std::int64_t{1});
      testing::GraphBuilder::attr(n, "bias", bias);
      testing::GraphBuilder::attr(n, "beta", beta);
      for (int i = g->node_size() - 1; i > 0; --i) g->mutable_node()->SwapElements(i, i - 1);
      g->mutable_node(1)->set_input(0, "x_lrn");
    };
  };
  expect_refused("lrn_negative", lrn(-1.0f, 0.75f), "node 0 (norm): LRN bias -1 must be positive and finite");
  expect_refused("lrn_zero", lrn(0.0f, 0.75f), "LRN bias 0 must be positive");
  expect_refused("lrn_beta", lrn(1.0f, std::numeric_limits<float>::infinity()), "LRN beta inf must be finite");
}

TEST_F(OnnxValidation, VersionsFoolDoesNotKnow) {
  expect_refused(
      "opset0", [&](onnx::ModelProto& m) { m.mutable_opset_import(0)->set_version(0); }, "opset 0");
  expect_refused(
      "opset1", [&](onnx::ModelProto& m) { m.mutable_opset_import(0)->set_version(1); }, "opset 1");
  expect_refused(
      "opset99", [&](onnx::ModelProto& m) { m.mutable_opset_import(0)->set_version(99); }, "opset 99");
  expect_refused(
      "ir99", [&](onnx::ModelProto& m) { m.set_ir_version(99); }, "IR version 99");
  expect_refused(
      "no_opset", [&](onnx::ModelProto& m) { m.clear_opset_import(); }, "no ONNX operator set");
}

TEST_F(OnnxValidation, MetadataMustParseCompletely) {
  auto meta = [](onnx::ModelProto& m, const std::string& k, const std::string& v) {
    auto* p = m.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  };
  expect_refused(
      "scale", [&](onnx::ModelProto& m) { meta(m, "fool.scale", "255x"); }, "fool.scale");
  expect_refused(
      "scale_nan", [&](onnx::ModelProto& m) { meta(m, "fool.scale", "nan"); }, "fool.scale");
  expect_refused(
      "bg", [&](onnx::ModelProto& m) { meta(m, "fool.background_class", "3x"); }, "fool.background_class");
  expect_refused(
      "out", [&](onnx::ModelProto& m) { meta(m, "fool.output", "probs"); }, "fool.output");
}

}  // namespace
}  // namespace fool
