//! The manifest's bytes on disk, version 2: a fixed binary layout, because the "nothing changed"
//! check must load the whole manifest before it can answer, and parsing the JSON of version 1
//! (hex digests, escaped strings) cost about 116 ms of CPU for 50,000 entries.
//!
//! All integers are little-endian:
//!
//! ```text
//! magic        8 bytes  b"TCBDMAN\n"
//! version      u32      2
//! saved_at_ns  i64
//! env          u16 length + UTF-8 bytes
//! prefix       u16 length + UTF-8 bytes
//! count        u64      number of entries
//! entries      count times:
//!   key        u16 length + UTF-8 bytes (non-empty; keys strictly increasing in byte order)
//!   size       u64
//!   mtime_ns   i64
//!   inode      u64
//!   sha256     32 bytes
//!   md5        16 bytes
//! checksum     32 bytes: SHA-256 of every byte before it
//! ```
//!
//! Decoding trusts nothing in the file: the magic and the version are checked first (so that
//! another format is named as such rather than blamed on the checksum), then the checksum, then
//! every length against the bytes left, UTF-8, the order of the keys and that nothing follows
//! the last entry. Any failure is a `DecodeError`, never a panic, and no allocation is sized by
//! a count the bytes could not hold.
//!
//! `encode.rs` writes this layout and `decode.rs` reads it back.

mod decode;
mod encode;

use std::fmt;

pub use decode::DecodeError;
pub(super) use decode::decode;
pub use encode::EncodeError;
pub(super) use encode::encode;

/// The format this program writes and the only one it reads.
pub const MANIFEST_VERSION: u32 = 2;

const MAGIC: &[u8; 8] = b"TCBDMAN\n";

const CHECKSUM_LEN: usize = 32;

/// What an entry holds after its key: size, mtime_ns, inode, sha256 and md5.
const ENTRY_FIXED_LEN: usize = 8 + 8 + 8 + 32 + 16;

/// The fewest bytes an entry can take: a one-byte key after its length, and the fixed part.
const ENTRY_MIN_LEN: usize = 2 + 1 + ENTRY_FIXED_LEN;

/// Which part of the file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Magic,
    Version,
    SavedAt,
    Env,
    Prefix,
    Count,
    Key(usize),
    /// The fixed fields of entry N, after its key.
    Entry(usize),
    Checksum,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Magic => f.write_str("magic number"),
            Part::Version => f.write_str("version"),
            Part::SavedAt => f.write_str("save time"),
            Part::Env => f.write_str("env"),
            Part::Prefix => f.write_str("prefix"),
            Part::Count => f.write_str("entry count"),
            Part::Key(index) => write!(f, "key of entry {index}"),
            Part::Entry(index) => write!(f, "stat and digest of entry {index}"),
            Part::Checksum => f.write_str("checksum"),
        }
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::site::FileStat;
    use crate::site::manifest::tests::{encoded, entry};
    use crate::site::manifest::{Manifest, ManifestEntry};

    /// A manifest with keys that are not ASCII and fields at their extremes.
    pub(super) fn sample() -> Manifest {
        let mut manifest = Manifest::new("env-1", "站点/");
        manifest.saved_at_ns = 1_700_000_000_123_456_789;
        manifest.files.insert("index.html", entry(1, 1_600_000_000));
        manifest.files.insert("中文/页面 1.html", entry(2, -5));
        manifest.files.insert(
            "z",
            ManifestEntry {
                stat: FileStat {
                    size: u64::MAX,
                    mtime_ns: i64::MIN,
                    inode: u64::MAX,
                },
                digest: entry(3, 0).digest,
            },
        );
        manifest
    }

    pub(super) fn assert_same(decoded: &Manifest, original: &Manifest) {
        assert_eq!(decoded.env, original.env);
        assert_eq!(decoded.prefix, original.prefix);
        assert_eq!(decoded.saved_at_ns, original.saved_at_ns);
        assert_eq!(decoded.files, original.files);
    }

    /// A file laid out by hand, as the module comment describes it, so that tests can write what
    /// the encoder never would.
    pub(super) struct Raw(Vec<u8>);

    impl Raw {
        pub(super) fn header(version: u32, count: u64) -> Raw {
            let mut bytes = MAGIC.to_vec();
            bytes.extend(version.to_le_bytes());
            bytes.extend(7i64.to_le_bytes());
            bytes.extend(3u16.to_le_bytes());
            bytes.extend(b"env");
            bytes.extend(2u16.to_le_bytes());
            bytes.extend(b"p/");
            bytes.extend(count.to_le_bytes());
            Raw(bytes)
        }

        pub(super) fn entry(mut self, key: &[u8], entry: &ManifestEntry) -> Raw {
            let len = u16::try_from(key.len()).expect("short key");
            self.0.extend(len.to_le_bytes());
            self.0.extend(key);
            self.0.extend(entry.stat.size.to_le_bytes());
            self.0.extend(entry.stat.mtime_ns.to_le_bytes());
            self.0.extend(entry.stat.inode.to_le_bytes());
            self.0.extend(entry.digest.sha256);
            self.0.extend(entry.digest.md5);
            self
        }

        pub(super) fn bytes(mut self, bytes: &[u8]) -> Raw {
            self.0.extend(bytes);
            self
        }

        /// The bytes with a correct checksum after them.
        pub(super) fn sealed(self) -> Vec<u8> {
            let mut bytes = self.0;
            let checksum = Sha256::digest(&bytes);
            bytes.extend(checksum);
            bytes
        }
    }

    #[test]
    fn round_trips() {
        let manifest = sample();
        assert_same(&decode(&encoded(&manifest)).expect("decode"), &manifest);

        let empty = Manifest::new("", "");
        let bytes = encoded(&empty);
        assert_eq!(bytes.len(), 8 + 4 + 8 + 2 + 2 + 8 + 32);
        assert_same(&decode(&bytes).expect("decode"), &empty);
    }
}
