#include "server/memory_release.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rbees::server {

void release_memory_after(size_t body_bytes) {
  if (body_bytes < kReleaseAfterBodyBytes) return;
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace rbees::server
