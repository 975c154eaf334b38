// The names of resource limits a spawned child can be given (spawn's `rlimits`), mapped to
// RLIMIT_*. The names are those of chpst/s6-softlimit/systemd's Limit*= without the prefix;
// each is guarded so a platform lacking one simply does not list it.
#include "limits.h"

#include <string.h>
#include <sys/resource.h>

#include "addon.h"

namespace immortal {
namespace {

struct NamedLimit {
  const char* name;
  int resource;
};

const NamedLimit kLimits[] = {
#if defined(RLIMIT_AS)
    {"as", RLIMIT_AS},
#endif
    {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},
#if defined(RLIMIT_MEMLOCK)
    {"memlock", RLIMIT_MEMLOCK},
#endif
    {"nofile", RLIMIT_NOFILE},
#if defined(RLIMIT_NPROC)
    {"nproc", RLIMIT_NPROC},
#endif
    {"stack", RLIMIT_STACK},
};

}  // namespace

bool RlimitByName(const std::string& name, int* resource) {
  for (const NamedLimit& limit : kLimits) {
    if (name == limit.name) {
      *resource = limit.resource;
      return true;
    }
  }
  return false;
}

// rlimitNames(): the names spawn's `rlimits` accepts on this platform.
Napi::Value RlimitNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array names = Napi::Array::New(env);
  uint32_t n = 0;
  for (const NamedLimit& limit : kLimits) names.Set(n++, Napi::String::New(env, limit.name));
  return names;
}

}  // namespace immortal
