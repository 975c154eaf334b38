// exchangeFiles(a, b): swaps two existing names in one step (renameat2 RENAME_EXCHANGE on
// Linux 3.15+, renamex_np RENAME_SWAP on macOS). Like a rename, a reader of either name sees
// one whole file or the other; unlike a rename over a file, the replaced file is not freed
// but left under the other name.
//
// Why: a restart rewrites child.pid while the new child starts. A rename over it frees the
// old inode and, on ext4 (auto_da_alloc), starts writing the new one's block at once:
// 0.3-0.6 ms in the supervisor at that moment. Writing into an empty file made ahead and
// exchanging costs ~0.1 ms and writes nothing out (docs/performance.md, tenth round).
// Where neither call exists, ENOSYS; where the filesystem refuses the flag, EINVAL: the
// caller then renames.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "addon.h"
#include "errors.h"

namespace immortal {

namespace {

int Exchange(const char* a, const char* b) {
#if defined(__linux__) && defined(SYS_renameat2)
  constexpr unsigned kRenameExchange = 2;  // RENAME_EXCHANGE, <linux/fs.h>
  return static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, kRenameExchange));
#elif defined(__APPLE__) && defined(RENAME_SWAP)
  return renamex_np(a, b, RENAME_SWAP);
#else
  (void)a;
  (void)b;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace

Napi::Value ExchangeFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string a = info[0].As<Napi::String>().Utf8Value();
  const std::string b = info[1].As<Napi::String>().Utf8Value();
  if (Exchange(a.c_str(), b.c_str()) < 0) ErrnoError(env, errno, "renameat2", b).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace immortal
