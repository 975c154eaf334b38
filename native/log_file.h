// One log file as the copier thread sees it: opened (created 0640, owned by the service user),
// appended to, rotated by renames. Every call may block on the disk, so only the copier's
// own thread calls it once the file is open; no lock is held around it.
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include <string>

namespace immortal {

struct WriteResult {
  size_t written;  // bytes of data written (a leading newline not counted)
  int err;         // 0, or the errno that stopped the write
};

// What a rotation did: rotateErr (the rotation failed, the old file is written on, reopened)
// and openErr (no file is open now: the lines go nowhere until a retry), each 0 or an errno
// with the call that returned it.
struct RotateResult {
  int rotateErr = 0;
  const char* rotateSyscall = "rename";
  int openErr = 0;
  const char* openSyscall = "open";
};

class LogFile {
 public:
  LogFile(std::string path, int uid, int gid) : path_(std::move(path)), uid_(uid), gid_(gid) {}
  ~LogFile() { Close(); }

  const std::string& path() const { return path_; }
  bool isOpen() const { return fd_ >= 0; }
  uint64_t size() const { return size_; }
  // When the current file was started (epoch ms): age rotation counts from here.
  int64_t bornAt() const { return bornAt_; }
  void restartAge(int64_t nowMs) { bornAt_ = nowMs; }
  // The last write failed after part of a line: what is written next starts on a new line.
  void afterFailure() { needNewline_ = endsMidLine_; }

  // Appends to the file, creating it 0640 (whatever the umask) owned by uid:gid. Returns 0
  // or an errno; syscall names the call that failed.
  int Open(int64_t nowMs, const char** syscall);
  void Close();
  // Closes the file, rotates it and opens a new one.
  // path.(keep-1) → path.keep … path.1 → path.2: the oldest is replaced by a rename, so there
  // is no moment without the newer files; gaps are skipped. Then path.1 becomes a second
  // name of path (a hard link, renamed into place), and a new file, created as path.new,
  // is renamed over path: a reader of path finds the old file, then the new one, never
  // nothing. Where the filesystem has no hard links, path is renamed to path.1 and created
  // again, as svlogd does with `current`: missing for a moment. A failed rename leaves the
  // chain as it is and the old file open again, so the lines go on somewhere.
  RotateResult Rotate(int keep, int64_t nowMs);
  // Writes all of data (after a newline, when a failed write left half a line), retrying
  // short writes; stops at the first error.
  WriteResult Write(const char* data, size_t length);

 private:
  // The promised mode (whatever the umask) and owner of a file we created; 0 or the errno.
  int Own(int fd, const char** syscall) const;
  // Opens fd as the file being written: its size, and when it was born.
  void Adopt(int fd, bool created, int64_t nowMs);
  // Creates path.new (0640, owned by uid:gid) and renames it over path.
  int CreateOver(int64_t nowMs, const char** syscall);

  const std::string path_;
  const int uid_;
  const int gid_;
  int fd_ = -1;
  uint64_t size_ = 0;
  int64_t bornAt_ = 0;
  bool endsMidLine_ = false;
  bool needNewline_ = false;
};

}  // namespace immortal
