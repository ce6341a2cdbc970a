//! How the process uses glibc's malloc. Its defaults do not suit the tool's pattern — a burst of
//! work on tens of thousands of keys, on several threads, then a long deploy or a longer idle
//! watch — because they keep what the burst freed. Elsewhere these calls do nothing.

/// Allocations of at least this size get a mapping of their own, unmapped as soon as freed.
const OWN_MAPPING_FROM: i32 = 128 * 1024;

/// Call once, first thing in `main`, before any other thread runs.
///
/// glibc starts by mapping allocations of 128 KiB and more on their own, but raises that size
/// each time such a mapping is freed, up to 32 MiB. Large buffers (a manifest's rows, a file
/// list) then come from a thread's heap, and when freed they join its free top, which
/// `malloc_trim` does not give back for threads' heaps: an idle daemon kept 5 MB of what its
/// last deploy needed. Pinning the size keeps large buffers on mappings of their own.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM);
    }
}

/// Gives the free pages of the heaps back to the system.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free pages of the heap back; it touches no live memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
