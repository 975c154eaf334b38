#include "errors.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

namespace immortal {
namespace {

// libuv names only the errnos it maps (uv_err_name says "Unknown system error -8" for the
// rest); exec, wait and flock can also report these.
const char* ExtraErrnoName(int err) {
  switch (err) {
    case ENOEXEC: return "ENOEXEC";
    case ECHILD: return "ECHILD";
    case EDEADLK: return "EDEADLK";
    case ENOLCK: return "ENOLCK";
    case EDQUOT: return "EDQUOT";
    default: return nullptr;
  }
}

}  // namespace

std::string ErrnoMessage(int err, const char* syscall, const std::string& path, std::string* codeOut) {
  // On Unix libuv's error numbers are negated errno, so uv_err_name gives "ENOENT" etc.;
  // uv_strerror gives Node's lower-case wording ("no such file or directory"). The _r forms
  // do not leak for unknown codes.
  char name[64];
  char text[256];
  const char* code = ExtraErrnoName(err);
  if (code != nullptr) {
    snprintf(text, sizeof text, "%s", strerror(err));
  } else {
    code = uv_err_name_r(-err, name, sizeof name);
    uv_strerror_r(-err, text, sizeof text);
  }
  if (codeOut != nullptr) *codeOut = code;
  std::string message = std::string(code) + ": " + text + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  return message;
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string code;
  Napi::Error error = Napi::Error::New(env, ErrnoMessage(err, syscall, path, &code));
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  return error;
}

Napi::Error CodeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

void RethrowAsUncaught(Napi::Env env) {
  if (!env.IsExceptionPending()) return;
  Napi::Error error = env.GetAndClearPendingException();
  napi_fatal_exception(env, error.Value());
}

}  // namespace immortal
