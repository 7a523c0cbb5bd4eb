// fool render: draw a saved genome again, at any resolution for CPPNs.
#include <filesystem>

#include "cli/common.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/encoding/registry.h"
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
  c->add_option("--size", o->size, "side of the image in pixels (0: the size it was evolved at)")
      ->check(CLI::Range(0, 8192));
  c->add_option("--out", o->out, "PNG file to write")->required();
  c->callback([o, &action] {
    action = [o] {
      check_output_file(o->out, "--out", ".png");
      const nlohmann::json j = read_json_file(o->genome);
      Image8 img;
      try {
        img = render_saved_genome(decode_genome(j), o->size, resize_image);  // a CPPN draws at any size
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
