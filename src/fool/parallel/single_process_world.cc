// MpiWorld in a fool built without MPI (cmake -DFOOL_WITH_MPI=OFF): every command runs as a job of
// one process. A job of several processes started by an MPI launcher is refused with one line on
// its rank 0 (each process would otherwise run the whole command into the same directory).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fool/model/cropping_classifier.h"
#include "fool/parallel/mpi_world.h"

namespace fool::parallel {

namespace {
// The value of the first of `names` set in the environment, or "".
std::string first_env(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return "";
}
}  // namespace

std::string MpiWorld::version() { return std::string("fool ") + FOOL_VERSION; }

std::string MpiWorld::library_version() { return "none (built without MPI)"; }

MpiWorld& MpiWorld::instance() {
  static MpiWorld world;
  return world;
}

bool MpiWorld::launched_by_mpi() {
  return !first_env({"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"}).empty();
}

void MpiWorld::init(int*, char***) {
  const std::string size = first_env({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"});
  if (!launched_by_mpi() || size.empty() || size == "1") return;
  const std::string rank = first_env({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"});
  if (rank.empty() || rank == "0") {
    std::fprintf(stderr,
                 "fool: error: this fool was built without MPI (FOOL_WITH_MPI=OFF) and cannot share a job of %s "
                 "processes; run it without mpirun, or build it with MPI\n",
                 size.c_str());
  }
  std::exit(1);
}

void MpiWorld::finalize() {}

std::shared_ptr<Classifier> MpiWorld::share_classifier(std::shared_ptr<Classifier> local, std::size_t chunk,
                                                       const std::string&) {
  return make_chunking_classifier(std::move(local), chunk);  // as each process of a job would score
}

void MpiWorld::check_same_job(const std::string&) {}

void MpiWorld::run_tasks(const std::vector<Task>& tasks, const TaskRunner& run, const TaskDone& done) {
  Distribution::run_tasks(tasks, run, done);
}

void MpiWorld::serve_tasks(const TaskRunner&) {}

void MpiWorld::end_tasks(bool) {}

std::string MpiWorld::fail(const std::string& message) { return message; }

void MpiWorld::note_checkpoint(const std::string& path, int generation) {
  checkpoint_path_ = path;
  checkpoint_generation_ = generation;
}

std::string MpiWorld::from_rank0(const std::string& value) { return value; }

}  // namespace fool::parallel
