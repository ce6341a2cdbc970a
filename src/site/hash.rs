//! What a file contains, as the two digests the tool needs: SHA-256, which it compares to decide
//! what changed, and MD5, which the remote listing and an upload's ETag show. Both come from one
//! read of the file.
//!
//! Speed decides the shape of this module. On the 2-core machines we measured (AMD EPYC with
//! SHA-NI), `sha2` finds SHA-NI at run time by itself (its default backend asks `cpufeatures`)
//! and runs at about 1,450 MB/s, while MD5, which has no hardware help anywhere, runs at about
//! 505 MB/s: MD5 is the bottleneck. Feeding each 256 KiB read to one hash and then the other
//! gives about 375 MB/s; handing the two compression functions one 64-byte block each in turn
//! gives about 440 MB/s, because MD5's long dependency chain leaves execution units idle and
//! the out-of-order core fills them with SHA-256 rounds when both are in flight. So `Hasher`
//! drives the crates' public block functions itself and does the (short, standard) padding on
//! its own; the tests check it against the crates' own `Digest` implementations.
//!
//! Those two cores give about one core's worth of hashing between them (two hashing processes
//! each run at half speed), so more threads do not hash faster; what `hash_files`' many reads in
//! flight buy is overlapping a cold disk's waits.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::FileStat;

/// Bytes read from a file at a time: large enough that system calls cost little, small enough
/// to stay in the L2 cache while both hashes go over it.
const READ_CHUNK: usize = 256 * 1024;

const BLOCK: usize = 64;

const SHA256_INIT: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

const MD5_INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The SHA-256 and MD5 of some bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Digest {
    pub sha256: [u8; 32],
    pub md5: [u8; 16],
}

impl Digest {
    /// Lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Lowercase hex, as the remote listing and the ETag show it (without the ETag's quotes).
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }
}

/// Both digests of a stream of bytes, fed in pieces of any size (file reads, upload chunks).
#[derive(Clone, Debug)]
pub struct Hasher {
    sha256: [u32; 8],
    md5: [u32; 4],
    /// Bytes fed so far.
    len: u64,
    /// The start of the block not yet complete: its first `len % 64` bytes are meaningful.
    pending: [u8; BLOCK],
}

impl Hasher {
    pub fn new() -> Self {
        Hasher {
            sha256: SHA256_INIT,
            md5: MD5_INIT,
            len: 0,
            pending: [0; BLOCK],
        }
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        let filled = self.filled();
        // Both hashes count the length in bits modulo 2^64 (SHA-256 allows no more anyway).
        self.len = self.len.wrapping_add(bytes.len() as u64);
        if filled > 0 {
            let take = (BLOCK - filled).min(bytes.len());
            self.pending[filled..filled + take].copy_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if filled + take < BLOCK {
                return;
            }
            let block = self.pending;
            self.compress(&block);
        }
        let mut chunks = bytes.chunks_exact(BLOCK);
        for chunk in &mut chunks {
            self.compress(chunk.try_into().expect("chunks_exact yields whole blocks"));
        }
        let rest = chunks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
    }

    pub fn finish(mut self) -> Digest {
        // The standard padding: 0x80, zeros, then the length in bits in the last 8 bytes of a
        // block — big-endian for SHA-256, little-endian for MD5.
        let filled = self.filled();
        let bits = self.len.wrapping_mul(8);
        let mut last = [[0u8; BLOCK]; 2];
        let blocks = if filled < BLOCK - 8 { 1 } else { 2 };
        let flat = last.as_flattened_mut();
        flat[..filled].copy_from_slice(&self.pending[..filled]);
        flat[filled] = 0x80;
        let end = blocks * BLOCK;
        flat[end - 8..end].copy_from_slice(&bits.to_be_bytes());
        sha2::block_api::compress256(&mut self.sha256, &last[..blocks]);
        let flat = last.as_flattened_mut();
        flat[end - 8..end].copy_from_slice(&bits.to_le_bytes());
        md5::block_api::compress(&mut self.md5, &last[..blocks]);

        let mut digest = Digest {
            sha256: [0; 32],
            md5: [0; 16],
        };
        for (out, word) in digest.sha256.chunks_exact_mut(4).zip(self.sha256) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        for (out, word) in digest.md5.chunks_exact_mut(4).zip(self.md5) {
            out.copy_from_slice(&word.to_le_bytes());
        }
        digest
    }

    fn filled(&self) -> usize {
        (self.len % BLOCK as u64) as usize
    }

