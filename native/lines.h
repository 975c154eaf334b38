// A service's byte stream cut into whole lines, for the log copier (log_copier.cc). Everything
// downstream (rotation, the logger, drop counting) works on whole lines, so a line is never
// split across two log files or half dropped. Portable C++: no system calls.
#pragma once
#include <stdint.h>
#include <string.h>

#include <cstddef>
#include <string>

namespace immortal {

// A service that never writes a newline must not make us hold its output forever: a line
// longer than this is written in pieces of this many bytes, each ending with a newline.
constexpr size_t kPartialLineCap = 64 * 1024;

// `2026-11-28T22:52:09.123Z `: RFC 3339 in UTC with milliseconds, the clock and format of the
// supervisor's own messages; UTC so that logs of hosts in different zones sort together.
constexpr size_t kTimestampBytes = 25;
void FormatTimestamp(int64_t epochMs, char out[kTimestampBytes]);

size_t CountLines(const char* data, size_t length);

// The last newline in data, or nullptr (memrchr is a GNU extension).
const char* LastNewline(const char* data, size_t length);

// Appends data (whole lines; or, with addNewline, one line without its newline) to `to`,
// each line preceded by prefix.
void AppendStamped(std::string& to, const char* data, size_t length, bool addNewline, const char* prefix,
                   size_t prefixLength);

// Holds the unfinished last line between reads and hands on whole lines. Emit is called as
// emit(data, length, addNewline): one or more whole lines, or (addNewline) one line whose
// newline the cutter adds: a piece of an overlong line, or an unfinished line at the end.
class LineCutter {
 public:
  explicit LineCutter(size_t cap) : cap_(cap) {}

  size_t heldBytes() const { return held_.size(); }

  template <typename Emit>
  void Push(const char* data, size_t length, Emit&& emit) {
    if (length == 0) return;
    const char* last = LastNewline(data, length);
    if (last == nullptr) {
      held_.append(data, length);
      CutLongHeld(emit);
      return;
    }
    const size_t firstEnd = static_cast<const char*>(memchr(data, '\n', length)) - data + 1;
    const size_t lastEnd = static_cast<size_t>(last - data) + 1;
    // The common case: no line longer than the cap, so the whole lines of a read pass as one
    // block; only the line that straddles two reads is put together.
    if (held_.size() + firstEnd - 1 > cap_ || MayHoldLongLine(data, firstEnd, lastEnd - 1)) {
      PushSlowly(data, length, emit);
      return;
    }
    size_t from = 0;
    if (!held_.empty()) {
      held_.append(data, firstEnd);
      emit(held_.data(), held_.size(), false);
      held_.clear();
      from = firstEnd;
    }
    if (lastEnd > from) emit(data + from, lastEnd - from, false);
    if (lastEnd < length) {
      held_.append(data + lastEnd, length - lastEnd);
      CutLongHeld(emit);
    }
  }

  // End of a run or of the stream: an unfinished line goes out with a newline added.
  template <typename Emit>
  void Flush(Emit&& emit) {
    if (held_.empty()) return;
    emit(held_.data(), held_.size(), true);
    held_.clear();
  }

 private:
  // Whether the lines in [start, end) might include one longer than the cap. Such a line
  // holds a whole block of cap/2 bytes without a newline, so one search per block answers
  // it: a few searches per megabyte instead of one per line.
  bool MayHoldLongLine(const char* data, size_t start, size_t end) const {
    if (end - start <= cap_) return false;
    const size_t block = cap_ / 2 > 0 ? cap_ / 2 : 1;
    for (size_t at = start; at + block <= end; at += block) {
      if (memchr(data + at, '\n', block) == nullptr) return true;
    }
    return false;
  }

  // Line by line, every line longer than the cap cut into cap-sized pieces.
  template <typename Emit>
  void PushSlowly(const char* data, size_t length, Emit& emit) {
    size_t start = 0;
    while (start < length) {
      const void* newline = memchr(data + start, '\n', length - start);
      const size_t end = newline == nullptr ? length : static_cast<const char*>(newline) - data + 1;
      if (newline == nullptr) {
        held_.append(data + start, end - start);
        break;
      }
      const char* line = data + start;
      size_t lineLength = end - start;
      if (!held_.empty()) {
        held_.append(line, lineLength);
        line = held_.data();
        lineLength = held_.size();
      }
      for (; lineLength - 1 > cap_; line += cap_, lineLength -= cap_) emit(line, cap_, true);
      emit(line, lineLength, false);
      held_.clear();
      start = end;
    }
    CutLongHeld(emit);
  }

  // Held bytes beyond the cap go out as cap-sized lines; the rest stays held.
  template <typename Emit>
  void CutLongHeld(Emit& emit) {
    if (held_.size() <= cap_) return;
    size_t at = 0;
    for (; held_.size() - at > cap_; at += cap_) emit(held_.data() + at, cap_, true);
    held_.erase(0, at);
  }

  std::string held_;
  const size_t cap_;
};

}  // namespace immortal
