#include "server/memory_release.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rbees::server {

void configure_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kReleaseAfterBodyBytes));
#endif
}

void release_memory_after(size_t body_bytes) {
  if (body_bytes < kReleaseAfterBodyBytes) return;
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace rbees::server
