//! Handing freed memory back to the system. glibc's malloc keeps what a program frees for its
//! next allocations; the tool's pattern — a burst of work on tens of thousands of keys, then a
//! long deploy or a longer idle watch — would leave it holding what the burst once needed.

/// Gives the free pages of the heap back to the system (glibc only; elsewhere nothing).
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free pages of the heap back; it touches no live memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
