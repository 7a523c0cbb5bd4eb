// The CLI's app: every command and subcommand answers --help, and --help shows the defaults of the
// library's config structs (the expected values are read from the structs, so changing a member
// initialiser changes what these tests expect).
#include "cli/app.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fool/encoding/registry.h"
#include "fool/experiments/analyze.h"
#include "fool/experiments/ascend.h"
#include "fool/experiments/evolve.h"
#include "fool/experiments/registry.h"
#include "fool/experiments/retrain_experiment.h"
#include "fool/experiments/transfer_experiment.h"
#include "fool/model/caffe/caffe_convert.h"
#include "fool/train/train.h"

namespace fool::cli {
namespace {

using Path = std::vector<std::string>;

// What `fool <path> --help` prints (main prints app.help() for CLI11's CallForHelp).
std::string help_of(const Path& path) {
  Action action;
  const auto app = make_app(action);
  std::vector<std::string> args = {"--help"};  // CLI11 takes the arguments in reverse order
  args.insert(args.end(), path.rbegin(), path.rend());
  try {
    app->parse(args);
  } catch (const CLI::CallForHelp&) {
    return app->help();
  }
  ADD_FAILURE() << "--help did not ask for help after: " << ::testing::PrintToString(path);
  return "";
}

// Every command path of the app, e.g. {"evolve"}, {"analyze"}, {"analyze", "occlusion"}.
void collect_paths(CLI::App* app, Path prefix, std::vector<Path>& out) {
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    Path path = prefix;
    path.push_back(sub->get_name());
    out.push_back(path);
    collect_paths(sub, path, out);
  }
}

// The default --help shows for `flag` ("" if none).
std::string shown_default(const std::string& help, const std::string& flag) {
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line.compare(start, flag.size() + 1, flag + " ") != 0) continue;
    // The flag's column is "--flag TYPE=default" (TYPE may hold spaces, as in "INT in [0 - 8]"),
    // then the description, on this line or the next.
    const std::size_t eq = line.find('=', start);
    const std::size_t type_end = line.find("  ", start);
    if (eq == std::string::npos || eq > type_end) return "";
    return line.substr(eq + 1, line.find(' ', eq) - eq - 1);
  }
  ADD_FAILURE() << flag << " is not in this help:\n" << help;
  return "";
}

