// LogCopier: one output stream of a service (its stdout, or its stderr with a file of its own)
// copied from its pipe to its log file by a thread of its own: read, cut into lines, stamp,
// write, rotate, reopen. The copy is what a log costs, and done this way it is two system
// calls and a memcpy per read, like svlogd's or supervisord's loop (1 GB of 100-byte lines
// at the speed of a direct redirect), while the main thread stays free for supervision, and
// a hung disk blocks only this thread, never restarts, signals or status.
//
// The main thread keeps three things: endOfRun (a service exited: read what is in the pipe
// and end its unfinished line before the next start writes), the logger (whole lines are
// handed to JS when `forward` is set), and the decisions that need JS (when to give up on a
// close). Everything the two threads share is under one mutex, never held across a call that
// may block on the disk or wait for input.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "lines.h"
#include "log_copier.h"
#include "log_file.h"
#include "spawn.h"

namespace immortal {

namespace {

// One read: in a C prototype 128 KiB reads matched a direct redirect (0.57-0.65 s per GB),
// 1 MiB reads did worse (0.68-1.11 s).
constexpr size_t kReadBytes = 128 * 1024;
// Queued for the file above this: the pipe is not read, so the service blocks on it instead of
// our memory growing.
constexpr size_t kHighWaterBytes = 1024 * 1024;
// Lines waiting for the main thread to take them to the logger.
constexpr size_t kForwardBytes = 1024 * 1024;
// At a service's exit: read at most this much at once (a grandchild may keep writing).
constexpr size_t kEndOfRunMaxBytes = 4 * 1024 * 1024;
// At close: give up on end of input after this long without data (a daemonized grandchild may
// hold the pipe forever), and in any case after kDrainMaxMs (one that never stops writing).
constexpr int64_t kDrainIdleMs = 1000;
constexpr int64_t kDrainMaxMs = 5000;
// The thread needs little stack: its buffers are on the heap.
constexpr size_t kThreadStackBytes = 256 * 1024;

int64_t ClockMs(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
// Timestamps and file ages are wall-clock; waits are monotonic.
int64_t RealtimeMs() { return ClockMs(CLOCK_REALTIME); }
int64_t MonotonicMs() { return ClockMs(CLOCK_MONOTONIC); }

int Timeout(int64_t ms) { return static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30)); }

struct CopierOptions {
  std::string file;  // empty: no file (the lines only go to the logger)
  int uid = -1;
  int gid = -1;
  uint64_t sizeLimit = 0;  // bytes; 0: no size rotation
  int64_t ageMs = 0;       // 0: no age rotation
  int keep = 1;            // rotated files kept (at least one: rotation never deletes the only copy)
  bool timestamp = false;
  bool forward = false;     // whole lines to JS for the logger
  int64_t retryMs = 1000;   // after a write error, lines are dropped this long before the next try
  size_t lineCap = kPartialLineCap;
};

// What the JS object and the thread share. Fields marked "thread" are touched by the thread
// alone (the file, and the batch being written, which it reads without the lock).
class CopierState : public std::enable_shared_from_this<CopierState> {
 public:
  CopierState(const CopierOptions& options, std::unique_ptr<LogFile> file)
      : options_(options), file_(std::move(file)), cutter_(options.lineCap), readBuffer_(new char[kReadBytes]) {}

  ~CopierState() { CloseFds(); }

  // Takes readFd (made nonblocking) and makes the wake-up pipe; the thread starts with Start().
  // An errno and the call that failed; then readFd is still the caller's.
  int Prepare(int readFd, const char** syscall) {
    int wake[2];
    if (PipeCloexec(wake) < 0) return *syscall = "pipe", errno;
    wakeRead_ = wake[0];
    wakeWrite_ = wake[1];
    fcntl(wakeRead_, F_SETFL, O_NONBLOCK);
    fcntl(wakeWrite_, F_SETFL, O_NONBLOCK);
    if (fcntl(readFd, F_SETFL, fcntl(readFd, F_GETFL) | O_NONBLOCK) < 0) return *syscall = "fcntl", errno;
    readFd_ = readFd;
    return 0;
  }