    /// One block into each hash in turn, not a run of blocks into one then the other: see the
    /// module comment for why.
    fn compress(&mut self, block: &[u8; BLOCK]) {
        let one = std::slice::from_ref(block);
        sha2::block_api::compress256(&mut self.sha256, one);
        md5::block_api::compress(&mut self.md5, one);
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher::new()
    }
}

pub fn digest_of(bytes: &[u8]) -> Digest {
    let mut hasher = Hasher::new();
    hasher.update(bytes);
    hasher.finish()
}

/// What reading a file for its digest found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hashed {
    /// The content had `digest`; the file had `stat` before the read and still had it after.
    Done { digest: Digest, stat: FileStat },
    /// The size, modification time or inode was not what the scan saw, or moved while reading:
    /// the file is being written. Try again later.
    Changing,
    /// The file disappeared before or during the read.
    Vanished,
}

thread_local! {
    /// One read buffer per thread, reused for every file that thread hashes: with `hash_files`
    /// that is at most `in_flight` buffers of 256 KiB.
    static READ_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Reads the file at `path` once and returns its digest, unless the file is not in the state
/// `stat` (what the scan saw) before and after the read. Blocking.
///
/// The first check is on the opened file, so the bytes read belong to the inode that was
/// checked; the second is on the path, so a file replaced by a rename during the read counts as
/// changing.
pub fn hash_file(path: &Path, stat: FileStat) -> io::Result<Hashed> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Hashed::Vanished),
        Err(e) => return Err(e),
    };
    if FileStat::of(&file.metadata()?) != stat {
        return Ok(Hashed::Changing);
    }
    let mut hasher = Hasher::new();
    let read = READ_BUFFER.with_borrow_mut(|buf| hash_stream(&mut file, buf, &mut hasher))?;
    let after = match std::fs::metadata(path) {
        Ok(meta) => FileStat::of(&meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Hashed::Vanished),
        Err(e) => return Err(e),
    };
    if after != stat || read != stat.size {
        return Ok(Hashed::Changing);
    }
    Ok(Hashed::Done {
        digest: hasher.finish(),
        stat,
    })
}

/// Feeds everything `reader` yields to `hasher`, `buf` at a time; returns the byte count.
fn hash_stream(reader: &mut impl Read, buf: &mut [u8], hasher: &mut Hasher) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        match reader.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Hashes many files on tokio's blocking pool, at most `in_flight` at once (at least one).
/// Results come in completion order, each with the index and path the caller gave.
///
/// Many reads in flight let a cold disk work on several at once: on 2 cores, 50,000 files
/// (2 GB) took 5.0 s with 32 in flight and 7.6 s with 2. Each running read holds a blocking
/// thread; tokio's pool allows 512 by default, and a runtime built with fewer still works, the
/// extra reads just wait for a thread.
pub async fn hash_files(
    files: Vec<(usize, PathBuf, FileStat)>,
    in_flight: usize,
) -> Vec<(usize, PathBuf, io::Result<Hashed>)> {
    let in_flight = in_flight.max(1);
    let mut results = Vec::with_capacity(files.len());
    let mut pending = batches(files).into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < in_flight {
            let Some(batch) = pending.next() else {
                break;
            };
            running.spawn_blocking(move || {
                batch
                    .into_iter()
                    .map(|(index, path, stat)| {
                        let hashed = hash_file(&path, stat);
                        (index, path, hashed)
                    })
                    .collect::<Vec<_>>()
            });
        }
        match running.join_next().await {
            Some(Ok(batch)) => results.extend(batch),
            // Nothing aborts these tasks, so a join error is a panic in `hash_file`: a bug,
            // which goes on as a panic rather than as one file's error without its index.
            Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
            None => return results,
        }
    }
}

/// Files per blocking task, at most…
const BATCH_FILES: usize = 64;
/// …and bytes per task, at most (a larger file is a batch of its own). Handing each small file
/// to its own task cost more in thread hand-offs than hashing it.
const BATCH_BYTES: u64 = 4 * 1024 * 1024;