// How CLI11 writes a captured default (operator<<, as for any streamable value).
template <typename T>
std::string text(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

TEST(CliApp, EveryCommandAndSubcommandAnswersHelp) {
  Action action;
  const auto app = make_app(action);
  std::vector<Path> paths;
  collect_paths(app.get(), {}, paths);
  ASSERT_GE(paths.size(), 19u);  // 12 commands, data's 3, analyze's 2, experiment's 2, convert's 1
  EXPECT_NE(help_of({}).find("evolve"), std::string::npos);
  for (const Path& path : paths) {
    CLI::App* sub = app.get();
    for (const auto& name : path) sub = sub->get_subcommand(name);
    const std::string help = help_of(path);
    EXPECT_NE(help.find(sub->get_description()), std::string::npos) << ::testing::PrintToString(path);
    EXPECT_NE(help.find("--help"), std::string::npos) << ::testing::PrintToString(path);
  }
}

// The commands are cli/commands.def's lines, in its order, each registered under the name its line
// gives (add_<name>_command adds the subcommand <name>); `fool experiment`'s subcommands are the
// experiment kinds' name table.
TEST(CliApp, CommandsAreTheLinesOfCommandsDef) {
  const std::vector<std::string> listed = {
#define FOOL_COMMAND(name) #name,
#include "cli/commands.def"
#undef FOOL_COMMAND
  };
  Action action;
  const auto app = make_app(action);
  std::vector<std::string> names;
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  EXPECT_EQ(names, listed);
  EXPECT_EQ(listed.size(), 13u);
  std::vector<std::string> experiments;
  for (CLI::App* sub : app->get_subcommand("experiment")->get_subcommands([](CLI::App*) { return true; }))
    experiments.push_back(sub->get_name());
  std::vector<std::string> registered;
  for (const ExperimentEntry& entry : experiment_registry()) {
    registered.push_back(entry.document.name);
    // Its help and every option of its own, as a flag.
    const std::string help = help_of({"experiment", entry.document.name});
    EXPECT_NE(help.find(entry.help.substr(0, 40)), std::string::npos) << entry.document.name;
    for (const ExperimentOption& o : entry.make_config()->options())
      EXPECT_NE(help.find(o.flag), std::string::npos) << entry.document.name << " " << o.flag;
  }
  EXPECT_EQ(experiments, registered);
}

TEST(CliApp, EvolveHelpShowsTheConfigDefaults) {
  const EvolveRunConfig run;
  const std::string help = help_of({"evolve"});
  EXPECT_EQ(shown_default(help, "--seed"), text(run.evolution.seed));
  EXPECT_EQ(shown_default(help, "--checkpoint-every"), text(run.evolution.checkpoint_every));
  EXPECT_EQ(shown_default(help, "--mutation-rate"), text(DirectOptions{}.mutation_rate));
  EXPECT_EQ(shown_default(help, "--halve-every"), text(DirectOptions{}.halve_every));
  EXPECT_EQ(shown_default(help, "--eta"), text(DirectOptions{}.eta));
  EXPECT_EQ(shown_default(help, "--encoding"), run.encoding);
  EXPECT_EQ(shown_default(help, "--coordinates"), CppnOptions{}.raw_coordinates ? "raw" : "normalized");
  EXPECT_EQ(shown_default(help, "--crossover"), DirectOptions{}.sbx ? "sbx" : "none");
  // Every encoding's every option has its flag (read from the registry).
  for (const EncodingEntry& e : encodings()) {
    EXPECT_NE(help.find(e.help), std::string::npos) << e.name;
    for (const EncodingOption& o : e.options) {
      std::string flag = "--" + o.name;
      std::replace(flag.begin(), flag.end(), '_', '-');
      EXPECT_NE(help.find(flag), std::string::npos) << flag;
    }
  }
  EXPECT_EQ(shown_default(help, "--backend"), backend_name(run.classifier.backend));
  // Defaults that depend on other flags: the help names what they resolve to, from the library.
  EXPECT_EQ(shown_default(help, "--eval-batch"), "0");
  EXPECT_NE(help.find(text(kEvalBatchSmallImages) + " for images of up to " + text(kSmallImageSide)),
            std::string::npos);
  EXPECT_NE(help.find(text(kEvalBatchLargeImages) + " for larger"), std::string::npos);
  EXPECT_NE(help.find("the preset's, else " + text(run.evolution.generations)), std::string::npos);
  EXPECT_NE(help.find("the preset's, else " + text(run.evolution.offspring)), std::string::npos);
}

TEST(CliApp, AscendHelpShowsTheConfigDefaults) {
  const AscentConfig a;
  const std::string help = help_of({"ascend"});
  EXPECT_EQ(shown_default(help, "--steps"), text(a.steps));
  EXPECT_EQ(shown_default(help, "--seed"), text(a.seed));
  EXPECT_EQ(shown_default(help, "--start"), ascent_start_name(a.start));
  EXPECT_EQ(shown_default(help, "--start-noise"), text(a.start_noise));
  EXPECT_EQ(shown_default(help, "--max-gain"), text(a.max_gain));
  EXPECT_EQ(shown_default(help, "--gain-fraction"), text(a.gain_fraction));
  EXPECT_EQ(shown_default(help, "--decay"), text(a.decay));
  EXPECT_EQ(shown_default(help, "--target"), text(a.target));
}

TEST(CliApp, TrainAndExperimentHelpShowTheConfigDefaults) {
  const TrainOptions t;
  const std::string train = help_of({"train"});
  EXPECT_EQ(shown_default(train, "--epochs"), text(t.epochs));
  EXPECT_EQ(shown_default(train, "--batch-size"), text(t.batch_size));
  EXPECT_EQ(shown_default(train, "--lr"), text(t.learning_rate));
  EXPECT_EQ(shown_default(train, "--shift"), text(t.max_shift));
  EXPECT_EQ(shown_default(train, "--arch"), t.arch);

  const TransferExperimentConfig x;
  const std::string transfer = help_of({"experiment", "transfer"});
  EXPECT_EQ(shown_default(transfer, "--epochs"), text(x.epochs));
  EXPECT_EQ(shown_default(transfer, "--generations"), text(x.generations));
  EXPECT_EQ(shown_default(transfer, "--runs-per-network"), text(x.runs_per_network));
  EXPECT_EQ(shown_default(transfer, "--encoding"), x.encoding);
  EXPECT_EQ(shown_default(transfer, "--dataset"), x.data.name);

  const RetrainExperimentConfig r;
  const std::string retrain = help_of({"experiment", "retrain"});
  EXPECT_EQ(shown_default(retrain, "--iterations"), text(r.iterations));
  EXPECT_EQ(shown_default(retrain, "--generations"), text(r.generations));
  EXPECT_EQ(shown_default(retrain, "--offspring"), text(r.offspring));
  EXPECT_EQ(shown_default(retrain, "--eval-runs"), text(r.eval_runs));
  EXPECT_EQ(shown_default(retrain, "--arch"), r.arch);
}

TEST(CliApp, AnalyzeHelpShowsTheConfigDefaults) {
  const OcclusionConfig o;
  const std::string occlusion = help_of({"analyze", "occlusion"});
  EXPECT_EQ(shown_default(occlusion, "--masks"), text(o.masks));
  EXPECT_EQ(shown_default(occlusion, "--seed"), text(o.seed));
  const RepetitionConfig r;
  const std::string repetition = help_of({"analyze", "repetition"});
  EXPECT_EQ(shown_default(repetition, "--threshold"), text(r.threshold));
  EXPECT_EQ(shown_default(repetition, "--max-steps"), text(r.max_steps));
}

TEST(CliApp, ConvertHelpShowsTheConfigDefaults) {
  const CaffeConvertOptions c;
  EXPECT_EQ(shown_default(help_of({"convert", "caffe"}), "--scale"), text(c.scale));
}

TEST(CliApp, HelpTextsWriteNoDefaultByHand) {
  // A default written into a description drifts from the struct; CLI11 shows them instead.
  Action action;
  const auto app = make_app(action);
  std::vector<Path> paths;
  collect_paths(app.get(), {}, paths);
  for (const Path& path : paths) {
    const std::string help = help_of(path);
    EXPECT_EQ(help.find("(default "), std::string::npos) << ::testing::PrintToString(path) << "\n" << help;
  }
}

}  // namespace
}  // namespace fool::cli
