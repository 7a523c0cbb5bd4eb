#include "fool/parallel/mpi_world.h"

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "fool/model/cropping_classifier.h"
#include "fool/core/error.h"
#include "fool/core/bytes.h"
#include "fool/io/files.h"

namespace fool::parallel {

namespace {

// Message tags: rank 0 sends a job header and its images; a worker answers with a reply header and
// the rows (or an error message).
constexpr int kJobTag = 11, kImagesTag = 12, kReplyTag = 13, kRowsTag = 14;

enum JobKind : std::int64_t { kStop = 0, kBytes = 1, kFloats = 2 };

// Job header: kind, images, channels, height, width, whether rank 0 failed (on kStop).
struct JobHeader {
  std::int64_t kind, count, channels, height, width, root_failed;
};
// Reply header: 0 ok (rows follow) or 1 error (message follows), rows, columns, bytes of the
// message, and the seconds the worker spent scoring.
struct ReplyHeader {
  std::int64_t status, rows, cols, message_bytes;
  double seconds;
};
// What each rank tells rank 0 at start-up.
struct Hello {
  std::int32_t failed;
  char identity[65];  // SHA-256 hex of the identity string
  char who[160];      // fool version and model, for the message
  char message[400];  // the error of a failed rank
  std::int64_t pid;
  char host[64];
};

void copy_text(char* dst, std::size_t cap, const std::string& s) {
  const std::size_t n = std::min(cap - 1, s.size());
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

// Waits for a message without spinning a core: OpenMPI's blocking receive polls at full speed,
// which would take the CPU from the threads that score on this machine.
void wait_for(int source, int tag) {
  int flag = 0;
  for (;;) {
    MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (flag) return;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void wait_request(MPI_Request* request) {
  int flag = 0;
  for (;;) {
    MPI_Test(request, &flag, MPI_STATUS_IGNORE);
    if (flag) return;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

int checked_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(INT32_MAX)) {
    throw Error(std::string("an MPI message of ") + std::to_string(n) + " " + what +
                " is too large; use a smaller --eval-batch or more processes");
  }
  return static_cast<int>(n);
}

// What rank 0 prints when mpirun stops the job because another rank ended. mpirun ends the
// surviving ranks with SIGTERM without saying which rank died, so rank 0 looks for the dead one among
// the ranks on its own machine (/proc: gone or a zombie); otherwise it names the ranks it was
// waiting for. The text is kept formatted in two buffers (the handler reads the one `current`
// names), so the handler only calls open/read/write.
char fault_tail[2][448];
char fault_awaited[2][96];
std::atomic<int> fault_current{-1};
constexpr int kMaxLocal = 256;
std::int64_t local_pids[kMaxLocal];
int local_ranks[kMaxLocal];
std::atomic<int> local_count{0};
// Set once rank 0 has its own error to print: mpirun's SIGTERM then ends it without a second line.
std::atomic<bool> root_reported{false};

std::size_t append(char* buf, std::size_t pos, std::size_t cap, const char* text) {
  while (*text != '\0' && pos + 1 < cap) buf[pos++] = *text++;
  buf[pos] = '\0';
  return pos;
}
std::size_t append_number(char* buf, std::size_t pos, std::size_t cap, std::int64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < 23);
  while (n > 0 && pos + 1 < cap) buf[pos++] = digits[--n];
  buf[pos] = '\0';
  return pos;
}

// Whether a process of this machine has ended: no /proc entry, or a zombie not yet reaped.
bool process_ended(std::int64_t pid) {
  char path[48];
  std::size_t n = append(path, 0, sizeof path, "/proc/");
  n = append_number(path, n, sizeof path, pid);
  append(path, n, sizeof path, "/stat");
  const int fd = ::open(path, O_RDONLY);
  if (fd < 0) return true;
  char stat[256];
  const ssize_t got = ::read(fd, stat, sizeof stat - 1);
  ::close(fd);
  if (got <= 0) return true;
  stat[got] = '\0';
  const char* paren = std::strrchr(stat, ')');  // the state follows the command name in parentheses
  return paren != nullptr && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

extern "C" void on_terminate(int) {
  if (root_reported.load()) _exit(1);
  const int c = fault_current.load();
  char line[640];
  std::size_t n = append(line, 0, sizeof line, "fool: error: ");
  int dead = -1;
  for (int i = 0; i < local_count.load() && dead < 0; ++i)
    if (process_ended(local_pids[i])) dead = local_ranks[i];
  if (dead >= 0) {
    n = append(line, n, sizeof line, "rank ");
    n = append_number(line, n, sizeof line, dead);
    n = append(line, n, sizeof line, " ended, so mpirun stopped the job");
  } else {
    n = append(line, n, sizeof line, "mpirun stopped the job because another process ended");
    if (c >= 0 && fault_awaited[c][0] != '\0') {
      n = append(line, n, sizeof line, " (rank ");
      n = append(line, n, sizeof line, fault_awaited[c]);
      n = append(line, n, sizeof line, " had not answered)");
    }
  }
  if (c >= 0) n = append(line, n, sizeof line, fault_tail[c]);
  n = append(line, n, sizeof line, "\n");
  const ssize_t ignored = ::write(2, line, n);
  (void)ignored;
  _exit(143);
}

// mpirun sends SIGTERM to every surviving rank at once; a worker lingers half a second so that
// rank 0, looking for the rank that died first, does not take a worker that merely obeyed mpirun.
extern "C" void on_terminate_worker(int) {
  struct timespec pause {0, 500000000};
  ::nanosleep(&pause, nullptr);
  _exit(143);
}

}  // namespace

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
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return true;
  }
  return false;
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
  if (size_ > 1 && rank_ == 0) {
    update_fault_line();
    std::signal(SIGTERM, on_terminate);
  } else if (size_ > 1) {
    std::signal(SIGTERM, on_terminate_worker);
  }
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
  if (rank_ == 0) copy_text(text, sizeof text, value);
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
  const int next = fault_current.load() == 0 ? 1 : 0;
  copy_text(fault_tail[next], sizeof fault_tail[next], tail);
  copy_text(fault_awaited[next], sizeof fault_awaited[next], who);
  fault_current.store(next);
}

std::string MpiWorld::start_up_check(bool ok, const std::string& identity, const std::string& message) {
  checked_ = true;
  Hello mine{};
  mine.failed = ok ? 0 : 1;
  copy_text(mine.identity, sizeof mine.identity, sha256_hex(identity.data(), identity.size()));
  copy_text(mine.who, sizeof mine.who, identity.substr(0, identity.find('|')));
  copy_text(mine.message, sizeof mine.message, message);
  mine.pid = static_cast<std::int64_t>(::getpid());
  ::gethostname(mine.host, sizeof mine.host - 1);
  std::vector<Hello> all(rank_ == 0 ? static_cast<std::size_t>(size_) : 1);
  MPI_Gather(&mine, sizeof(Hello), MPI_BYTE, all.data(), sizeof(Hello), MPI_BYTE, 0, MPI_COMM_WORLD);
  std::string verdict;
  if (rank_ == 0) {
    // The ranks on this machine, whose death rank 0 can see for itself.
    int count = 0;
    for (int r = 1; r < size_ && count < kMaxLocal; ++r) {
      const Hello& h = all[static_cast<std::size_t>(r)];
      if (std::strncmp(h.host, mine.host, sizeof mine.host) == 0) {
        local_pids[count] = h.pid;
        local_ranks[count] = r;
        ++count;
      }
    }
    local_count.store(count);
    if (!ok) {
      verdict = message;
    } else {
      for (int r = 1; r < size_ && verdict.empty(); ++r) {
        const Hello& h = all[static_cast<std::size_t>(r)];
        if (h.failed) {
          verdict = "rank " + std::to_string(r) + ": " + h.message;
        } else if (std::strcmp(h.identity, mine.identity) != 0) {
          verdict = "rank " + std::to_string(r) + " runs " + h.who + ", rank 0 runs " + mine.who +
                    ": every process of a job needs the same fool, model and settings";
        }
      }
    }
  }
  int stop = verdict.empty() ? 0 : 1;
  MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (stop && rank_ != 0) verdict = "stop";
  return verdict;
}

std::string MpiWorld::fail(const std::string& message) {
  if (!active_ || size_ < 2) return message;
  const std::string line = expect_check_ && !checked_ ? start_up_check(false, "", message) : message;
  if (rank_ == 0) {
    root_reported.store(true);
    return line;
  }
  // Most errors (a bad flag value, too many processes) are found by every rank at once. A worker that
  // ended first would make mpirun stop rank 0 before it printed the error, so a worker waits; mpirun
  // ends it when rank 0 exits.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  return "";
}

// Rank 0's classifier: splits each batch into contiguous runs of whole chunks, one per rank, scores its own block
// while the others score theirs, and puts the rows back in input order. 8-bit images (every value
// exactly k/255, as rendered genomes are) travel as bytes, anything else as floats.
class DistributedClassifier : public Classifier {
 public:
  DistributedClassifier(MpiWorld& world, std::shared_ptr<Classifier> local, std::size_t chunk)
      : world_(world), local_(std::move(local)), chunk_(chunk) {}
  ~DistributedClassifier() override {
    // Releases the workers; they exit quietly with status 1 when rank 0 is unwinding an error.
    JobHeader stop{kStop, 0, 0, 0, 0, std::uncaught_exceptions() > 0 ? 1 : 0};
    for (int r = 1; r < world_.size_; ++r) MPI_Send(&stop, sizeof stop, MPI_BYTE, r, kJobTag, MPI_COMM_WORLD);
  }
  const ModelSpec& spec() const override { return local_->spec(); }
  Backend backend() const override { return local_->backend(); }

