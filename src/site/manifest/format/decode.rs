//! Reading the format back, trusting nothing in the file: every length is checked against the
//! bytes left, and no allocation is sized by a count the bytes could not hold.

use sha2::{Digest as _, Sha256};

use super::{CHECKSUM_LEN, ENTRY_FIXED_LEN, ENTRY_MIN_LEN, MAGIC, MANIFEST_VERSION, Part};
use crate::site::FileStat;
use crate::site::hash::Digest;
use crate::site::manifest::{Entries, Manifest, ManifestEntry};

/// Reads a manifest from the bytes of a whole file.
pub(in crate::site::manifest) fn decode(bytes: &[u8]) -> Result<Manifest, DecodeError> {
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
    use super::super::tests::{Raw, sample};
    use super::*;
    use crate::site::manifest::tests::{encoded, entry};

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
