// execve(2) of the whole process: `immortal -n` re-executes itself, same pid, into the small
// supervising entry once its config is read and checked, so the process that goes on
// supervising never loaded the YAML reader or the flag parser (docs/performance.md). Only
// the calling thread survives execve, so no async-signal-safety concern: this is an
// ordinary call that either replaces the process or returns an errno error.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace immortal {
namespace {

std::vector<std::string> Strings(const Napi::Array& array) {
  std::vector<std::string> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) out.push_back(array.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

}  // namespace

// exec(file, argv, env): returns only on failure (thrown as an errno error naming file).
// Descriptors 0-2 are kept; every other one Node opened or inherited is close-on-exec.
Napi::Value Exec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::string> argvStrings = Strings(info[1].As<Napi::Array>());
  std::vector<std::string> envStrings = Strings(info[2].As<Napi::Array>());
  std::vector<char*> argv = Pointers(argvStrings);
  std::vector<char*> envp = Pointers(envStrings);
  // Node marks every descriptor it inherited close-on-exec at start-up, stdio included:
  // the new program must get stdin, stdout and stderr all the same.
  int stdioFlags[3];
  for (int fd = 0; fd < 3; fd++) {
    stdioFlags[fd] = fcntl(fd, F_GETFD);
    if (stdioFlags[fd] >= 0) fcntl(fd, F_SETFD, stdioFlags[fd] & ~FD_CLOEXEC);
  }
  // The signal mask survives execve: the new program must start with nothing blocked,
  // whatever this thread had blocked for the moment.
  sigset_t none, previous;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &previous);
  execve(file.c_str(), argv.data(), envp.data());
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  for (int fd = 0; fd < 3; fd++) {
    if (stdioFlags[fd] >= 0) fcntl(fd, F_SETFD, stdioFlags[fd]);
  }
  ErrnoError(env, err, "execve", file).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace immortal
