// fool score: top-K classes of image files under a model.
#include "cli/common.h"
#include "fool/core/error.h"
#include "fool/io/image_io.h"
#include "fool/model/factory.h"

namespace fool::cli {

namespace {

// One image file as the model's input: gray and colour converted (if `convert`) and resized (if
// `resize`), else refused with a one-line error naming the flag that would allow it.
Image8 image_for_model(const std::string& path, const ModelSpec& s, bool convert, bool resize) {
  Image8 img = read_image(path);
  if (img.shape.channels != s.input.channels) {
    if (!convert) {
      throw Error(path + ": image has " + std::to_string(img.shape.channels) + " channel(s), the model takes " +
                  std::to_string(s.input.channels) + " (use --convert)");
    }
    img = convert_channels(img, s.input.channels);
  }
  if (img.shape.height != s.input.height || img.shape.width != s.input.width) {
    if (!resize) {
      throw Error(path + ": image is " + std::to_string(img.shape.width) + "x" + std::to_string(img.shape.height) +
                  ", the model takes " + std::to_string(s.input.width) + "x" + std::to_string(s.input.height) +
                  " (use --resize)");
    }
    img = resize_image(img, s.input.height, s.input.width);
  }
  return img;
}

// The `top` most probable classes of row i of p, most probable first.
nlohmann::json top_classes(const Matrix& p, std::size_t i, const ModelSpec& s, int top) {
  nlohmann::json out = nlohmann::json::array();
  for (int k : top_k(p.row(i), p.cols(), static_cast<std::size_t>(top))) {
    out.push_back({{"class", k},
                   {"label", s.labels[static_cast<std::size_t>(k)]},
                   {"probability", p(i, static_cast<std::size_t>(k))}});
  }
  return out;
}

}  // namespace

void add_score_command(CLI::App& app, Action& action) {
  struct Opts {
    ModelFlags model;
    std::vector<std::string> images;
    int top = 5;
    bool resize = false, convert = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("score", "classify image files and print the top-K classes as JSON");
  o->model.add_to(c);
  c->add_option("--top", o->top, "classes to list per image")->check(positive());
  c->add_flag("--resize", o->resize, "resize images to the model's input size instead of refusing them");
  c->add_flag("--convert", o->convert, "convert gray to colour (or back) to match the model instead of refusing");
  c->add_option("images", o->images, "PNG (or other) image files")->required();
  c->callback([o, &action] {
    action = [o] {
      BackendChoice choice;
      auto clf = load_classifier(o->model.model, o->model.options(), &choice);
      const ModelSpec& s = clf->spec();
      ImageBatch batch(o->images.size(), s.input);
      for (std::size_t i = 0; i < o->images.size(); ++i)
        batch.set(i, image_for_model(o->images[i], s, o->convert, o->resize));
      const Matrix p = clf->probabilities(batch);
      nlohmann::json results = nlohmann::json::array();
      for (std::size_t i = 0; i < o->images.size(); ++i) {
        results.push_back({{"image", o->images[i]}, {"top", top_classes(p, i, s, o->top)}});
      }
      emit_json({{"model", s.path},
                 {"sha256", s.sha256},
                 {"backend", backend_name(clf->backend())},
                 {"backend_choice", choice.reason},
                 {"images", results}});
      return 0;
    };
  });
}

}  // namespace fool::cli
