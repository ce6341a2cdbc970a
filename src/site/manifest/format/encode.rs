//! Writing the format: the fields in their order, every length checked against its u16, and
//! the checksum computed as the bytes leave the buffer.

use std::io::{self, BufWriter, Write};

use sha2::{Digest as _, Sha256};

use super::{MAGIC, MANIFEST_VERSION, Part};
use crate::site::manifest::Manifest;

/// Writes go out through a buffer this large: few system calls, little memory.
const IO_BUFFER: usize = 64 * 1024;

/// Writes `manifest` to `out`, checksum last. The bytes are hashed as they leave the buffer, so
/// the encoding is never held whole in memory.
pub(in crate::site::manifest) fn encode(
    manifest: &Manifest,
    out: impl Write,
) -> Result<(), EncodeError> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{Raw, assert_same};
    use super::*;
    use crate::site::manifest::format::decode;
    use crate::site::manifest::tests::{encoded, entry};

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
}
