//! Relays the build command's output to ours, line by line, after a prefix.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tracing::warn;

/// Copies lines from `source` to `sink`, each after `prefix`, until `source` ends. If `sink`
/// fails (our stdout closed), lines are still read and dropped, so the child never blocks on a
/// full pipe.
pub(super) async fn relay<R, W>(source: R, prefix: Arc<str>, mut sink: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut source = BufReader::new(source);
    let mut line = Vec::new();
    let mut out = Vec::new();
    let mut sink_open = true;
    loop {
        line.clear();
        match source.read_until(b'\n', &mut line).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                warn!(%error, "cannot read the build command's output");
                break;
            }
        }
        if !sink_open {
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        out.clear();
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(String::from_utf8_lossy(text).as_bytes());
        out.push(b'\n');
        let written = match sink.write_all(&out).await {
            Ok(()) => sink.flush().await,
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            sink_open = false;
            // A closed pipe on our side is not worth a word.
            if error.kind() != io::ErrorKind::BrokenPipe {
                warn!(%error, "cannot write the build command's output");
            }
        }
    }
    if sink_open {
        // Tells a capturing reader (tests) that the output ended; flushes a real stdout.
        let _ = sink.shutdown().await;
    }
}
