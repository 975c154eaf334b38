// UnixListener(path, bindUmask, backlog, onConnection): a listening unix socket made here
// rather than by Node, so that (1) the file is bound under a tight umask and is private from
// its first instant, and (2) every connection is accepted here, where its peer credentials
// can be read without reaching into Node's private handle fields. Each accepted connection
// goes to onConnection(fd, uid, gid, pid) once its peer has sent something (or hung up, or
// after kHoldSilentMs): clients connect first and write their request a moment later, and
// holding the connection until then lets JS answer a one-shot query without node:http.
//
// probe(message) answers "is the file at our path still bound to this listener?": it
// connects to the path, sends message, and looks in our own accept queue for a connection
// that carries it. A chmod/chown/link changes the file's ctime but not where connections go;
// an inode number reused by a successor's socket (tmpfs reuses them at once) sends the probe
// to the successor, never to us.
//
// peekConnection(fd, buffer) looks at what an accepted connection has sent, leaving it queued.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace immortal {
namespace {

// How many connections one readable event accepts before yielding to the rest of the loop.
constexpr int kAcceptBatch = 64;
// Out of descriptors: accepting again at once would spin; the pending ones wait this long.
constexpr uint64_t kAcceptPauseMs = 100;
// A connection whose peer has sent nothing yet is handed to JS once it has (the request is
// then whole in the socket, and a one-shot query is answered without node:http), or after
// this long at the latest (between one and two of these), so that node:http's own timeouts
// apply to a silent peer as before.
constexpr uint64_t kHoldSilentMs = 1000;

struct Peer {
  int fd;
  double uid;
  double gid;
  double pid;  // -1 where the platform cannot tell
};

#if !defined(__linux__)
bool SetNonblockCloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  int fdfl = fcntl(fd, F_GETFD);
  return fl >= 0 && fdfl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
         fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) == 0;
}
#endif

// A nonblocking, close-on-exec unix stream socket (services never inherit it).
int NewSocket() {
#if defined(__linux__)
  return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
#else
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd >= 0 && !SetNonblockCloexec(fd)) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
#if defined(SO_NOSIGPIPE)
  if (fd >= 0) {
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
  }
#endif
  return fd;
#endif
}

// -1 with errno (EAGAIN: nothing pending).
int AcceptOne(int listenFd) {
  for (;;) {
#if defined(__linux__) || defined(__FreeBSD__)
    int fd = accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
    int fd = accept(listenFd, nullptr, nullptr);
    if (fd >= 0 && !SetNonblockCloexec(fd)) {
      close(fd);
      continue;
    }
#endif
    // A peer that gave up before we accepted is simply not there any more.
    if (fd < 0 && (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)) continue;
    return fd;
  }
}

// The credentials the kernel recorded for the connecting process.
bool ReadPeer(int fd, Peer* peer) {
  peer->fd = fd;
  peer->pid = -1;
#if defined(__linux__)
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return false;
  peer->uid = cred.uid;
  peer->gid = cred.gid;
  peer->pid = cred.pid;
#else
  uid_t uid;
  gid_t gid;
  if (getpeereid(fd, &uid, &gid) < 0) return false;
  peer->uid = uid;
  peer->gid = gid;
#endif
  return true;
}

bool FillAddress(const std::string& path, struct sockaddr_un* addr) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path) return false;
  memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// Copies what the peer has sent so far into data, leaving it queued: bytes copied, 0 at end