/// Groups files, in order, into batches for one blocking task each.
fn batches(files: Vec<(usize, PathBuf, FileStat)>) -> Vec<Vec<(usize, PathBuf, FileStat)>> {
    let mut out: Vec<Vec<(usize, PathBuf, FileStat)>> = Vec::new();
    let mut bytes = 0u64;
    for file in files {
        let size = file.2.size;
        match out.last_mut() {
            Some(batch) if batch.len() < BATCH_FILES && bytes + size <= BATCH_BYTES => {
                bytes += size;
                batch.push(file);
            }
            _ => {
                bytes = size;
                out.push(vec![file]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_bound_files_and_bytes_and_keep_order() {
        let file = |i: usize, size: u64| {
            (
                i,
                PathBuf::from(format!("f{i}")),
                FileStat {
                    size,
                    ..FileStat::default()
                },
            )
        };
        let small: Vec<_> = (0..130).map(|i| file(i, 10)).collect();
        let sizes: Vec<usize> = batches(small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [64, 64, 2]);
        let mixed = vec![file(0, 10), file(1, BATCH_BYTES), file(2, 10), file(3, 10)];
        let grouped: Vec<Vec<usize>> = batches(mixed)
            .iter()
            .map(|b| b.iter().map(|f| f.0).collect())
            .collect();
        assert_eq!(grouped, [vec![0], vec![1], vec![2, 3]]);
    }

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

    /// Bytes that do not repeat with any short period, so a misplaced block would show.
    fn sample(len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    fn reference(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest {
            sha256: sha2::Sha256::digest(bytes).into(),
            md5: md5::Md5::digest(bytes).into(),
        }
    }

    fn stat_of(path: &Path) -> FileStat {
        FileStat::of(&std::fs::metadata(path).expect("stat"))
    }

    #[test]
    fn known_vectors() {
        let empty = digest_of(b"");
        assert_eq!(empty.sha256_hex(), EMPTY_SHA256);
        assert_eq!(empty.md5_hex(), EMPTY_MD5);
        let abc = digest_of(b"abc");
        assert_eq!(
            abc.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(abc.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn padding_matches_the_crates_at_every_length_around_block_edges() {
        let bytes = sample(300);
        for len in 0..=bytes.len() {
            assert_eq!(
                digest_of(&bytes[..len]),
                reference(&bytes[..len]),
                "len {len}"
            );
        }
    }

    #[test]
    fn hasher_fed_in_odd_chunks_equals_digest_of() {
        let bytes = sample(100_003);
        for chunk in [1, 3, 63, 64, 65, 127, 4099] {
            let mut hasher = Hasher::new();
            for piece in bytes.chunks(chunk) {
                hasher.update(piece);
            }
            hasher.update(&[]);
            assert_eq!(hasher.finish(), digest_of(&bytes), "chunk {chunk}");
        }
        assert_eq!(digest_of(&bytes), reference(&bytes));
    }

    #[test]
    fn file_hash_equals_digest_of_its_bytes() {
        let dir = tempfile::tempdir().expect("temp dir");
        // More than two read buffers and not a whole number of blocks.
        for (name, len) in [("big", 2 * READ_CHUNK + 12_345), ("empty", 0)] {
            let path = dir.path().join(name);
            let bytes = sample(len);
            std::fs::write(&path, &bytes).expect("write");
            let stat = stat_of(&path);
            let hashed = hash_file(&path, stat).expect("hash");
            assert_eq!(
                hashed,
                Hashed::Done {
                    digest: digest_of(&bytes),
                    stat
                }
            );
        }
    }

    #[test]
    fn a_file_unlike_its_scan_is_changing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        std::fs::write(&path, "content").expect("write");
        let stat = stat_of(&path);
        let grown = FileStat {
            size: stat.size + 1,
            ..stat
        };
        let touched = FileStat {
            mtime_ns: stat.mtime_ns - 1,
            ..stat
        };
        let replaced = FileStat {
            inode: stat.inode + 1,
            ..stat
        };
        for seen in [grown, touched, replaced] {
            assert_eq!(hash_file(&path, seen).expect("hash"), Hashed::Changing);
        }
    }

    #[test]
    fn a_missing_file_has_vanished() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hashed = hash_file(&dir.path().join("gone"), FileStat::default()).expect("hash");
        assert_eq!(hashed, Hashed::Vanished);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hash_files_returns_every_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut files = Vec::new();
        let mut expected = Vec::new();
        for i in 0..200 {
            let path = dir.path().join(format!("f{i}"));
            let bytes = sample(i * 37);
            std::fs::write(&path, &bytes).expect("write");
            let stat = stat_of(&path);
            // Spread the indexes out so that position and index differ.
            files.push((1000 + 3 * i, path, stat));
            expected.push((1000 + 3 * i, digest_of(&bytes)));
        }
        let mut results = hash_files(files, 8).await;
        assert_eq!(results.len(), 200);
        results.sort_by_key(|(index, _, _)| *index);
        for ((index, _, result), (want_index, want_digest)) in results.into_iter().zip(expected) {
            assert_eq!(index, want_index);
            match result.expect("hash") {
                Hashed::Done { digest, .. } => assert_eq!(digest, want_digest, "file {index}"),
                other => panic!("file {index}: {other:?}"),
            }
        }
    }
}
