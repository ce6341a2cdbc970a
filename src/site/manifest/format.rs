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

use std::fmt;
use std::io::{self, BufWriter, Write};

use sha2::{Digest as _, Sha256};

use super::{Entries, Manifest, ManifestEntry};
use crate::site::FileStat;
use crate::site::hash::Digest;

/// The format this program writes and the only one it reads.
pub const MANIFEST_VERSION: u32 = 2;

const MAGIC: &[u8; 8] = b"TCBDMAN\n";

const CHECKSUM_LEN: usize = 32;

/// What an entry holds after its key: size, mtime_ns, inode, sha256 and md5.
const ENTRY_FIXED_LEN: usize = 8 + 8 + 8 + 32 + 16;

/// The fewest bytes an entry can take: a one-byte key after its length, and the fixed part.
const ENTRY_MIN_LEN: usize = 2 + 1 + ENTRY_FIXED_LEN;

/// Writes go out through a buffer this large: few system calls, little memory.
const IO_BUFFER: usize = 64 * 1024;

/// Writes `manifest` to `out`, checksum last. The bytes are hashed as they leave the buffer, so
/// the encoding is never held whole in memory.
pub(super) fn encode(manifest: &Manifest, out: impl Write) -> Result<(), EncodeError> {
    let mut writer = BufWriter::with_capacity(
        IO_BUFFER,
        HashingWriter {
            inner: out,
            hasher: Sha256::new(),
        },
    );
    writer.write_all(MAGIC)?;
    writer.write_all(&MANIFEST_VERSION.to_le_bytes())?;
    writer.write_all(&manifest.saved_at_ns.to_le_bytes())?;
    write_str(&mut writer, Part::Env, &manifest.env)?;
    write_str(&mut writer, Part::Prefix, &manifest.prefix)?;
    // usize is at most 64 bits wide on every platform Rust supports: the cast is lossless.
    writer.write_all(&(manifest.files.len() as u64).to_le_bytes())?;
    // The entries come in strictly increasing byte order of their keys, as the format wants.
    for (index, (key, entry)) in manifest.files.iter().enumerate() {
        if key.is_empty() {
            return Err(EncodeError::EmptyKey);
        }
        write_str(&mut writer, Part::Key(index), key)?;
        writer.write_all(&entry.stat.size.to_le_bytes())?;
        writer.write_all(&entry.stat.mtime_ns.to_le_bytes())?;
        writer.write_all(&entry.stat.inode.to_le_bytes())?;
        writer.write_all(&entry.digest.sha256)?;
        writer.write_all(&entry.digest.md5)?;
    }
    let HashingWriter { mut inner, hasher } = writer
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    inner.write_all(&hasher.finalize())?;
    inner.flush()?;
    Ok(())
}

