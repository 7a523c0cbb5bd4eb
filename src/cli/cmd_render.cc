// fool render: draw a saved genome again, at any resolution for CPPNs.
#include <filesystem>

#include "cli/common.h"
#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fool/core/error.h"
#include "fool/io/files.h"
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
      const nlohmann::json j = read_json_file(o->genome);
      const std::string kind = j.is_object() ? j.value("encoding", "") : "";
      Image8 img;
      try {
        if (kind == "cppn") {
          CppnOptions opt;
          opt.shape.channels = j.at("channels").get<int>();
          opt.shape.height = j.at("native_size").at(0).get<int>();
          opt.shape.width = j.at("native_size").at(1).get<int>();
          opt.raw_coordinates = j.at("coordinates").get<std::string>() == "raw";
          const CppnEncoding enc(opt);
          const int side = o->size > 0 ? o->size : opt.shape.height;
          img = enc.render_at(*enc.from_json(j), side, side);
        } else if (kind == "direct") {
          DirectOptions opt;
          opt.shape = {j.at("shape").at(0).get<int>(), j.at("shape").at(1).get<int>(), j.at("shape").at(2).get<int>()};
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
