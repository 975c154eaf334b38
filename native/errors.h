// Errors shaped like Node's own: message "CODE: strerror, syscall 'path'",
// with .code (errno name), .errno (negative, as libuv reports it), .syscall and .path.
#pragma once
#include <napi.h>
#include <string>

namespace immortal {

// The message alone ("ENOSPC: no space left on device, write"), for threads without an env;
// codeOut, when given, receives the code.
std::string ErrnoMessage(int err, const char* syscall, const std::string& path = "", std::string* codeOut = nullptr);

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path = "");

// Our own non-errno conditions (ENOUSER): same shape, no errno.
Napi::Error CodeError(Napi::Env env, const char* code, const std::string& message);

// After a callback from libuv into JS: a pending exception goes to 'uncaughtException'
// (napi_fatal_exception) instead of staying pending, which would fail every later call.
void RethrowAsUncaught(Napi::Env env);

}  // namespace immortal