  // Starts the copy. 0, or an errno (then nothing runs, and Dispose() is still to be called).
  int Start(Napi::Env env, Napi::Function callback) {
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "immortal.logCopier", 0, 1);
    // libuv's thread, not pthread_create: that is a GLIBC_2.34 symbol, and the prebuilds
    // promise glibc 2.32 (scripts/check-prebuilds.mjs). Node exports libuv.
    uv_thread_options_t options;
    options.flags = UV_THREAD_HAS_STACK_SIZE;
    options.stack_size = kThreadStackBytes;
    // Signals are for the main thread (libuv's handlers, the reaper): the thread starts with
    // all of them blocked, so none interrupts a write half-way or runs a handler here.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    auto* self = new std::shared_ptr<CopierState>(shared_from_this());
    const int err = uv_thread_create_ex(&thread_, &options, Main, self);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (err != 0) {
      delete self;
      tsfn_.Release();
      return -err;
    }
    started_ = true;
    return 0;
  }

  // Before Start() only: closes the file and the pipe at once (a service that never started).
  void Dispose() {
    if (started_) return;
    if (file_ != nullptr) file_->Close();
    CloseFds();
  }

  // ── the main thread's side ──

  // The service exited: what it wrote is all in the pipe by now. Read it at once and end its
  // unfinished last line, so the next start's first line does not run on from it.
  void EndOfRun() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (inputDone_ || closing_ || abandoned_) return;
      for (size_t total = 0; total < kEndOfRunMaxBytes;) {
        const ssize_t n = read(readFd_, readBuffer_.get(), kReadBytes);
        if (n <= 0) break;  // EAGAIN: the pipe is empty
        total += static_cast<size_t>(n);
        Feed(readBuffer_.get(), static_cast<size_t>(n));
      }
      FlushUnfinishedLine();
      WakeLocked();
    }
  }

  void Reopen() {
    std::lock_guard<std::mutex> lock(mutex_);
    wantReopen_ = true;
    WakeLocked();
  }

  // The caller has closed its write end: read until every writer has closed theirs (bounded),
  // write everything, close the file; then the callback gets "closed".
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return;
    closing_ = true;
    closeAt_ = lastActivity_ = MonotonicMs();
    WakeLocked();
  }

  // The close took too long (a hung disk): what is not written yet counts as dropped now, and
  // the thread stops as soon as its write returns, if ever.
  void Abandon() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_ || abandoned_) return;
    abandoned_ = true;
    if (file_ != nullptr) {
      Drop(QueuedLines() + (cutter_.heldBytes() > 0 ? 1 : 0));
    }
    pending_.clear();
    WakeLocked();
  }

  double DroppedLines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<double>(dropped_);
  }

  bool LastError(std::string* error) {
    std::lock_guard<std::mutex> lock(mutex_);
    *error = error_;
    return hasError_;
  }

  void Unref(Napi::Env env) { tsfn_.Unref(env); }

 private:
  static void Main(void* arg) {
    auto* self = static_cast<std::shared_ptr<CopierState>*>(arg);
    (*self)->Run();
    delete self;
  }

  // Under the lock: the thread closes the pipe when it ends, and the number may then be reused.
  void Wake() {
    std::lock_guard<std::mutex> lock(mutex_);
    WakeLocked();
  }

  void WakeLocked() {
    const char byte = 0;
    // A full wake pipe already holds a wake-up.
    if (wakeWrite_ >= 0) (void)!write(wakeWrite_, &byte, 1);
  }

  void CloseFds() {
    for (int* fd : {&readFd_, &wakeRead_, &wakeWrite_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }

  // ── the thread ──

  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!abandoned_) {
      if (file_ != nullptr && Maintain(lock)) continue;
      if (file_ != nullptr && !failing_ && HasBytesToWrite()) {
        WriteBatch(lock);
        continue;
      }
      if (inputDone_) {
        if (cutter_.heldBytes() == 0) break;
        FlushUnfinishedLine();
        continue;
      }
      Wait(lock);
    }
    // Still queued here only when the file is failing: those lines are lost, and counted.
    if (!abandoned_ && file_ != nullptr) {
      Drop(QueuedLines());
    }
    finished_ = true;
    CloseFds();
    lock.unlock();
    if (file_ != nullptr) file_->Close();
    lock.lock();
    closed_ = true;
    Post();
    lock.unlock();
    tsfn_.Release();
  }

  // Opens, reopens, rotates or leaves a failure behind, as due. True when it did one of those
  // (the state is to be looked at again).
  bool Maintain(std::unique_lock<std::mutex>& lock) {
    if (failing_ && MonotonicMs() >= failingUntil_) failing_ = false;
    if (wantReopen_ || (!failing_ && !file_->isOpen())) {
      wantReopen_ = false;
      Open(lock);
      return true;
    }
    if (failing_) return false;
    const int64_t now = RealtimeMs();
    if (wantRotate_ || AgeDue(now)) {
      wantRotate_ = false;
      if (file_->size() > 0) {
        Rotate(lock);
        return true;
      }
      // An empty file has nothing to rotate away: its age starts again.
      file_->restartAge(now);
    }
    return false;
  }

  bool AgeDue(int64_t now) const { return options_.ageMs > 0 && now - file_->bornAt() >= options_.ageMs; }

  // Lines queued for the file and not written yet: what a failure or an abandon loses.
  size_t QueuedLines() const {
    return CountLines(inflight_.data() + inflightOffset_, inflight_.size() - inflightOffset_) +
           CountLines(pending_.data(), pending_.size());
  }

  bool HasBytesToWrite() const { return inflightOffset_ < inflight_.size() || !pending_.empty(); }

  bool Room() const {
    return pending_.size() + (inflight_.size() - inflightOffset_) < kHighWaterBytes && forward_.size() < kForwardBytes;
  }

  void Open(std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    const char* syscall = "open";
    const int err = file_->Open(RealtimeMs(), &syscall);
    lock.lock();
    if (err != 0 && !abandoned_) Fail(err, syscall, file_->path());
  }

  void Rotate(std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    // keep is at least 1 (num: 0 with size/age still keeps one rotated file).
    const RotateResult rotated = file_->Rotate(options_.keep, RealtimeMs());
    lock.lock();
    if (abandoned_) return;
    if (rotated.rotateErr != 0) {
      Report("log " + options_.file + ": rotation failed, writing on: " + ErrnoMessage(rotated.rotateErr, rotated.rotateSyscall));
      file_->restartAge(RealtimeMs());  // an age rotation is tried again one age later, not at once
    }
    if (rotated.openErr != 0) Fail(rotated.openErr, rotated.openSyscall, file_->path());
  }

  // Whole lines from the head of the queue, as many as fit under the size limit, written
  // without the lock; the queue is swapped in whole, so the main thread can append meanwhile.
  void WriteBatch(std::unique_lock<std::mutex>& lock) {
    if (inflightOffset_ == inflight_.size()) {
      inflight_.clear();
      inflightOffset_ = 0;
      inflight_.swap(pending_);
    }
    const char* data = inflight_.data() + inflightOffset_;
    const size_t available = inflight_.size() - inflightOffset_;
    size_t wanted = available;
    bool rotateAfter = false;
    if (options_.sizeLimit > 0) {
      const uint64_t size = file_->size();
      const uint64_t room = size < options_.sizeLimit ? options_.sizeLimit - size : 0;
      if (available > room) {
        rotateAfter = true;
        const char* last = room > 0 ? LastNewline(data, static_cast<size_t>(room)) : nullptr;
        wanted = last == nullptr ? 0 : static_cast<size_t>(last - data) + 1;
        // A single line longer than the limit gets a file of its own rather than being cut.
        if (wanted == 0 && size == 0) wanted = static_cast<const char*>(memchr(data, '\n', available)) - data + 1;
        if (wanted == 0) {
          // Not even one line fits in what is left of this file.
          Rotate(lock);
          return;
        }
      }
    }
    lock.unlock();
    const WriteResult result = file_->Write(data, wanted);
    lock.lock();
    if (abandoned_) return;  // already counted
    inflightOffset_ += result.written;
    lastActivity_ = MonotonicMs();
    if (result.err != 0) {
      Fail(result.err, "write", "");
      return;
    }
    if (hasError_) {
      Report("log " + options_.file + ": writing again (" + std::to_string(droppedSinceError_) + " lines dropped)");
      hasError_ = false;
      error_.clear();
    }
    if (rotateAfter) wantRotate_ = true;
  }

  // Drops what is queued, reports once per failure, and tries again after retryMs.
  void Fail(int err, const char* syscall, const std::string& path) {
    if (!hasError_) droppedSinceError_ = 0;
    Drop(QueuedLines());
    inflight_.clear();
    inflightOffset_ = 0;
    pending_.clear();
    // Half a line may be in the file: what is written next starts on a line of its own.
    file_->afterFailure();
    const std::string message = "log " + options_.file + ": " + ErrnoMessage(err, syscall, path);
    if (!hasError_) Report(message + "; dropping lines until it can be written again");
    error_ = message;
    hasError_ = true;
    failing_ = true;
    failingUntil_ = MonotonicMs() + options_.retryMs;
  }

  // Waits for input, a request or a timer; at close, decides when input has ended.
  void Wait(std::unique_lock<std::mutex>& lock) {
    const int64_t now = MonotonicMs();
    int timeout = -1;
    auto until = [&timeout](int64_t ms) { timeout = timeout < 0 ? Timeout(ms) : std::min(timeout, Timeout(ms)); };
    if (file_ != nullptr && failing_) until(failingUntil_ - now);
    if (file_ != nullptr && !failing_ && options_.ageMs > 0 && file_->isOpen()) {
      until(file_->bornAt() + options_.ageMs - RealtimeMs());
    }
    // Waiting on a slow file (no room) is not idleness.
    const bool room = Room();
    if (closing_) {
      if (now - closeAt_ >= kDrainMaxMs || (room && now - lastActivity_ >= kDrainIdleMs)) {
        inputDone_ = true;
        return;
      }
      until(closeAt_ + kDrainMaxMs - now);
      if (room) until(lastActivity_ + kDrainIdleMs - now);
    }
    struct pollfd fds[2] = {{wakeRead_, POLLIN, 0}, {readFd_, POLLIN, 0}};
    const nfds_t count = room ? 2 : 1;
    lock.unlock();
    const int ready = poll(fds, count, timeout);
    lock.lock();
    if (ready <= 0) return;
    if (fds[0].revents != 0) {
      char drain[64];
      while (read(wakeRead_, drain, sizeof drain) > 0) {
      }
    }
    if (count == 2 && fds[1].revents != 0) ReadOnce();
  }

  void ReadOnce() {
    const ssize_t n = read(readFd_, readBuffer_.get(), kReadBytes);
    if (n > 0) {
      lastActivity_ = MonotonicMs();
      Feed(readBuffer_.get(), static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      // End of input, or a read error on our own pipe (which cannot really happen): the end.
      inputDone_ = true;
    }
  }

  // ── lines (under the lock) ──

  void Feed(const char* data, size_t length) {
    if (options_.timestamp) FormatTimestamp(RealtimeMs(), prefix_);
    cutter_.Push(data, length, [this](const char* lines, size_t n, bool addNewline) { Deliver(lines, n, addNewline); });
  }

  void FlushUnfinishedLine() {
    if (options_.timestamp) FormatTimestamp(RealtimeMs(), prefix_);
    cutter_.Flush([this](const char* lines, size_t n, bool addNewline) { Deliver(lines, n, addNewline); });
  }

  void Deliver(const char* lines, size_t length, bool addNewline) {
    if (options_.forward) {
      const bool wasEmpty = forward_.empty();
      forward_.append(lines, length);
      if (addNewline) forward_.push_back('\n');
      if (wasEmpty) Post();
    }
    if (file_ == nullptr) return;
    if (failing_) {
      Drop(addNewline ? 1 : CountLines(lines, length));
    } else if (options_.timestamp) {
      AppendStamped(pending_, lines, length, addNewline, prefix_, kTimestampBytes);
    } else {
      pending_.append(lines, length);
      if (addNewline) pending_.push_back('\n');
    }
  }

  void Drop(size_t lines) {
    dropped_ += lines;
    droppedSinceError_ += lines;
  }

  // ── to JS ──

  void Report(std::string message) {
    reports_.push_back(std::move(message));
    Post();
  }

  // One call into JS at a time carries everything queued by then.
  void Post() {
    if (posted_) return;
    posted_ = true;
    auto self = shared_from_this();
    tsfn_.NonBlockingCall([self](Napi::Env env, Napi::Function callback) { self->CallJs(env, callback); });
  }

  void CallJs(Napi::Env env, Napi::Function callback) {
    std::string lines;
    std::vector<std::string> reports;
    bool closed = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      posted_ = false;
      lines.swap(forward_);
      reports.swap(reports_);
      closed = closed_ && !closedDelivered_;
      closedDelivered_ = closedDelivered_ || closed;
    }
    if (!lines.empty()) {
      Wake();  // room for more
      callback.Call({Napi::String::New(env, "lines"), Napi::Buffer<char>::Copy(env, lines.data(), lines.size())});
      RethrowAsUncaught(env);
    }
    for (const std::string& report : reports) {
      callback.Call({Napi::String::New(env, "report"), Napi::String::New(env, report)});
      RethrowAsUncaught(env);
    }
    if (closed) {
      // The thread's last steps after posting this are non-blocking: the join is immediate.
      uv_thread_join(&thread_);
      callback.Call({Napi::String::New(env, "closed")});
      RethrowAsUncaught(env);
    }
  }

  const CopierOptions options_;
  std::unique_ptr<LogFile> file_;  // thread (and the constructor, before the thread)
  Napi::ThreadSafeFunction tsfn_;
  uv_thread_t thread_{};
  bool started_ = false;
  int readFd_ = -1;
  int wakeRead_ = -1;
  int wakeWrite_ = -1;

  std::mutex mutex_;
  LineCutter cutter_;
  // Read into under the lock, by either thread. Not zero-filled: its pages become resident
  // only when a read first fills them (a quiet stream costs none).
  std::unique_ptr<char[]> readBuffer_;
  char prefix_[kTimestampBytes] = {};
  std::string pending_;           // whole lines for the file
  std::string inflight_;          // the batch being written (thread: read without the lock)
  size_t inflightOffset_ = 0;
  std::string forward_;           // whole lines for the logger
  std::vector<std::string> reports_;
  bool posted_ = false;
  bool wantReopen_ = false;
  bool wantRotate_ = false;
  bool failing_ = false;
  int64_t failingUntil_ = 0;
  bool hasError_ = false;
  std::string error_;
  size_t dropped_ = 0;
  size_t droppedSinceError_ = 0;
  bool closing_ = false;
  int64_t closeAt_ = 0;
  int64_t lastActivity_ = 0;
  bool inputDone_ = false;
  bool abandoned_ = false;
  bool finished_ = false;
  bool closed_ = false;
  bool closedDelivered_ = false;
};

