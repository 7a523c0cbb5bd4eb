// fool render: draw a saved genome again, at any resolution for CPPNs.
#include <filesystem>

#include "cli/common.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/core/json_check.h"
#include "fool/io/image_io.h"

namespace fool::cli {

void add_render_command(CLI::App& app, Action& action) {
  struct Opts {
    std::string genome, out;
    int size = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("render", "render a genome saved by fool evolve (genomes/class_<k>.json) as a PNG");
  c->add_option("genome", o->genome, "genome JSON file")->required();
  c->add_option("--size", o->size, "side of the image in pixels (default: the size it was evolved at)")
      ->check(CLI::Range(1, 8192));
  c->add_option("--out", o->out, "PNG file to write")->required();
  c->callback([o, &action] {
    action = [o] {
      check_output_file(o->out, "--out", ".png");
      const nlohmann::json j = read_json_file(o->genome);
      const std::string kind = j.is_object() && j.contains("encoding") && j["encoding"].is_string() ? j["encoding"].get<std::string>() : std::string();
      Image8 img;
      try {
        if (kind == "cppn") {
          CppnOptions opt;
          namespace jc = json_check;
          opt.shape.channels = static_cast<int>(jc::integer(j, "", "channels", 1, 3));
          const auto& size = jc::array(j, "", "native_size");
          if (size.size() != 2) throw Error("native_size is not [height, width]");
          opt.shape.height = static_cast<int>(jc::integer_value(size[0], "native_size[0]", 1, kMaxCppnNativeSize));
          opt.shape.width = static_cast<int>(jc::integer_value(size[1], "native_size[1]", 1, kMaxCppnNativeSize));
          opt.raw_coordinates = jc::string(j, "", "coordinates") == "raw";
          const CppnEncoding enc(opt);
          const int side = o->size > 0 ? o->size : opt.shape.height;
          img = enc.render_at(*enc.from_json(j), side, side);
        } else if (kind == "direct") {
          DirectOptions opt;
          const auto& shape = json_check::array(j, "", "shape");
          if (shape.size() != 3) throw Error("shape is not [channels, height, width]");
          opt.shape = {static_cast<int>(json_check::integer_value(shape[0], "shape[0]", 1, 3)),
                       static_cast<int>(json_check::integer_value(shape[1], "shape[1]", 1, 8192)),
                       static_cast<int>(json_check::integer_value(shape[2], "shape[2]", 1, 8192))};
          const DirectEncoding enc(opt);
          img = enc.render(*enc.from_json(j));
          if (o->size > 0) img = resize_image(img, o->size, o->size);
        } else {
          throw Error("not a genome (no \"encoding\": \"cppn\" or \"direct\")");
        }
      } catch (const nlohmann::json::exception& e) {
        throw Error(o->genome + ": malformed genome (" + std::string(e.what()) + ")");
      } catch (const Error& e) {
        throw Error(o->genome + ": " + e.what());
      }
      write_png(o->out, img);
      emit_json({{"genome", o->genome}, {"out", o->out}, {"size", {img.shape.height, img.shape.width}}});
      return 0;
    };
  });
}

}  // namespace fool::cli