// of stream, -1 with errno (EAGAIN: nothing yet).
ssize_t PeekQueued(int fd, char* data, size_t length) {
  ssize_t n;
  do {
    n = recv(fd, data, length, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n;
}

// Whether the peer has sent something, or hung up: either way JS should see it now.
bool PeerSpoke(int fd) {
  char byte;
  return PeekQueued(fd, &byte, 1) >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

class UnixListener;

// libuv handles must outlive the JS object until their close callbacks; they live here.
struct ListenHandles {
  uv_poll_t poll;
  uv_timer_t pause;
  // Runs while connections are held (kHoldSilentMs): hands over those held too long.
  uv_timer_t sweep;
  int pendingCloses = 0;
  UnixListener* owner = nullptr;
};

void FreeWhenAllClosed(uv_handle_t* handle) {
  ListenHandles* handles = static_cast<ListenHandles*>(handle->data);
  if (--handles->pendingCloses == 0) delete handles;
}

// An accepted connection waiting for its peer's first bytes.
struct HeldPeer {
  uv_poll_t poll;
  Peer peer;
  uint64_t since;  // uv_now() when accepted
  UnixListener* owner;
};

void FreeHeldPeer(uv_handle_t* handle) { delete static_cast<HeldPeer*>(handle->data); }

class UnixListener : public Napi::ObjectWrap<UnixListener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UnixListener",
                       {InstanceMethod("close", &UnixListener::Close),
                        InstanceMethod("probe", &UnixListener::Probe)});
  }

  // new UnixListener(path, bindUmask, backlog, onConnection); throws an errno error on failure.
  explicit UnixListener(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<UnixListener>(info), context_(info.Env(), "immortal.unixListener") {
    Napi::Env env = info.Env();
    path_ = info[0].As<Napi::String>().Utf8Value();
    mode_t bindUmask = static_cast<mode_t>(info[1].As<Napi::Number>().Uint32Value() & 0777);
    int backlog = info[2].As<Napi::Number>().Int32Value();
    Napi::Function cb = info[3].As<Napi::Function>();

    struct sockaddr_un addr;
    if (!FillAddress(path_, &addr)) {
      ErrnoError(env, ENAMETOOLONG, "bind", path_).ThrowAsJavaScriptException();
      return;
    }
    int fd = NewSocket();
    if (fd < 0) {
      ErrnoError(env, errno, "socket", path_).ThrowAsJavaScriptException();
      return;
    }
    // umask is process-wide, but nothing else runs on this thread between the two calls, and
    // the file then never exists with looser permissions than the caller asked for.
    mode_t previous = umask(bindUmask);
    int rc = bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
    int bindErr = errno;
    umask(previous);
    if (rc < 0 || listen(fd, backlog) < 0) {
      int err = rc < 0 ? bindErr : errno;
      const char* syscall = rc < 0 ? "bind" : "listen";
      close(fd);
      if (rc == 0) unlink(path_.c_str());  // bound but cannot listen: leave no file behind
      ErrnoError(env, err, syscall, path_).ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    ListenHandles* handles = new ListenHandles();
    int uvErr = uv_poll_init(loop, &handles->poll, fd);
    if (uvErr == 0) uvErr = uv_timer_init(loop, &handles->pause);
    if (uvErr == 0) uvErr = uv_timer_init(loop, &handles->sweep);
    if (uvErr != 0) {
      // uv_poll_init fails before registering anything, uv_timer_init cannot fail after it.
      close(fd);
      unlink(path_.c_str());
      delete handles;
      ErrnoError(env, -uvErr, "uv_poll_init", path_).ThrowAsJavaScriptException();
      return;
    }
    handles->poll.data = handles;
    handles->pause.data = handles;
    handles->sweep.data = handles;
    handles->owner = this;
    uv_poll_start(&handles->poll, UV_READABLE, OnReadable);
    fd_ = fd;
    handles_ = handles;
    callback_ = Napi::Persistent(cb);
    Ref();  // while listening, GC must not silently close us
  }

  // Only reached with the socket still open at environment teardown: no Unref then.
  ~UnixListener() override { Stop(false); }

 private:
  static void OnReadable(uv_poll_t* poll, int status, int events) {
    ListenHandles* handles = static_cast<ListenHandles*>(poll->data);
    if (handles->owner != nullptr) handles->owner->AcceptBatch();
  }

  static void OnPauseOver(uv_timer_t* timer) {
    ListenHandles* handles = static_cast<ListenHandles*>(timer->data);
    if (handles->owner != nullptr) uv_poll_start(&handles->poll, UV_READABLE, OnReadable);
  }

  void AcceptBatch() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // keeps us alive if the callback closes us
    (void)self;
    for (int i = 0; i < kAcceptBatch && handles_ != nullptr; i++) {
      Peer peer;
      if (AcceptPeer(&peer) != Accepted::kOne) return;
      if (PeerSpoke(peer.fd) || !Hold(peer)) Deliver(env, peer);
    }
  }

  // Waits for the peer's first bytes before handing the connection to JS; false if it cannot.
  bool Hold(const Peer& peer) {
    uv_loop_t* loop = handles_->poll.loop;
    HeldPeer* held = new HeldPeer{{}, peer, uv_now(loop), this};
    if (uv_poll_init(loop, &held->poll, peer.fd) != 0) {
      delete held;
      return false;
    }
    held->poll.data = held;
    uv_poll_start(&held->poll, UV_READABLE | UV_DISCONNECT, OnHeldReady);
    held_.push_back(held);
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&handles_->sweep))) {
      uv_timer_start(&handles_->sweep, OnSweep, kHoldSilentMs, kHoldSilentMs);
    }
    return true;
  }

  // Stops watching a held connection; its fd stays open (JS gets it, or Stop closes it).
  void Release(HeldPeer* held) {
    for (size_t i = 0; i < held_.size(); i++) {
      if (held_[i] != held) continue;
      held_[i] = held_.back();
      held_.pop_back();
      break;
    }
    uv_poll_stop(&held->poll);  // out of epoll now: JS may wrap or close the fd at once
    uv_close(reinterpret_cast<uv_handle_t*>(&held->poll), FreeHeldPeer);
    if (held_.empty() && handles_ != nullptr) uv_timer_stop(&handles_->sweep);
  }

  static void OnHeldReady(uv_poll_t* poll, int status, int events) {
    HeldPeer* held = static_cast<HeldPeer*>(poll->data);
    held->owner->DeliverHeld({held});
  }

  static void OnSweep(uv_timer_t* timer) {
    ListenHandles* handles = static_cast<ListenHandles*>(timer->data);
    UnixListener* self = handles->owner;
    if (self == nullptr) return;
    const uint64_t now = uv_now(timer->loop);
    std::vector<HeldPeer*> due;
    for (HeldPeer* held : self->held_) {
      if (now - held->since >= kHoldSilentMs) due.push_back(held);
    }
    self->DeliverHeld(due);
  }

  void DeliverHeld(const std::vector<HeldPeer*>& ready) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // keeps us alive if the callback closes us
    (void)self;
    std::vector<Peer> peers;
    for (HeldPeer* held : ready) {
      peers.push_back(held->peer);
      Release(held);
    }
    for (size_t i = 0; i < peers.size(); i++) {
      if (handles_ != nullptr) {
        Deliver(env, peers[i]);
      } else {
        close(peers[i].fd);  // the callback closed us: nobody will serve it
      }
    }
  }

  enum class Accepted { kOne, kNoneQueued, kFailed };

  Accepted AcceptPeer(Peer* peer) {
    for (;;) {
      int fd = AcceptOne(fd_);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Accepted::kNoneQueued;
        PauseAccepting();
        return Accepted::kFailed;
      }
      if (ReadPeer(fd, peer)) return Accepted::kOne;
      close(fd);  // a peer whose credentials cannot be read is never served
    }
  }

  // EMFILE and friends: the connection stays queued; try again shortly instead of spinning.
  void PauseAccepting() {
    uv_poll_stop(&handles_->poll);
    uv_timer_start(&handles_->pause, OnPauseOver, kAcceptPauseMs, 0);
  }

  void Deliver(Napi::Env env, const Peer& peer) {
    Napi::HandleScope scope(env);
    // MakeCallback: runs nextTicks/microtasks after, and routes a throw to 'uncaughtException'.
    callback_.MakeCallback(env.Global(),
                           {Napi::Number::New(env, peer.fd), Napi::Number::New(env, peer.uid),
                            Napi::Number::New(env, peer.gid), Napi::Number::New(env, peer.pid)},
                           context_);
  }

  static Napi::Object PeerObject(Napi::Env env, const Peer& peer) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("fd", Napi::Number::New(env, peer.fd));
    object.Set("uid", Napi::Number::New(env, peer.uid));
    object.Set("gid", Napi::Number::New(env, peer.gid));
    object.Set("pid", Napi::Number::New(env, peer.pid));
    return object;
  }

  enum class Drained { kFound, kNotFound, kFailed };

  // Accepts everything queued now; a connection carrying `message` is our probe and is
  // closed here, the others are collected for JS.
  Drained DrainQueue(std::vector<Peer>* accepted, const std::string& message) {
    bool found = false;
    Peer peer;
    Accepted result;
    while ((result = AcceptPeer(&peer)) == Accepted::kOne) {
      if (!message.empty() && CarriesMessage(peer.fd, message)) {
        close(peer.fd);
        found = true;
      } else {
        accepted->push_back(peer);
      }
    }
    if (found) return Drained::kFound;
    return result == Accepted::kFailed ? Drained::kFailed : Drained::kNotFound;
  }

  // The probe wrote its message before we accepted, so the bytes are already queued.
  static bool CarriesMessage(int fd, const std::string& message) {
    std::vector<char> buffer(message.size());
    ssize_t n = PeekQueued(fd, buffer.data(), buffer.size());
    return n == static_cast<ssize_t>(message.size()) && memcmp(buffer.data(), message.data(), message.size()) == 0;
  }

  // 'ours' | 'elsewhere' (another listener took it) | 'absent' (nobody listens at the path)
  // | 'busy' (undecided: queue full, out of descriptors); plus every connection it accepted.
  Napi::Value Probe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string message = info[0].As<Napi::String>().Utf8Value();
    if (handles_ == nullptr || message.empty()) {
      ErrnoError(env, EBADF, "probe", path_).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::vector<Peer> accepted;
    DrainQueue(&accepted, "");  // room in the backlog for the probe
    const char* verdict = Connect(message);
    if (verdict == nullptr) {
      // Not seeing our probe proves nothing if accepting failed (out of descriptors).
      Drained drained = DrainQueue(&accepted, message);
      verdict = drained == Drained::kFound ? "ours" : drained == Drained::kFailed ? "busy" : "elsewhere";
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("verdict", Napi::String::New(env, verdict));
    Napi::Array list = Napi::Array::New(env, accepted.size());
    for (size_t i = 0; i < accepted.size(); i++) list.Set(static_cast<uint32_t>(i), PeerObject(env, accepted[i]));
    result.Set("accepted", list);
    return result;
  }

  // nullptr once the message is on its way to whoever listens at the path, else the verdict.
  const char* Connect(const std::string& message) {
    struct sockaddr_un addr;
    if (!FillAddress(path_, &addr)) return "absent";
    int fd = NewSocket();
    if (fd < 0) return "busy";
    int rc;
    do {
      rc = connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
    } while (rc < 0 && errno == EINTR);
    const char* verdict = nullptr;
    if (rc < 0 && errno != EINPROGRESS) {
      verdict = (errno == EAGAIN || errno == EWOULDBLOCK) ? "busy" : "absent";
    } else {
#if defined(MSG_NOSIGNAL)
      int flags = MSG_NOSIGNAL;
#else
      int flags = 0;
#endif
      ssize_t sent = send(fd, message.data(), message.size(), flags);
      if (sent != static_cast<ssize_t>(message.size())) verdict = "busy";
    }
    // Closing now is fine: the message stays queued on the accepted end until read.
    close(fd);
    return verdict;
  }

  // Stops accepting and closes the listening socket at once (not at the next loop turn), so
  // a connect right after close() is refused rather than queued to be reset.
  void Stop(bool unref) {
    if (handles_ == nullptr) return;
    ListenHandles* handles = handles_;
    handles_ = nullptr;
    handles->owner = nullptr;
    // Held connections were never handed to JS: nobody else will close them.
    while (!held_.empty()) {
      const int fd = held_.back()->peer.fd;
      Release(held_.back());
      close(fd);
    }
    handles->pendingCloses = 3;
    uv_close(reinterpret_cast<uv_handle_t*>(&handles->poll), FreeWhenAllClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles->pause), FreeWhenAllClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles->sweep), FreeWhenAllClosed);
    close(fd_);  // safe right after uv_close (libuv's poll contract)
    fd_ = -1;
    if (!callback_.IsEmpty()) callback_.Reset();
    if (unref) Unref();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop(true);
    return info.Env().Undefined();
  }

  std::string path_;
  int fd_ = -1;
  ListenHandles* handles_ = nullptr;
  // Accepted, waiting for the peer's first bytes (Hold); few at a time, so a vector.
  std::vector<HeldPeer*> held_;
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
};

// peekConnection(fd, buffer): what the peer of an accepted connection has sent so far,
// copied into buffer and left queued → bytes copied (0: nothing yet, or the peer closed);
// other errors are thrown. Lets the control server answer a request already waiting without
// taking it off the socket, so that declining leaves the connection exactly as accepted.
Napi::Value PeekConnection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = info[0].As<Napi::Number>().Int32Value();
  auto buffer = info[1].As<Napi::Buffer<char>>();
  ssize_t n = PeekQueued(fd, buffer.Data(), buffer.Length());
  if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, 0);
  ErrnoError(env, errno, "recv").ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

void InitUnixListener(Napi::Env env, Napi::Object exports) {
  exports.Set("UnixListener", UnixListener::Define(env));
  exports.Set("peekConnection", Napi::Function::New(env, PeekConnection, "peekConnection"));
}

}  // namespace immortal
