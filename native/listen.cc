// TCP listening sockets the supervisor binds and holds for a service (`listen:`): bound
// once, before the first start (as root, so a -u service can serve port 80), and passed to
// every start as fd 3, 4… (systemd's protocol). Also getsockname's port, for port 0, and a
// plain close for fds that never became Node handles.
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cstddef>
#include <string>

#include "addon.h"
#include "errors.h"

namespace immortal {
namespace {

// "127.0.0.1:8080", "[::1]:8080": how Node prints an address in its own errors.
std::string AddressText(const std::string& host, int port, int family) {
  std::string shown = family == 6 ? "[" + host + "]" : host;
  return shown + ":" + std::to_string(port);
}

// Like Node's net errors: code, errno, syscall, address and port.
Napi::Error AddressError(Napi::Env env, int err, const char* syscall, const std::string& host, int port, int family) {
  Napi::Error error = ErrnoError(env, err, syscall, AddressText(host, port, family));
  error.Value().Delete("path");
  error.Set("address", Napi::String::New(env, host));
  error.Set("port", Napi::Number::New(env, port));
  return error;
}

// SOCK_CLOEXEC is not on macOS: set the flag right after (no fork can happen between, as
// every start goes through our own spawn on this thread).
// Whether path is a socket file (not followed if a symlink). statx on Linux: lstat is a
// GLIBC_2.33 symbol there, and the prebuilds promise glibc 2.32 (scripts/check-prebuilds.mjs).
static bool IsSocketFile(const std::string& path) {
#if defined(__linux__)
  struct statx stx;
  return statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) == 0 && S_ISSOCK(stx.stx_mode);
#else
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
#endif
}

int SocketCloexec(int domain, int type) {
#if defined(SOCK_CLOEXEC)
  return socket(domain, type | SOCK_CLOEXEC, 0);
#else
  int fd = socket(domain, type, 0);
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#endif
}

}  // namespace