int64_t NumberOption(const Napi::Object& options, const char* key, int64_t fallback) {
  Napi::Value value = options.Get(key);
  return value.IsNumber() ? value.As<Napi::Number>().Int64Value() : fallback;
}

class LogCopier : public Napi::ObjectWrap<LogCopier> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function constructor = DefineClass(env, "LogCopier",
                       {InstanceMethod("start", &LogCopier::Start),
                        InstanceMethod("dispose", &LogCopier::Call<&CopierState::Dispose>),
                        InstanceMethod("endOfRun", &LogCopier::Call<&CopierState::EndOfRun>),
                        InstanceMethod("reopen", &LogCopier::Call<&CopierState::Reopen>),
                        InstanceMethod("close", &LogCopier::Call<&CopierState::Close>),
                        InstanceMethod("abandon", &LogCopier::Call<&CopierState::Abandon>),
                        InstanceMethod("unref", &LogCopier::Unref),
                        InstanceMethod("droppedLines", &LogCopier::DroppedLines),
                        InstanceMethod("lastError", &LogCopier::LastError)});
    if (constructor_.IsEmpty()) {  // the main thread's, should a worker load the addon too
      constructor_ = Napi::Persistent(constructor);
      constructor_.SuppressDestruct();
    }
    return constructor;
  }

  static std::function<void()> EndOfRunOf(const Napi::Value& value) {
    if (!value.IsObject() || constructor_.IsEmpty() || !value.As<Napi::Object>().InstanceOf(constructor_.Value())) return {};
    std::shared_ptr<CopierState> state = Unwrap(value.As<Napi::Object>())->state_;
    if (!state) return {};
    return [state] { state->EndOfRun(); };
  }

  // new LogCopier(readFd, options, callback): JS (src/native.ts) checks the argument types.
  // Opens the file at once: an error is thrown here, and readFd stays the caller's. Nothing
  // runs before start(), so a service whose other file cannot be opened leaves nothing behind
  // (dispose()).
  explicit LogCopier(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LogCopier>(info) {
    Napi::Env env = info.Env();
    const int readFd = info[0].As<Napi::Number>().Int32Value();
    Napi::Object opts = info[1].As<Napi::Object>();
    CopierOptions options;
    if (opts.Get("file").IsString()) options.file = opts.Get("file").As<Napi::String>().Utf8Value();
    options.uid = static_cast<int>(NumberOption(opts, "uid", -1));
    options.gid = static_cast<int>(NumberOption(opts, "gid", -1));
    options.sizeLimit = static_cast<uint64_t>(std::max<int64_t>(0, NumberOption(opts, "sizeBytes", 0)));
    options.ageMs = std::max<int64_t>(0, NumberOption(opts, "ageMs", 0));
    options.keep = static_cast<int>(std::max<int64_t>(1, NumberOption(opts, "keep", 1)));
    options.timestamp = opts.Get("timestamp").ToBoolean();
    options.forward = opts.Get("forward").ToBoolean();
    options.retryMs = std::max<int64_t>(0, NumberOption(opts, "retryMs", 1000));
    options.lineCap = static_cast<size_t>(std::max<int64_t>(1, NumberOption(opts, "lineCap", kPartialLineCap)));
    std::unique_ptr<LogFile> file;
    if (!options.file.empty()) {
      file = std::make_unique<LogFile>(options.file, options.uid, options.gid);
      const char* syscall = "open";
      const int err = file->Open(RealtimeMs(), &syscall);
      if (err != 0) {
        ErrnoError(env, err, syscall, options.file).ThrowAsJavaScriptException();
        return;
      }
    }
    state_ = std::make_shared<CopierState>(options, std::move(file));
    const char* syscall = "";
    const int err = state_->Prepare(readFd, &syscall);
    if (err != 0) {
      state_.reset();
      ErrnoError(env, err, syscall).ThrowAsJavaScriptException();
      return;
    }
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    const int err = state_->Start(info.Env(), callback_.Value());
    callback_.Reset();
    if (err != 0) ErrnoError(info.Env(), err, "uv_thread_create_ex").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  // dispose, endOfRun, reopen, close, abandon: no arguments, no result.
  template <void (CopierState::*Method)()>
  Napi::Value Call(const Napi::CallbackInfo& info) {
    ((*state_).*Method)();
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    state_->Unref(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value DroppedLines(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state_->DroppedLines());
  }
  Napi::Value LastError(const Napi::CallbackInfo& info) {
    std::string error;
    if (!state_->LastError(&error)) return info.Env().Undefined();
    return Napi::String::New(info.Env(), error);
  }

  std::shared_ptr<CopierState> state_;
  Napi::FunctionReference callback_;  // until Start()
  // To tell a LogCopier from other objects (EndOfRunOf). One per process: the addon is
  // loaded by the main thread only.
  static Napi::FunctionReference constructor_;
};

Napi::FunctionReference LogCopier::constructor_;

}  // namespace

std::function<void()> EndOfRunOf(const Napi::Value& value) { return LogCopier::EndOfRunOf(value); }

void InitLogCopier(Napi::Env env, Napi::Object exports) { exports.Set("LogCopier", LogCopier::Define(env)); }

}  // namespace immortal
