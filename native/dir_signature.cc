// dirSignature(dir, suffix): one string that changes whenever a regular, non-hidden
// `*suffix` file in dir appears, goes, or is written, renamed over or chmod'ed — each name
// with its device, inode, size, mtime and ctime, sorted by name — and the newest of those
// times. immortaldir's 5 s scan asks this first: an unchanged directory then costs one
// call, where 100 fs.statSync calls made 100 Stats objects, and the garbage collection and
// the code they need kept ~4.5 MiB of node's binary mapped in an otherwise idle process.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace immortal {

namespace {

struct FileStat {
  bool regular;
  unsigned long long dev;
  unsigned long long ino;
  unsigned long long size;
  long long mtimeNs;
  long long ctimeNs;
};

// Follows symlinks, as fs.statSync does. statx on Linux: fstatat is a GLIBC_2.33 symbol
// there, and the prebuilds promise glibc 2.32 (scripts/check-prebuilds.mjs).
bool StatAt(int dirFd, const char* name, FileStat* out) {
#if defined(__linux__)
  struct statx sx;
  if (statx(dirFd, name, 0, STATX_TYPE | STATX_INO | STATX_SIZE | STATX_MTIME | STATX_CTIME, &sx) != 0) return false;
  *out = {S_ISREG(sx.stx_mode), (static_cast<unsigned long long>(sx.stx_dev_major) << 32) | sx.stx_dev_minor,
          sx.stx_ino, sx.stx_size, sx.stx_mtime.tv_sec * 1000000000LL + sx.stx_mtime.tv_nsec,
          sx.stx_ctime.tv_sec * 1000000000LL + sx.stx_ctime.tv_nsec};
#else
  struct stat st;
  if (fstatat(dirFd, name, &st, 0) != 0) return false;
#if defined(__APPLE__)
  const struct timespec mtime = st.st_mtimespec;
  const struct timespec ctime = st.st_ctimespec;
#else
  const struct timespec mtime = st.st_mtim;
  const struct timespec ctime = st.st_ctim;
#endif
  *out = {S_ISREG(st.st_mode), static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino),
          static_cast<unsigned long long>(st.st_size), mtime.tv_sec * 1000000000LL + mtime.tv_nsec,
          ctime.tv_sec * 1000000000LL + ctime.tv_nsec};
#endif
  return true;
}

bool EndsWith(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// Returns { signature, newestChangeMs }; throws opendir's error (code, path). A file removed
// between readdir and stat is left out, as a later scan would. JS checks the argument types.
Napi::Value DirSignature(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dir = info[0].As<Napi::String>().Utf8Value();
  const std::string suffix = info[1].As<Napi::String>().Utf8Value();
  DIR* listing = opendir(dir.c_str());
  if (listing == nullptr) {
    ErrnoError(env, errno, "opendir", dir).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<std::string> entries;
  long long newestNs = 0;
  while (const struct dirent* entry = readdir(listing)) {
    const std::string name = entry->d_name;
    if (name.empty() || name[0] == '.' || !EndsWith(name, suffix)) continue;
    FileStat st;
    if (!StatAt(dirfd(listing), entry->d_name, &st) || !st.regular) continue;
    newestNs = std::max({newestNs, st.mtimeNs, st.ctimeNs});
    entries.push_back(name + '\0' + std::to_string(st.dev) + ':' + std::to_string(st.ino) + ':' +
                      std::to_string(st.size) + ':' + std::to_string(st.mtimeNs) + ':' + std::to_string(st.ctimeNs));
  }
  closedir(listing);
  std::sort(entries.begin(), entries.end());
  std::string signature;
  for (const std::string& entry : entries) signature.append(entry).push_back('\n');
  Napi::Object result = Napi::Object::New(env);
  result.Set("signature", Napi::String::New(env, signature));
  result.Set("newestChangeMs", Napi::Number::New(env, static_cast<double>(newestNs / 1000000)));
  return result;
}

}  // namespace immortal
