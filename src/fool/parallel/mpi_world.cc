// The MPI job this process belongs to: start, end, the rank 0's choices, the fault line's state.
#include "fool/parallel/mpi_world.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>

#include "fool/parallel/mpi_internal.h"

namespace fool::parallel {

std::string MpiWorld::version() { return std::string("fool ") + FOOL_VERSION; }

std::string MpiWorld::library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  const std::string v(text, static_cast<std::size_t>(length));
  return v.substr(0, v.find_first_of("\n\r,"));
}

MpiWorld& MpiWorld::instance() {
  static MpiWorld world;
  return world;
}

bool MpiWorld::launched_by_mpi() {
  static const char* const names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
  return std::any_of(std::begin(names), std::end(names), [](const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0';
  });
}

void MpiWorld::init(int* argc, char*** argv) {
  if (active_ || !launched_by_mpi()) return;
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  active_ = true;
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
  if (size_ > 1 && rank_ == 0) update_fault_line();
  if (size_ > 1) internal::install_fault_handlers(rank_ == 0);
}

void MpiWorld::finalize() {
  if (!active_ || finalized_) return;
  finalized_ = true;
  MPI_Finalize();
}

std::string MpiWorld::from_rank0(const std::string& value) {
  if (!active_ || size_ < 2) return value;
  // Short choices (a backend's name): one fixed-size broadcast, no length exchange.
  char text[64] = {};
  if (rank_ == 0) internal::copy_text(text, sizeof text, value);
  MPI_Bcast(text, sizeof text, MPI_CHAR, 0, MPI_COMM_WORLD);
  return std::string(text);
}

void MpiWorld::note_checkpoint(const std::string& path, int generation) {
  checkpoint_path_ = path;
  checkpoint_generation_ = generation;
  update_fault_line();
}

void MpiWorld::set_awaited(const std::vector<int>& ranks) {
  awaited_ = ranks;
  update_fault_line();
}

void MpiWorld::update_fault_line() {
  if (!active_ || rank_ != 0 || size_ < 2) return;
  std::string who;
  for (int r : awaited_) who += (who.empty() ? "" : ",") + std::to_string(r);
  std::string tail;
  if (checkpoint_generation_ == kStepsFile) {
    tail = "; finished steps are in " + checkpoint_path_ + ", run the same command again to continue";
  } else if (checkpoint_generation_ < 0) {
    tail = "; no checkpoint was written yet";
  } else {
    tail = "; last checkpoint: " + checkpoint_path_ + " after generation " + std::to_string(checkpoint_generation_) +
           ", continue with --resume";
  }
  internal::set_fault_line(tail, who);
}

}  // namespace fool::parallel
