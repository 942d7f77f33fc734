#pragma once
// Gives the allocator's free memory back to the system after a request with a large body: glibc
// keeps freed blocks in its arenas, so a few large or deeply nested bodies would otherwise leave the
// worker hundreds of megabytes larger for good.

#include <cstddef>

namespace rbees::server {

// Bodies of at least this many bytes are followed by a release.
constexpr size_t kReleaseAfterBodyBytes = 1024 * 1024;

// Blocks of 1 MiB and more (bodies, their copies, large responses) are mapped on their own and
// unmapped when freed. glibc's default threshold grows with every large block freed, after which
// 4 MB bodies came from the arenas and stayed there (measured: 50 malformed 4 MB bodies left the
// worker about 50 MB larger; with the fixed threshold, unchanged). Call once at start-up.
void configure_allocator();

void release_memory_after(size_t body_bytes);

}  // namespace rbees::server
