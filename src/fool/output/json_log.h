#pragma once
// JsonLog: the one writer of log.jsonl. As a RunObserver it appends each progress event's record
// as one JSON line, flushed at once, so an interrupted run keeps every line it reported.
#include <fstream>
#include <string>

#include "fool/core/run_events.h"

namespace fool {

class JsonLog : public RunObserver {
 public:
  // append: keep the lines already in `path` (a resumed run); otherwise start it empty.
  JsonLog(std::string path, bool append);
  void on_progress(const ProgressEvent& event) override;

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace fool
