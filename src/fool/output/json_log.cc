#include "fool/output/json_log.h"

#include "fool/core/error.h"

namespace fool {

JsonLog::JsonLog(std::string path, bool append)
    : path_(std::move(path)), out_(path_, append ? std::ios::app : std::ios::trunc) {
  if (!out_) throw Error(path_ + ": cannot write");
}

void JsonLog::on_progress(const ProgressEvent& event) {
  if (event.record.is_null()) return;
  out_ << event.record.dump() << "\n";
  out_.flush();
  if (!out_) throw Error(path_ + ": write failed");
}

}  // namespace fool
