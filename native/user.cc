// User lookup for -u: uid, primary gid, home, shell and every group the user belongs to,
// resolved in the parent so the forked child only calls setgroups/setgid/setuid.
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace immortal {
namespace {

std::vector<gid_t> GroupsOf(const char* name, gid_t primary) {
  int count = 32;
  std::vector<gid_t> groups;
  while (true) {
    groups.resize(static_cast<size_t>(count));
#if defined(__APPLE__)
    // macOS declares getgrouplist with int* groups.
    int n = count;
    int rc = getgrouplist(name, static_cast<int>(primary), reinterpret_cast<int*>(groups.data()), &n);
#else
    int n = count;
    int rc = getgrouplist(name, primary, groups.data(), &n);
#endif
    if (rc >= 0) {
      groups.resize(static_cast<size_t>(n));
      return groups;
    }
    count = n > count ? n : count * 2;  // too small: glibc reports the needed size in n
  }
}

}  // namespace

Napi::Value LookupUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct passwd pwd;
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  std::string wanted;
  int rc;
  const char* call = info[0].IsNumber() ? "getpwuid_r" : "getpwnam_r";  // named in errors
  while (true) {
    if (info[0].IsNumber()) {
      uid_t uid = static_cast<uid_t>(info[0].As<Napi::Number>().Uint32Value());
      wanted = std::to_string(uid);
      rc = getpwuid_r(uid, &pwd, buffer.data(), buffer.size(), &found);
    } else {
      wanted = info[0].As<Napi::String>().Utf8Value();
      rc = getpwnam_r(wanted.c_str(), &pwd, buffer.data(), buffer.size(), &found);
    }
    if (rc != ERANGE) break;
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
    ErrnoError(env, rc, call, wanted).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (found == nullptr) {
    CodeError(env, "ENOUSER", "unknown user: " + wanted).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  std::vector<gid_t> groups = GroupsOf(pwd.pw_name, pwd.pw_gid);
  Napi::Array groupArray = Napi::Array::New(env, groups.size());
  for (size_t i = 0; i < groups.size(); i++) {
    groupArray.Set(static_cast<uint32_t>(i), Napi::Number::New(env, groups[i]));
  }
  Napi::Object user = Napi::Object::New(env);
  user.Set("name", Napi::String::New(env, pwd.pw_name));
  user.Set("uid", Napi::Number::New(env, pwd.pw_uid));
  user.Set("gid", Napi::Number::New(env, pwd.pw_gid));
  user.Set("home", Napi::String::New(env, pwd.pw_dir ? pwd.pw_dir : ""));
  user.Set("shell", Napi::String::New(env, pwd.pw_shell ? pwd.pw_shell : ""));
  user.Set("groups", groupArray);
  return user;
}

}  // namespace immortal
