#pragma once
// Gives the allocator's free memory back to the system after a request with a large body: glibc
// keeps freed blocks in its arenas, so a few large or deeply nested bodies would otherwise leave the
// worker hundreds of megabytes larger for good.

#include <cstddef>

namespace rbees::server {

// Bodies of at least this many bytes are followed by a release.
constexpr size_t kReleaseAfterBodyBytes = 1024 * 1024;

void release_memory_after(size_t body_bytes);

}  // namespace rbees::server
