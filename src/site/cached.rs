//! Reading a small file without waiting on the disk: only when every byte of it is in the page
//! cache, as it is right after the file was hashed. This is for code on an async runtime's
//! thread, where a wait on the disk would hold up every other task, and where a trip to the
//! blocking pool costs more than reading a few kilobytes.

use std::path::Path;

use super::FileStat;

/// The stat and bytes of the file at `path` when it holds at most `limit` bytes, all of them in
/// the page cache, and its stat was the same before and after the read. `None` otherwise, and on
/// any error: the caller then reads it the usual way, which reports what went wrong.
pub fn read_cached(path: &Path, limit: u64) -> Option<(FileStat, Vec<u8>)> {
    imp::read_cached(path, limit)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::OpenOptions;
    use std::io::IoSliceMut;
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::Path;

    use rustix::io::{ReadWriteFlags, preadv2};

    use super::FileStat;

    pub(super) fn read_cached(path: &Path, limit: u64) -> Option<(FileStat, Vec<u8>)> {
        // O_NONBLOCK: should the path have become a FIFO, opening it must not wait for a writer.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        let meta = file.metadata().ok()?;
        let before = FileStat::of(&meta);
        if !meta.is_file() || before.size > limit {
            return None;
        }
        let mut bytes = vec![0; usize::try_from(before.size).ok()?];
        let mut filled = 0;
        while filled < bytes.len() {
            // RWF_NOWAIT: fails with EAGAIN rather than wait for bytes not in the page cache.
            let mut into = [IoSliceMut::new(&mut bytes[filled..])];
            match preadv2(&file, &mut into, filled as u64, ReadWriteFlags::NOWAIT) {
                Ok(0) | Err(_) => return None,
                Ok(n) => filled += n,
            }
        }
        // A file that grew or was rewritten while read has another stat now.
        let after = FileStat::of(&std::fs::metadata(path).ok()?);
        (after == before).then_some((before, bytes))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::path::Path;

    use super::FileStat;

    pub(super) fn read_cached(_: &Path, _: u64) -> Option<(FileStat, Vec<u8>)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_just_written_is_read_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.js");
        std::fs::write(&path, b"console.log(1)").expect("write");
        let _ = std::fs::read(&path).expect("read");
        let Some((stat, bytes)) = read_cached(&path, 1024) else {
            // Not every file system answers reads that must not wait.
            return;
        };
        assert_eq!(bytes, b"console.log(1)");
        assert_eq!(stat, FileStat::of(&std::fs::metadata(&path).expect("stat")));
    }

    #[test]
    fn an_empty_file_is_read_as_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("empty");
        std::fs::write(&path, b"").expect("write");
        if let Some((stat, bytes)) = read_cached(&path, 1024) {
            assert!(bytes.is_empty());
            assert_eq!(stat.size, 0);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_is_left_to_the_caller_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fifo");
        let made = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(made.as_ptr(), 0o600) }, 0);
        assert!(read_cached(&path, 1024).is_none());
    }

    #[test]
    fn a_file_over_the_limit_or_missing_is_left_to_the_caller() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big");
        std::fs::write(&path, vec![7u8; 2048]).expect("write");
        assert!(read_cached(&path, 2047).is_none());
        assert!(read_cached(&dir.path().join("missing"), 1024).is_none());
    }
}
