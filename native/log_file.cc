#include "log_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace immortal {

namespace {

constexpr mode_t kLogMode = 0640;

struct FileFacts {
  bool regular;
  uint64_t size;
  int64_t birthMs;  // 0: not recorded
};

// statx on Linux: fstat is a GLIBC_2.33 symbol there, and the prebuilds promise glibc 2.32
// (scripts/check-prebuilds.mjs). An existing file is as old as its birth time, where the
// filesystem records one.
FileFacts Facts(int fd) {
#if defined(__linux__)
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE | STATX_BTIME, &sx) != 0) return {false, 0, 0};
  const bool born = (sx.stx_mask & STATX_BTIME) != 0 && sx.stx_btime.tv_sec > 0;
  return {S_ISREG(sx.stx_mode), sx.stx_size,
          born ? static_cast<int64_t>(sx.stx_btime.tv_sec) * 1000 + sx.stx_btime.tv_nsec / 1000000 : 0};
#else
  struct stat st;
  if (fstat(fd, &st) != 0) return {false, 0, 0};
#if defined(__APPLE__) || defined(__FreeBSD__)
  const int64_t birthMs = static_cast<int64_t>(st.st_birthtimespec.tv_sec) * 1000 + st.st_birthtimespec.tv_nsec / 1000000;
#else
  const int64_t birthMs = 0;
#endif
  return {S_ISREG(st.st_mode), static_cast<uint64_t>(st.st_size), birthMs > 0 ? birthMs : 0};
#endif
}

int RenameIfExists(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) == 0 || errno == ENOENT) return 0;
  return errno;
}

}  // namespace

int LogFile::Own(int fd, const char** syscall) const {
  if (fchmod(fd, kLogMode) < 0 || (uid_ >= 0 && fchown(fd, uid_, gid_) < 0)) {
    *syscall = uid_ >= 0 ? "fchown" : "fchmod";
    return errno;
  }
  return 0;
}

int LogFile::Open(int64_t nowMs, const char** syscall) {
  Close();
  bool created = true;
  int fd = open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, kLogMode);
  if (fd >= 0) {
    if (const int err = Own(fd, syscall); err != 0) {
      close(fd);
      return err;  // no file to write to rather than one with the wrong owner
    }
  } else if (errno == EEXIST) {
    created = false;
    fd = open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, kLogMode);
  }
  if (fd < 0) {
    *syscall = "open";
    return errno;
  }
  Adopt(fd, created, nowMs);
  return 0;
}

void LogFile::Adopt(int fd, bool created, int64_t nowMs) {
  const FileFacts facts = Facts(fd);
  fd_ = fd;
  size_ = facts.regular ? facts.size : 0;
  endsMidLine_ = false;
  needNewline_ = false;
  bornAt_ = created || !facts.regular || facts.birthMs == 0 ? nowMs : facts.birthMs;
}

void LogFile::Close() {
  if (fd_ < 0) return;
  // EIO on the close of a full or vanished filesystem: the lines are already counted.
  close(fd_);
  fd_ = -1;
}

int LogFile::CreateOver(int64_t nowMs, const char** syscall) {
  const std::string fresh = path_ + ".new";
  // A path.new left by a crash in the middle of a rotation is ours: truncated and reused.
  const int fd = open(fresh.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, kLogMode);
  if (fd < 0) {
    *syscall = "open";
    return errno;
  }
  int err = Own(fd, syscall);
  if (err == 0 && rename(fresh.c_str(), path_.c_str()) != 0) {
    err = errno;
    *syscall = "rename";
  }
  if (err != 0) {
    close(fd);
    unlink(fresh.c_str());
    return err;
  }
  Adopt(fd, true, nowMs);
  return 0;
}

RotateResult LogFile::Rotate(int keep, int64_t nowMs) {
  Close();
  RotateResult result;
  // The rotation failed: the old file takes the lines again.
  auto writeOn = [&](int err, const char* syscall) {
    result.rotateErr = err;
    result.rotateSyscall = syscall;
    result.openErr = Open(nowMs, &result.openSyscall);
    return result;
  };
  for (int i = keep - 1; i >= 1; i--) {
    const int err = RenameIfExists(path_ + "." + std::to_string(i), path_ + "." + std::to_string(i + 1));
    if (err != 0) return writeOn(err, "rename");
  }
  const std::string first = path_ + ".1";
  const std::string linking = first + ".link";
  unlink(linking.c_str());  // left by a crash in the middle of a rotation
  if (link(path_.c_str(), linking.c_str()) == 0) {
    // rename, not link, onto path.1: with num 1 an old path.1 is still there to replace.
    if (rename(linking.c_str(), first.c_str()) != 0) {
      const int err = errno;
      unlink(linking.c_str());
      return writeOn(err, "rename");
    }
    const char* syscall = "open";
    const int err = CreateOver(nowMs, &syscall);
    // path and path.1 are the same file until a new one is in place: write on there.
    return err == 0 ? result : writeOn(err, syscall);
  }
  if (errno != ENOENT) {  // ENOENT: path was removed by hand, there is nothing to keep
    const int err = RenameIfExists(path_, first);
    if (err != 0) return writeOn(err, "rename");
  }
  result.openErr = Open(nowMs, &result.openSyscall);
  return result;
}

WriteResult LogFile::Write(const char* data, size_t length) {
  static const char newline = '\n';
  size_t done = 0;
  while (needNewline_ || done < length) {
    struct iovec parts[2];
    int count = 0;
    if (needNewline_) parts[count++] = {const_cast<char*>(&newline), 1};
    parts[count++] = {const_cast<char*>(data + done), length - done};
    const ssize_t n = writev(fd_, parts, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {done, n < 0 ? errno : EIO};
    size_t ours = static_cast<size_t>(n);
    size_ += ours;
    if (needNewline_) {
      needNewline_ = false;
      ours--;
    }
    done += ours;
    endsMidLine_ = done > 0 ? data[done - 1] != '\n' : endsMidLine_;
  }
  return {done, 0};
}

}  // namespace immortal