/// Writes `text` after its length as a u16; a longer text is an error, never cut short.
fn write_str(out: &mut impl Write, part: Part, text: &str) -> Result<(), EncodeError> {
    let len = u16::try_from(text.len()).map_err(|_| EncodeError::TooLong {
        part,
        start: text.chars().take(40).collect(),
        len: text.len(),
    })?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Reads a manifest from the bytes of a whole file.
pub(super) fn decode(bytes: &[u8]) -> Result<Manifest, DecodeError> {
    if !bytes.starts_with(MAGIC) {
        return Err(if bytes.is_empty() {
            DecodeError::Empty
        } else if MAGIC.starts_with(bytes) {
            DecodeError::Truncated {
                part: Part::Magic,
                offset: 0,
            }
        } else {
            // Version 1 was JSON and starts with `{`.
            DecodeError::NotAManifest
        });
    }
    let mut reader = Reader {
        rest: bytes,
        offset: 0,
    };
    reader.array::<8>(Part::Magic)?;
    let version = reader.u32(Part::Version)?;
    if version > MANIFEST_VERSION {
        return Err(DecodeError::Newer(version));
    }
    if version < MANIFEST_VERSION {
        return Err(DecodeError::Older(version));
    }

    let (covered, checksum) =
        bytes
            .split_last_chunk::<CHECKSUM_LEN>()
            .ok_or(DecodeError::Truncated {
                part: Part::Checksum,
                offset: bytes.len(),
            })?;
    if Sha256::digest(covered).as_slice() != checksum.as_slice() {
        return Err(DecodeError::ChecksumMismatch);
    }
    // From here on the reader stops where the checksum begins.
    reader.rest = covered.get(reader.offset..).ok_or(DecodeError::Truncated {
        part: Part::Checksum,
        offset: bytes.len(),
    })?;

    let saved_at_ns = reader.i64(Part::SavedAt)?;
    let env = reader.str(Part::Env)?.to_owned();
    let prefix = reader.str(Part::Prefix)?.to_owned();
    let count = reader.u64(Part::Count)?;
    let room = reader.rest.len() / ENTRY_MIN_LEN;
    // Checked before anything is allocated for the entries: a damaged or hostile count must
    // not ask for more memory than the file could fill.
    let count = usize::try_from(count)
        .ok()
        .filter(|&count| count <= room)
        .ok_or(DecodeError::TooManyEntries { count, room })?;

    // Exact for a well-formed file, and never more than the file holds.
    let key_bytes = reader
        .rest
        .len()
        .saturating_sub(count * (2 + ENTRY_FIXED_LEN));
    let mut entries = Entries::with_capacity(count, key_bytes);
    // Every key is non-empty, so the first one comes after this.
    let mut previous: &[u8] = b"";
    for index in 0..count {
        let key = reader.str(Part::Key(index))?;
        if key.is_empty() {
            return Err(DecodeError::EmptyKey { index });
        }
        if key.as_bytes() <= previous {
            let key = key.to_owned();
            return Err(if key.as_bytes() == previous {
                DecodeError::DuplicateKey { index, key }
            } else {
                DecodeError::UnsortedKey { index, key }
            });
        }
        previous = key.as_bytes();
        let part = Part::Entry(index);
        let entry = ManifestEntry {
            stat: FileStat {
                size: reader.u64(part)?,
                mtime_ns: reader.i64(part)?,
                inode: reader.u64(part)?,
            },
            digest: Digest {
                sha256: *reader.array::<32>(part)?,
                md5: *reader.array::<16>(part)?,
            },
        };
        entries.push_last(key, entry);
    }
    if !reader.rest.is_empty() {
        return Err(DecodeError::TrailingBytes {
            count: reader.rest.len(),
            offset: reader.offset,
        });
    }

    Ok(Manifest {
        env,
        prefix,
        files: entries,
        saved_at_ns,
    })
}

/// Why a manifest could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("a key is empty, which the manifest cannot hold")]
    EmptyKey,
    #[error("the {part} starting {start:?} is {len} bytes long; the manifest holds at most 65,535")]
    TooLong {
        part: Part,
        start: String,
        len: usize,
    },
}

/// Why a file is not a manifest this program can use. The message is shown in the warning that
/// says the file was moved aside.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the file is empty")]
    Empty,
    #[error("not a tcb-deploy manifest of a known format")]
    NotAManifest,
    #[error("manifest version {0} is newer than this tcb-deploy understands ({MANIFEST_VERSION})")]
    Newer(u32),
    #[error("manifest version {0} is older than any this tcb-deploy reads ({MANIFEST_VERSION})")]
    Older(u32),
    #[error("the checksum does not match: the file is damaged")]
    ChecksumMismatch,
    #[error("the file ends inside the {part} at byte {offset}")]
    Truncated { part: Part, offset: usize },
    #[error("the {part} at byte {offset} is not UTF-8")]
    NotUtf8 { part: Part, offset: usize },
    #[error("the file claims {count} entries but has room for at most {room}")]
    TooManyEntries { count: u64, room: usize },
    #[error("entry {index} has an empty key")]
    EmptyKey { index: usize },
    #[error("entry {index} repeats the key {key:?}")]
    DuplicateKey { index: usize, key: String },
    #[error("entry {index}'s key {key:?} sorts before the key of the entry before it")]
    UnsortedKey { index: usize, key: String },
    #[error("{count} bytes follow the last entry, at byte {offset}")]
    TrailingBytes { count: usize, offset: usize },
}

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

/// Passes writes on to `inner` and hashes the bytes `inner` took.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        let taken = buf
            .get(..written)
            .ok_or_else(|| io::Error::other("a writer reported more bytes than it was given"))?;
        self.hasher.update(taken);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The bytes not read yet, and where they start in the file (for error messages).
struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn slice(&mut self, len: usize, part: Part) -> Result<&'a [u8], DecodeError> {
        let (head, rest) = self
            .rest
            .split_at_checked(len)
            .ok_or(DecodeError::Truncated {
                part,
                offset: self.offset,
            })?;
        self.rest = rest;
        self.offset += len;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, part: Part) -> Result<&'a [u8; N], DecodeError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Truncated {
                part,
                offset: self.offset,
            })?;
        self.rest = rest;
        self.offset += N;
        Ok(head)
    }

    fn u32(&mut self, part: Part) -> Result<u32, DecodeError> {
        self.array(part).map(|bytes| u32::from_le_bytes(*bytes))
    }

    fn u64(&mut self, part: Part) -> Result<u64, DecodeError> {
        self.array(part).map(|bytes| u64::from_le_bytes(*bytes))
    }

    fn i64(&mut self, part: Part) -> Result<i64, DecodeError> {
        self.array(part).map(|bytes| i64::from_le_bytes(*bytes))
    }

    /// A u16 length, then that many bytes of UTF-8.
    fn str(&mut self, part: Part) -> Result<&'a str, DecodeError> {
        let len = self
            .array::<2>(part)
            .map(|bytes| u16::from_le_bytes(*bytes))?;
        let offset = self.offset;
        let bytes = self.slice(usize::from(len), part)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8 { part, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::manifest::tests::entry;

    fn sample() -> Manifest {
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

    fn encoded(manifest: &Manifest) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode(manifest, &mut bytes).expect("encode");
        bytes
    }

    fn assert_same(decoded: &Manifest, original: &Manifest) {
        assert_eq!(decoded.env, original.env);
        assert_eq!(decoded.prefix, original.prefix);
        assert_eq!(decoded.saved_at_ns, original.saved_at_ns);
        assert_eq!(decoded.files, original.files);
    }

    /// A file laid out by hand, as the module comment describes it, so that tests can write what
    /// the encoder never would.
    struct Raw(Vec<u8>);

    impl Raw {
        fn header(version: u32, count: u64) -> Raw {
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

        fn entry(mut self, key: &[u8], entry: &ManifestEntry) -> Raw {
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

        fn bytes(mut self, bytes: &[u8]) -> Raw {
            self.0.extend(bytes);
            self
        }

        /// The bytes with a correct checksum after them.
        fn sealed(self) -> Vec<u8> {
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

    #[test]
    fn layout_is_the_documented_one() {
        let mut manifest = Manifest::new("env", "p/");
        manifest.saved_at_ns = 7;
        let a = entry(1, -3);
        let b = entry(2, 1_700_000_000_000_000_000);
        manifest.files.insert("b/c.js", b);
        manifest.files.insert("a.html", a);

        let by_hand = Raw::header(2, 2)
            .entry(b"a.html", &a)
            .entry(b"b/c.js", &b)
            .sealed();
        assert_eq!(encoded(&manifest), by_hand);
    }

    #[test]
    fn longest_key_fits_and_a_longer_one_is_an_error() {
        let mut manifest = Manifest::new("env", "");
        manifest.files.insert(&"k".repeat(65_535), entry(1, 1));
        assert_same(&decode(&encoded(&manifest)).expect("decode"), &manifest);

        manifest.files.insert(&"x".repeat(65_536), entry(2, 2));
        let err = encode(&manifest, Vec::new()).expect_err("key too long");
        assert!(
            matches!(
                err,
                EncodeError::TooLong {
                    part: Part::Key(1),
                    len: 65_536,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("key of entry 1"), "{err}");

        let long_prefix = Manifest::new("env", &"p".repeat(70_000));
        let err = encode(&long_prefix, Vec::new()).expect_err("prefix too long");
        assert!(
            matches!(
                err,
                EncodeError::TooLong {
                    part: Part::Prefix,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn an_empty_key_is_not_written() {
        let mut manifest = Manifest::new("env", "");
        manifest.files.insert("", entry(1, 1));
        let err = encode(&manifest, Vec::new()).expect_err("empty key");
        assert!(matches!(err, EncodeError::EmptyKey), "{err:?}");
    }

    #[test]
    fn every_truncation_fails() {
        let bytes = encoded(&sample());
        for len in 0..bytes.len() {
            let result = decode(bytes.get(..len).expect("in range"));
            assert!(result.is_err(), "{len} of {} bytes decoded", bytes.len());
        }
    }

    #[test]
    fn every_flipped_bit_fails() {
        let bytes = encoded(&sample());
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                if let Some(byte) = damaged.get_mut(index) {
                    *byte ^= 1 << bit;
                }
                assert!(
                    decode(&damaged).is_err(),
                    "bit {bit} of byte {index} flipped and still decoded"
                );
            }
        }
    }

    #[test]
    fn damage_is_named() {
        let bytes = encoded(&sample());
        let mut damaged = bytes.clone();
        if let Some(byte) = damaged.get_mut(40) {
            *byte ^= 1;
        }
        let err = decode(&damaged).expect_err("damaged");
        assert!(matches!(err, DecodeError::ChecksumMismatch), "{err:?}");
        assert!(matches!(decode(b""), Err(DecodeError::Empty)), "empty file");
        assert!(
            matches!(
                decode(b"TCBD"),
                Err(DecodeError::Truncated {
                    part: Part::Magic,
                    ..
                })
            ),
            "cut inside the magic"
        );
    }

    #[test]
    fn keys_must_be_strictly_increasing() {
        let (a, b) = (entry(1, 1), entry(2, 2));
        let unsorted = Raw::header(2, 2).entry(b"b", &a).entry(b"a", &b).sealed();
        let err = decode(&unsorted).expect_err("unsorted");
        assert!(
            matches!(&err, DecodeError::UnsortedKey { index: 1, key } if key == "a"),
            "{err:?}"
        );

        let duplicate = Raw::header(2, 2).entry(b"a", &a).entry(b"a", &b).sealed();
        let err = decode(&duplicate).expect_err("duplicate");
        assert!(
            matches!(&err, DecodeError::DuplicateKey { index: 1, key } if key == "a"),
            "{err:?}"
        );

        // Byte order, not character order: "Z" (0x5a) comes before "a" (0x61), and a key
        // comes after every key it extends.
        let sorted = Raw::header(2, 3)
            .entry(b"Z", &a)
            .entry(b"a", &b)
            .entry(b"a/b", &b)
            .sealed();
        assert_eq!(decode(&sorted).expect("sorted").files.len(), 3);
    }

    #[test]
    fn empty_or_non_utf8_keys_fail() {
        let a = entry(1, 1);
        // A second, longer key so that the count fits the bytes and the key itself is judged.
        let empty = Raw::header(2, 2)
            .entry(b"", &a)
            .entry(b"index.html", &a)
            .sealed();
        assert!(
            matches!(decode(&empty), Err(DecodeError::EmptyKey { index: 0 })),
            "empty key"
        );
        let latin1 = Raw::header(2, 1).entry(b"caf\xe9", &a).sealed();
        assert!(
            matches!(
                decode(&latin1),
                Err(DecodeError::NotUtf8 {
                    part: Part::Key(0),
                    ..
                })
            ),
            "not UTF-8"
        );
    }

    #[test]
    fn a_huge_count_fails_before_allocating() {
        let a = entry(1, 1);
        // Sized by the count, the entries would need more memory than exists (1 << 40) or more
        // than a Vec can hold (u64::MAX): either would abort or panic this test.
        for count in [2, 1 << 40, u64::MAX] {
            let bytes = Raw::header(2, count).entry(b"a", &a).sealed();
            let err = decode(&bytes).expect_err("count larger than the file");
            assert!(
                matches!(err, DecodeError::TooManyEntries { room: 1, .. }),
                "{count}: {err:?}"
            );
        }
        // Room for two by size, but the second is not there whole.
        let bytes = Raw::header(2, 2)
            .entry(b"a", &a)
            .bytes(&[2, 0, b'b', b'b'])
            .bytes(&[0; ENTRY_FIXED_LEN - 1])
            .sealed();
        let err = decode(&bytes).expect_err("second entry cut short");
        assert!(
            matches!(
                err,
                DecodeError::Truncated {
                    part: Part::Entry(1),
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn trailing_bytes_fail() {
        let mut appended = encoded(&sample());
        appended.push(0);
        assert!(
            matches!(decode(&appended), Err(DecodeError::ChecksumMismatch)),
            "garbage after the checksum"
        );

        let a = entry(1, 1);
        let resealed = Raw::header(2, 1).entry(b"a", &a).bytes(b"junk").sealed();
        let err = decode(&resealed).expect_err("garbage before the checksum");
        assert!(
            matches!(err, DecodeError::TrailingBytes { count: 4, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn other_versions_are_named() {
        let newer = Raw::header(3, 0).bytes(b"a layout of the future").sealed();
        let err = decode(&newer).expect_err("newer");
        assert_eq!(
            err.to_string(),
            "manifest version 3 is newer than this tcb-deploy understands (2)"
        );
        let older = Raw::header(1, 0).sealed();
        assert!(
            matches!(decode(&older), Err(DecodeError::Older(1))),
            "older"
        );
        assert_eq!(
            decode(&Raw::header(2, 0).sealed())
                .expect("current")
                .files
                .len(),
            0
        );
    }

    #[test]
    fn a_json_manifest_is_not_a_known_format() {
        let json = br#"{"version":1,"env":"env","prefix":"","saved_at_ns":1,"files":{}}"#;
        let err = decode(json).expect_err("JSON");
        assert!(matches!(err, DecodeError::NotAManifest), "{err:?}");
        assert_eq!(
            err.to_string(),
            "not a tcb-deploy manifest of a known format"
        );
    }
}