// bindTcpListener(host, port, family 4|6, backlog) → fd. The host must be a numeric address
// ("" is the wildcard); names are the caller's to resolve, so what is bound is what was said.
Napi::Value BindTcpListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  int family = info[2].As<Napi::Number>().Int32Value();
  int backlog = info[3].As<Napi::Number>().Int32Value();
  if ((family != 4 && family != 6) || port < 0 || port > 65535 || backlog < 0) {
    AddressError(env, EINVAL, "bind", host, port, family).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family == 6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  struct addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    // Not a numeric address of this family (EAI_NONAME): the address itself is invalid.
    if (found != nullptr) freeaddrinfo(found);
    AddressError(env, EINVAL, "getaddrinfo", host, port, family).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  int fd = SocketCloexec(found->ai_family, SOCK_STREAM);
  const char* failed = nullptr;
  int one = 1;
  if (fd < 0) {
    failed = "socket";
  } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    failed = "setsockopt";
  } else if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
    // tcp6://[::]:80 means IPv6 only, so tcp://0.0.0.0:80 can be listed beside it.
    failed = "setsockopt";
  } else if (bind(fd, found->ai_addr, found->ai_addrlen) < 0) {
    failed = "bind";
  } else if (listen(fd, backlog) < 0) {
    failed = "listen";
  }
  int err = errno;
  freeaddrinfo(found);
  if (failed != nullptr) {
    if (fd >= 0) close(fd);
    AddressError(env, err, failed, host, port, family).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// bindUnixListener(path, mode, backlog) → fd: a unix stream socket bound at path and
// listening, for `listen: unix:/path`. Bound under umask 0177 (never wider than 0600 while
// it appears), then chmod to mode. A file left at path by a dead owner (connect refused) is
// replaced; one something still listens on is EADDRINUSE. Chowning is the caller's.
Napi::Value BindUnixListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int mode = info[1].As<Napi::Number>().Int32Value();
  int backlog = info[2].As<Napi::Number>().Int32Value();
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path || mode < 0 || mode > 07777 || backlog < 0) {
    ErrnoError(env, path.size() >= sizeof addr.sun_path ? ENAMETOOLONG : EINVAL, "bind", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = SocketCloexec(AF_UNIX, SOCK_STREAM);
  if (fd < 0) {
    ErrnoError(env, errno, "socket", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const char* failed = nullptr;
  for (int attempt = 0; attempt < 2; attempt++) {
    // umask is process-wide, but nothing else runs on this thread between the two calls.
    mode_t previous = umask(0177);
    int rc = bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
    int err = errno;
    umask(previous);
    if (rc == 0) { failed = nullptr; break; }
    failed = "bind";
    errno = err;
    if (err != EADDRINUSE || attempt > 0) break;
    int probe = SocketCloexec(AF_UNIX, SOCK_STREAM);
    if (probe < 0) break;
    int connected = connect(probe, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
    int connectErr = errno;
    close(probe);
    errno = EADDRINUSE;
    if (connected == 0 || connectErr != ECONNREFUSED) break;
    if (!IsSocketFile(path) || unlink(path.c_str()) < 0) { errno = EADDRINUSE; break; }
  }
  if (failed == nullptr) {
    if (chmod(path.c_str(), static_cast<mode_t>(mode)) < 0) {
      failed = "chmod";
    } else if (listen(fd, backlog) < 0) {
      failed = "listen";
    }
    if (failed != nullptr) {
      int err = errno;
      unlink(path.c_str());
      errno = err;
    }
  }
  if (failed != nullptr) {
    int err = errno;
    close(fd);
    ErrnoError(env, err, failed, path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// localPort(fd): the port a bound socket got (port 0 asks the kernel to pick one).
Napi::Value LocalPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct sockaddr_storage address;
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&address), &length) < 0) {
    ErrnoError(env, errno, "getsockname").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int port;
  if (address.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<struct sockaddr_in*>(&address)->sin_port);
  } else if (address.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<struct sockaddr_in6*>(&address)->sin6_port);
  } else {
    ErrnoError(env, EAFNOSUPPORT, "getsockname").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, port);
}

// localAddress(fd) → {family: 4 | 6 | 'unix', address, port, listening}: what a socket fd is,
// so a supervisor that took fds back from a running service (pidfdGetfd) can match each to
// its `listen:` entry. address is the unix path for 'unix' ('' when unnamed), port 0 there.
Napi::Value LocalAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct sockaddr_storage address;
  socklen_t length = sizeof address;
  memset(&address, 0, sizeof address);
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&address), &length) < 0) {
    ErrnoError(env, errno, "getsockname").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    struct sockaddr_in* in = reinterpret_cast<struct sockaddr_in*>(&address);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    out.Set("family", Napi::Number::New(env, 4));
    out.Set("address", Napi::String::New(env, text));
    out.Set("port", Napi::Number::New(env, ntohs(in->sin_port)));
  } else if (address.ss_family == AF_INET6) {
    struct sockaddr_in6* in6 = reinterpret_cast<struct sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    out.Set("family", Napi::Number::New(env, 6));
    out.Set("address", Napi::String::New(env, text));
    out.Set("port", Napi::Number::New(env, ntohs(in6->sin6_port)));
  } else if (address.ss_family == AF_UNIX) {
    struct sockaddr_un* un = reinterpret_cast<struct sockaddr_un*>(&address);
    size_t offset = offsetof(struct sockaddr_un, sun_path);
    size_t pathLength = length > offset ? strnlen(un->sun_path, length - offset) : 0;
    out.Set("family", Napi::String::New(env, "unix"));
    out.Set("address", Napi::String::New(env, un->sun_path, pathLength));
    out.Set("port", Napi::Number::New(env, 0));
  } else {
    ErrnoError(env, EAFNOSUPPORT, "getsockname").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int listening = 0;
  socklen_t size = sizeof listening;
#if defined(SO_ACCEPTCONN)
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) < 0) listening = 0;
#endif
  out.Set("listening", Napi::Boolean::New(env, listening != 0));
  return out;
}

// closeFd(fd): close(2); EBADF and the rest are thrown. EINTR is not retried: on Linux and
// the BSDs the fd is released anyway, and a retry could close a reused number.
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (close(fd) < 0 && errno != EINTR) ErrnoError(env, errno, "close").ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace immortal
