// Giving back what start-up left mapped: free C-heap pages (malloc_trim), and the pages of
// the node binary and its libraries that only start-up read (unmapFilePages). A supervisor
// idles for months; neither is needed again, and both count against it in RSS and PSS.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "addon.h"

namespace immortal {

// malloc_trim(0): glibc keeps the pages of freed chunks for later, even whole pages in the
// middle of the heap; this returns them (MADV_DONTNEED). → whether anything was released;
// false where there is no such call (musl, BSD, macOS), which give pages back on their own.
Napi::Value TrimMalloc(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

#if defined(__linux__)
namespace {

// /proc/self/pagemap: one 64-bit entry per virtual page (Documentation/admin-guide/mm/pagemap.rst).
constexpr uint64_t kPagePresent = 1ULL << 63;
constexpr uint64_t kPageSwapped = 1ULL << 62;
constexpr uint64_t kPageFileOrShared = 1ULL << 61;
constexpr size_t kEntriesPerRead = 512;

// A page whose content exists only here: a private copy made by a write (the dynamic
// linker's relocations in RELRO, then made read-only) or a swapped-out one. Dropping it
// would bring back the file's bytes in its place.
bool IsPrivateCopy(uint64_t entry) {
  if (entry & kPageSwapped) return true;
  return (entry & kPagePresent) && !(entry & kPageFileOrShared);
}

// Drops the mapped file pages of [start, end), leaving every private copy in place; adds
// the bytes dropped to *released. Stops where pagemap cannot be read: nothing beyond what
// it has described is dropped.
void UnmapRange(int pagemap, uintptr_t start, uintptr_t end, size_t pageSize, double* released) {
  uint64_t entries[kEntriesPerRead];
  uintptr_t runStart = 0;
  size_t runPresent = 0;
  auto endRun = [&](uintptr_t at) {
    if (runStart != 0 && runPresent > 0 && madvise(reinterpret_cast<void*>(runStart), at - runStart, MADV_DONTNEED) == 0) {
      *released += static_cast<double>(runPresent * pageSize);
    }
    runStart = 0;
    runPresent = 0;
  };
  uintptr_t page = start;
  while (page < end) {
    const size_t want = std::min(kEntriesPerRead, static_cast<size_t>((end - page) / pageSize));
    const off_t offset = static_cast<off_t>(page / pageSize * sizeof(uint64_t));
    const ssize_t got = pread(pagemap, entries, want * sizeof(uint64_t), offset);
    if (got <= 0) break;
    const size_t count = static_cast<size_t>(got) / sizeof(uint64_t);
    for (size_t i = 0; i < count; i++, page += pageSize) {
      if (IsPrivateCopy(entries[i])) {
        endRun(page);
        continue;
      }
      if (runStart == 0) runStart = page;
      if (entries[i] & kPagePresent) runPresent++;
    }
  }
  endRun(page);
}

}  // namespace
#endif

// Unmaps the pages of read-only private file mappings (the node binary's code and read-only
// data, the shared libraries', the addon's) that are mapped now. They stay in the page cache;
// what runs again is mapped back by its first touch (a minor fault, with the kernel's
// fault-around: 64 KiB at a time). Writable mappings and private copies inside read-only
// ones (RELRO) are never touched; another thread running code in a dropped page only takes
// that fault. → bytes unmapped; 0 outside Linux.
Napi::Value UnmapFilePages(const Napi::CallbackInfo& info) {
  double released = 0;
#if defined(__linux__)
  FILE* maps = fopen("/proc/self/maps", "re");
  const int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  const long pageSize = sysconf(_SC_PAGESIZE);
  if (maps != nullptr && pagemap >= 0 && pageSize > 0) {
    char line[4096];
    while (fgets(line, sizeof line, maps) != nullptr) {
      unsigned long start = 0;
      unsigned long end = 0;
      char perms[5] = {0};
      int pathAt = 0;
      // start-end perms offset dev inode path
      if (sscanf(line, "%lx-%lx %4s %*x %*x:%*x %*u %n", &start, &end, perms, &pathAt) < 3) continue;
      const bool fromFile = pathAt > 0 && line[pathAt] == '/';
      const bool readOnlyPrivate = perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p';
      if (!fromFile || !readOnlyPrivate) continue;
      UnmapRange(pagemap, start, end, static_cast<size_t>(pageSize), &released);
    }
  }
  if (maps != nullptr) fclose(maps);
  if (pagemap >= 0) close(pagemap);
#endif
  return Napi::Number::New(info.Env(), released);
}

}  // namespace immortal