  Matrix probabilities(const ImageBatch& images) override {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t n = images.size(), p = static_cast<std::size_t>(world_.size_);
    const std::size_t per_image = images.shape().size();
    // Rank r scores chunks [r * C / p, (r + 1) * C / p) of the C chunks of chunk_ images.
    const std::size_t chunk = chunk_ == 0 ? std::max<std::size_t>(n, 1) : chunk_;
    const std::size_t chunks = (n + chunk - 1) / chunk;
    auto block_begin = [&](std::size_t r) { return std::min(n, (r * chunks / p) * chunk); };
    const bool as_bytes = is_eight_bit(images);
    std::vector<std::uint8_t> bytes;
    if (as_bytes) {
      bytes.resize(n * per_image);
      const float* src = images.data();
      for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(std::lround(src[i] * 255.0f));
    }
    ExchangeStats stats;
    stats.calls = world_.stats_.calls + 1;
    std::vector<JobHeader> headers(p);
    std::vector<MPI_Request> requests;
    std::vector<int> awaited;
    for (std::size_t r = 1; r < p; ++r) {
      const std::size_t b = block_begin(r), e = block_begin(r + 1);
      if (b == e) continue;
      headers[r] = {as_bytes ? kBytes : kFloats, static_cast<std::int64_t>(e - b), images.shape().channels,
                    images.shape().height, images.shape().width, 0};
      MPI_Send(&headers[r], sizeof(JobHeader), MPI_BYTE, static_cast<int>(r), kJobTag, MPI_COMM_WORLD);
      requests.emplace_back();
      if (as_bytes) {
        const int count = checked_count((e - b) * per_image, "bytes");
        MPI_Isend(bytes.data() + b * per_image, count, MPI_BYTE, static_cast<int>(r), kImagesTag, MPI_COMM_WORLD,
                  &requests.back());
        stats.bytes_sent += static_cast<std::size_t>(count);
      } else {
        const int count = checked_count((e - b) * per_image, "floats");
        MPI_Isend(images.image(b), count, MPI_FLOAT, static_cast<int>(r), kImagesTag, MPI_COMM_WORLD, &requests.back());
        stats.bytes_sent += static_cast<std::size_t>(count) * sizeof(float);
      }
      stats.bytes_sent += sizeof(JobHeader);
      awaited.push_back(static_cast<int>(r));
    }
    world_.set_awaited(awaited);
    const std::size_t cols = static_cast<std::size_t>(spec().num_classes);
    Matrix out(n, cols);
    const auto own_start = std::chrono::steady_clock::now();
    if (block_begin(1) > 0) {
      const Matrix own = local_->probabilities(images.slice(0, block_begin(1)));
      std::copy(own.data(), own.data() + own.rows() * cols, out.data());
    }
    stats.slowest_scoring_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - own_start).count();
    for (auto& request : requests) wait_request(&request);
    std::string failure;
    for (std::size_t r = 1; r < p; ++r) {
      const std::size_t b = block_begin(r), e = block_begin(r + 1);
      if (b == e) continue;
      wait_for(static_cast<int>(r), kReplyTag);
      ReplyHeader reply{};
      MPI_Recv(&reply, sizeof reply, MPI_BYTE, static_cast<int>(r), kReplyTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      stats.bytes_received += sizeof reply;
      if (reply.status != 0) {
        std::string message(static_cast<std::size_t>(reply.message_bytes), '\0');
        MPI_Recv(message.data(), static_cast<int>(message.size()), MPI_CHAR, static_cast<int>(r), kRowsTag,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (failure.empty()) failure = "rank " + std::to_string(r) + ": " + message;
      } else {
        if (reply.rows != static_cast<std::int64_t>(e - b) || reply.cols != static_cast<std::int64_t>(cols)) {
          throw Error("rank " + std::to_string(r) + " answered with " + std::to_string(reply.rows) + "x" +
                      std::to_string(reply.cols) + " rows, expected " + std::to_string(e - b) + "x" +
                      std::to_string(cols));
        }
        MPI_Recv(out.row(b), checked_count((e - b) * cols, "floats"), MPI_FLOAT, static_cast<int>(r), kRowsTag,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        stats.bytes_received += (e - b) * cols * sizeof(float);
        stats.slowest_scoring_seconds = std::max(stats.slowest_scoring_seconds, reply.seconds);
      }
      awaited.erase(std::find(awaited.begin(), awaited.end(), static_cast<int>(r)));
      world_.set_awaited(awaited);
    }
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    world_.stats_ = stats;
    if (!failure.empty()) throw Error(failure);
    return out;
  }

 private:
  static bool is_eight_bit(const ImageBatch& images) {
    const float* v = images.data();
    const std::size_t total = images.size() * images.shape().size();
    for (std::size_t i = 0; i < total; ++i) {
      const long k = std::lround(v[i] * 255.0f);
      if (k < 0 || k > 255 || static_cast<float>(k) * (1.0f / 255.0f) != v[i]) return false;
    }
    return true;
  }

  MpiWorld& world_;
  std::shared_ptr<Classifier> local_;
  std::size_t chunk_;
};

void MpiWorld::serve(Classifier& local) {
  std::vector<std::uint8_t> bytes;
  for (;;) {
    wait_for(0, kJobTag);
    JobHeader job{};
    MPI_Recv(&job, sizeof job, MPI_BYTE, 0, kJobTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (job.kind == kStop) {
      if (job.root_failed) throw QuietExit();
      return;
    }
    const ImageShape shape{static_cast<int>(job.channels), static_cast<int>(job.height), static_cast<int>(job.width)};
    const std::size_t count = static_cast<std::size_t>(job.count);
    ImageBatch batch(count, shape);
    if (job.kind == kBytes) {
      bytes.resize(count * shape.size());
      wait_for(0, kImagesTag);
      MPI_Recv(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, kImagesTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      for (std::size_t i = 0; i < count; ++i) batch.set(i, bytes.data() + i * shape.size());
    } else {
      wait_for(0, kImagesTag);
      MPI_Recv(batch.data(), static_cast<int>(count * shape.size()), MPI_FLOAT, 0, kImagesTag, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
    }
    ReplyHeader reply{};
    Matrix rows;
    std::string message;
    const auto start = std::chrono::steady_clock::now();
    try {
      rows = local.probabilities(batch);
    } catch (const std::exception& e) {
      message = e.what();
      message = message.substr(0, message.find('\n'));
    }
    reply.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (message.empty()) {
      reply.rows = static_cast<std::int64_t>(rows.rows());
      reply.cols = static_cast<std::int64_t>(rows.cols());
      MPI_Send(&reply, sizeof reply, MPI_BYTE, 0, kReplyTag, MPI_COMM_WORLD);
      MPI_Send(rows.data(), static_cast<int>(rows.rows() * rows.cols()), MPI_FLOAT, 0, kRowsTag, MPI_COMM_WORLD);
    } else {
      reply.status = 1;
      reply.message_bytes = static_cast<std::int64_t>(message.size());
      MPI_Send(&reply, sizeof reply, MPI_BYTE, 0, kReplyTag, MPI_COMM_WORLD);
      MPI_Send(message.data(), static_cast<int>(message.size()), MPI_CHAR, 0, kRowsTag, MPI_COMM_WORLD);
    }
  }
}

std::shared_ptr<Classifier> MpiWorld::share_classifier(std::shared_ptr<Classifier> local, std::size_t chunk,
                                                       const std::string& identity) {
  // Each process scores its chunks one by one, as a single process would.
  local = make_chunking_classifier(std::move(local), chunk);
  if (!active_ || size_ < 2) return local;
  const std::string verdict = start_up_check(true, version() + ", model " + local->spec().sha256.substr(0, 12) + "|" + identity, "");
  if (!verdict.empty()) {
    if (rank_ == 0) throw Error(verdict);
    throw QuietExit();
  }
  if (rank_ == 0) return std::make_shared<DistributedClassifier>(*this, std::move(local), chunk);
  serve(*local);
  return nullptr;
}

}  // namespace fool::parallel

// ---- tasks -----------------------------------------------------------------------------------

namespace fool::parallel {

namespace {

constexpr int kTaskTag = 21, kOutcomeTag = 22;

// Tasks and outcomes travel as MessagePack with the files as binary values.
std::vector<std::uint8_t> pack(const nlohmann::json& head, const FileMap& files) {
  nlohmann::json j = {{"head", head}, {"files", nlohmann::json::object()}};
  for (const auto& [name, bytes] : files) j["files"][name] = nlohmann::json::binary(bytes);
  return nlohmann::json::to_msgpack(j);
}
void unpack(const std::vector<std::uint8_t>& bytes, nlohmann::json& head, FileMap& files) {
  const nlohmann::json j = nlohmann::json::from_msgpack(bytes);
  head = j.at("head");
  for (const auto& [name, value] : j.at("files").items()) files[name] = value.get_binary();
}
void send_bytes(const std::vector<std::uint8_t>& bytes, int to, int tag) {
  MPI_Send(bytes.data(), checked_count(bytes.size(), "bytes"), MPI_BYTE, to, tag, MPI_COMM_WORLD);
}
std::vector<std::uint8_t> receive_bytes(int from, int tag, int* source) {
  MPI_Status status;
  MPI_Probe(from, tag, MPI_COMM_WORLD, &status);
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(count));
  MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (source != nullptr) *source = status.MPI_SOURCE;
  return bytes;
}

}  // namespace

void MpiWorld::check_same_job(const std::string& identity) {
  if (!active_ || size_ < 2) return;
  const std::string verdict = start_up_check(true, version() + "|" + identity, "");
  if (verdict.empty()) return;
  if (rank_ == 0) throw Error(verdict);
  throw QuietExit();
}

void MpiWorld::run_tasks(const std::vector<Task>& tasks, const TaskRunner& run, const TaskDone& done) {
  if (!active_ || size_ < 2) {
    Distribution::run_tasks(tasks, run, done);
    return;
  }
  // Rank 0 hands out tasks in order to whichever process is free, and runs tasks itself on a
  // thread of its own (only this thread talks MPI).
  std::exception_ptr failure;
  std::size_t next = 0;
  std::vector<long> busy(static_cast<std::size_t>(size_), -1);
  auto assign = [&](int r) {
    if (failure || next >= tasks.size()) return;
    send_bytes(pack(tasks[next].params, tasks[next].files), r, kTaskTag);
    busy[static_cast<std::size_t>(r)] = static_cast<long>(next++);
  };
  auto finish = [&](std::size_t index, TaskOutcome outcome) {
    if (failure) return;
    try {
      done(index, std::move(outcome));
    } catch (...) {
      failure = std::current_exception();
    }
  };
  struct Local {
    std::thread thread;
    std::atomic<bool> finished{false};
    long index = -1;
    TaskOutcome outcome;
    std::exception_ptr error;
  } local;
  auto start_local = [&] {
    if (failure || next >= tasks.size()) return;
    local.index = static_cast<long>(next++);
    local.finished = false;
    local.thread = std::thread([&local, &tasks, &run] {
      try {
        local.outcome = run(tasks[static_cast<std::size_t>(local.index)]);
      } catch (...) {
        local.error = std::current_exception();
      }
      local.finished = true;
    });
  };
  for (int r = 1; r < size_; ++r) assign(r);
  start_local();
  for (;;) {
    const bool remote = std::any_of(busy.begin(), busy.end(), [](long b) { return b >= 0; });
    if (!remote && local.index < 0) break;
    if (local.index >= 0 && local.finished) {
      local.thread.join();
      const auto index = static_cast<std::size_t>(local.index);
      local.index = -1;
      if (local.error) {
        if (!failure) failure = local.error;
        local.error = nullptr;
      } else {
        finish(index, std::move(local.outcome));
      }
      start_local();
      continue;
    }
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kOutcomeTag, MPI_COMM_WORLD, &flag, &status);
    if (!flag) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    int source = 0;
    const auto bytes = receive_bytes(status.MPI_SOURCE, kOutcomeTag, &source);
    const auto index = static_cast<std::size_t>(busy[static_cast<std::size_t>(source)]);
    busy[static_cast<std::size_t>(source)] = -1;
    TaskOutcome outcome;
    unpack(bytes, outcome.result, outcome.files);
    if (outcome.result.contains("error")) {
      if (!failure) failure = std::make_exception_ptr(Error("rank " + std::to_string(source) + ": " +
                                                            outcome.result["error"].get<std::string>()));
    } else {
      finish(index, std::move(outcome));
    }
    assign(source);
  }
  if (failure) std::rethrow_exception(failure);
}

void MpiWorld::serve_tasks(const TaskRunner& run) {
  if (!active_ || size_ < 2) return;
  for (;;) {
    wait_for(0, kTaskTag);
    Task task;
    unpack(receive_bytes(0, kTaskTag, nullptr), task.params, task.files);
    if (task.params.value("stop", false)) {
      if (task.params.value("failed", false)) throw QuietExit();
      return;
    }
    TaskOutcome outcome;
    try {
      outcome = run(task);
    } catch (const std::exception& e) {
      std::string message = e.what();
      outcome = TaskOutcome{{{"error", message.substr(0, message.find('\n'))}}, {}};
    }
    send_bytes(pack(outcome.result, outcome.files), 0, kOutcomeTag);
  }
}

void MpiWorld::end_tasks(bool failed) {
  if (!active_ || size_ < 2 || rank_ != 0) return;
  const auto stop = pack({{"stop", true}, {"failed", failed}}, {});
  for (int r = 1; r < size_; ++r) send_bytes(stop, r, kTaskTag);
}

}  // namespace fool::parallel
