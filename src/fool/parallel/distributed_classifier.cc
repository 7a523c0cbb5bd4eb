// Rank 0's classifier over every process of the job, and the loop the other ranks score in.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <exception>

#include "fool/model/cropping_classifier.h"
#include "fool/parallel/mpi_internal.h"
#include "fool/parallel/mpi_world.h"

namespace fool::parallel {

using namespace internal;  // the message tags and headers

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
      requests.emplace_back();
      send_block(static_cast<int>(r), b, e, images, as_bytes, bytes, headers[r], &requests.back(), stats);
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
      receive_block(static_cast<int>(r), b, e, out, stats, failure);
      awaited.erase(std::find(awaited.begin(), awaited.end(), static_cast<int>(r)));
      world_.set_awaited(awaited);
    }
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    world_.stats_ = stats;
    if (!failure.empty()) throw Error(failure);
    return out;
  }

 private:
  // Sends rank r its header and the images [b, e) (as bytes, `bytes` holding the whole batch, or as
  // floats); `request` completes when the images have left.
  void send_block(int r, std::size_t b, std::size_t e, const ImageBatch& images, bool as_bytes,
                  const std::vector<std::uint8_t>& bytes, JobHeader& header, MPI_Request* request,
                  ExchangeStats& stats) {
    const std::size_t per_image = images.shape().size();
    header = {as_bytes ? kBytes : kFloats, static_cast<std::int64_t>(e - b),
              images.shape().channels,     images.shape().height,
              images.shape().width,        0};
    MPI_Send(&header, sizeof(JobHeader), MPI_BYTE, r, kJobTag, MPI_COMM_WORLD);
    if (as_bytes) {
      const int count = checked_count((e - b) * per_image, "bytes");
      MPI_Isend(bytes.data() + b * per_image, count, MPI_BYTE, r, kImagesTag, MPI_COMM_WORLD, request);
      stats.bytes_sent += static_cast<std::size_t>(count);
    } else {
      const int count = checked_count((e - b) * per_image, "floats");
      MPI_Isend(images.image(b), count, MPI_FLOAT, r, kImagesTag, MPI_COMM_WORLD, request);
      stats.bytes_sent += static_cast<std::size_t>(count) * sizeof(float);
    }
    stats.bytes_sent += sizeof(JobHeader);
  }

  // Receives rank r's rows [b, e) into `out`, or the message of its failure into `failure` (the
  // first failure kept); rows of another shape are an error naming the rank.
  void receive_block(int r, std::size_t b, std::size_t e, Matrix& out, ExchangeStats& stats, std::string& failure) {
    const std::size_t cols = out.cols();
    wait_for(r, kReplyTag);
    ReplyHeader reply{};
    MPI_Recv(&reply, sizeof reply, MPI_BYTE, r, kReplyTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    stats.bytes_received += sizeof reply;
    if (reply.status != 0) {
      std::string message(static_cast<std::size_t>(reply.message_bytes), '\0');
      MPI_Recv(message.data(), static_cast<int>(message.size()), MPI_CHAR, r, kRowsTag, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
      if (failure.empty()) failure = "rank " + std::to_string(r) + ": " + message;
      return;
    }
    if (reply.rows != static_cast<std::int64_t>(e - b) || reply.cols != static_cast<std::int64_t>(cols)) {
      throw Error("rank " + std::to_string(r) + " answered with " + std::to_string(reply.rows) + "x" +
                  std::to_string(reply.cols) + " rows, expected " + std::to_string(e - b) + "x" + std::to_string(cols));
    }
    MPI_Recv(out.row(b), checked_count((e - b) * cols, "floats"), MPI_FLOAT, r, kRowsTag, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    stats.bytes_received += (e - b) * cols * sizeof(float);
    stats.slowest_scoring_seconds = std::max(stats.slowest_scoring_seconds, reply.seconds);
  }

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
      MPI_Recv(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, kImagesTag, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
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
  const std::string verdict =
      start_up_check(true, version() + ", model " + local->spec().sha256.substr(0, 12) + "|" + identity, "");
  if (!verdict.empty()) {
    if (rank_ == 0) throw Error(verdict);
    throw QuietExit();
  }
  if (rank_ == 0) return std::make_shared<DistributedClassifier>(*this, std::move(local), chunk);
  serve(*local);
  return nullptr;
}

}  // namespace fool::parallel
