//! Tells systemd how the `watch` daemon is doing, over the sd_notify protocol: readiness (so
//! `Type=notify` units start only once the first sync is done), a one-line status for
//! `systemctl status`, watchdog keep-alives, and reload/stop transitions.
//!
//! The protocol is written here by hand rather than taken from libsystemd: it is a few
//! `KEY=VALUE\n` lines in one datagram to the Unix socket named by `$NOTIFY_SOCKET`, systemd
//! promises to keep it stable, and a C library (or a crate wrapping one) for that would cost more
//! than it saves. Everything here is best effort: a daemon must not stop, block or fail because
//! its supervisor's socket went away, so send errors are logged once at debug level and dropped.
//!
//! `socket.rs` parses the socket's address and sends one datagram to it.

mod socket;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The most systemd reads of one notification (`NOTIFY_BUFFER_MAX`, 4096 bytes); a longer
/// datagram is truncated by the kernel and then ignored whole, so long statuses are cut to fit.
const MAX_MESSAGE_BYTES: usize = 4096;

/// A handle to the service manager's notification socket. Cheap to clone (an `Arc`); every
/// method is a no-op when the process was not started by systemd with `Type=notify` (or when
/// `$NOTIFY_SOCKET` was unusable).
#[derive(Clone, Debug)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    /// `$NOTIFY_SOCKET` as given, for log lines.
    name: String,
    address: socket::Address,
    /// `$WATCHDOG_USEC`, when it applies to this process.
    watchdog: Option<Duration>,
    /// Set at the first failed send, so that only that one is logged.
    send_failed: AtomicBool,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("name", &self.name)
            .field("watchdog", &self.watchdog)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// From the environment map (the crate reads the environment once and passes it down):
    /// `NOTIFY_SOCKET`, and `WATCHDOG_USEC` / `WATCHDOG_PID` (the watchdog applies only if
    /// `WATCHDOG_PID` is absent or names this process). An unusable `NOTIFY_SOCKET` makes an
    /// inactive notifier and an unusable watchdog setting no watchdog, each with one warning.
    pub fn from_env(vars: &BTreeMap<String, String>) -> Notifier {
        let Some(name) = vars.get("NOTIFY_SOCKET") else {
            return Notifier { inner: None };
        };
        let address = match socket::parse(name) {
            Ok(address) => address,
            Err(reason) => {
                tracing::warn!(
                    notify_socket = %name,
                    reason,
                    "NOTIFY_SOCKET is not usable; systemd will not be notified"
                );
                return Notifier { inner: None };
            }
        };
        let watchdog = watchdog_period(vars, std::process::id());
        Notifier {
            inner: Some(Arc::new(Inner {
                name: name.clone(),
                address,
                watchdog,
                send_failed: AtomicBool::new(false),
            })),
        }
    }

    /// Whether notifications go anywhere.
    pub fn is_active(&self) -> bool {
        self.inner.is_some()
    }

    /// Startup (or a reload) is finished: `READY=1`.
    pub fn ready(&self) {
        self.send("READY=1\n");
    }

    /// A one-line status shown by `systemctl status`: `STATUS=<text>`. Line breaks and other
    /// control characters become spaces; text too long for one notification is cut.
    pub fn status(&self, text: &str) {
        if self.inner.is_none() {
            return;
        }
        let one_line: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let room = MAX_MESSAGE_BYTES - "STATUS=\n".len();
        let text = truncate_at_char(&one_line, room);
        self.send(&format!("STATUS={text}\n"));
    }

    /// Keep-alive for `WatchdogSec=`: `WATCHDOG=1`. Call it every [`Notifier::watchdog_interval`].
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1\n");
    }

    /// Shutdown has begun: `STOPPING=1`.
    pub fn stopping(&self) {
        self.send("STOPPING=1\n");
    }

    /// A reload has begun: `RELOADING=1`; send [`Notifier::ready`] when it is done.
    ///
    /// systemd ≥ 253 pairs this with `MONOTONIC_USEC=` under `Type=notify-reload`. It is not
    /// sent: std offers no way to read `CLOCK_MONOTONIC` as a number and this module does not
    /// take libc for it. Under `Type=notify` with `ExecReload=`, as our unit file has it, systemd
    /// does not need it.
    pub fn reloading(&self) {
        self.send("RELOADING=1\n");
    }

    /// How often to call [`Notifier::watchdog`]: half of `WATCHDOG_USEC`, as systemd advises.
    /// `None` when no watchdog was asked for this process, or when the notifier is inactive.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.inner.as_ref()?.watchdog.map(|period| period / 2)
    }

    fn send(&self, message: &str) {
        let Some(inner) = &self.inner else {
            return;
        };
        if let Err(error) = socket::send(&inner.address, message.as_bytes()) {
            // Logged once: when the socket is gone every later send fails the same way.
            if !inner.send_failed.swap(true, Ordering::Relaxed) {
                tracing::debug!(
                    notify_socket = %inner.name,
                    %error,
                    "could not notify systemd; later failures are not logged"
                );
            }
        }
    }
}

/// `WATCHDOG_USEC` when it applies to process `pid`: set, a positive number, and `WATCHDOG_PID`
/// absent or equal to `pid` (a watchdog meant for another process, e.g. the shell that started
/// us, is not ours to feed).
fn watchdog_period(vars: &BTreeMap<String, String>, pid: u32) -> Option<Duration> {
    let usec = vars.get("WATCHDOG_USEC")?;
    if let Some(watchdog_pid) = vars.get("WATCHDOG_PID") {
        match watchdog_pid.trim().parse::<u32>() {
            Ok(p) if p == pid => {}
            Ok(_) => return None,
            Err(_) => {
                tracing::warn!(
                    watchdog_pid = %watchdog_pid,
                    "WATCHDOG_PID is not a process id; the systemd watchdog is not fed"
                );
                return None;
            }
        }
    }
    // systemd's own parser refuses 0 and USEC_INFINITY (u64::MAX).
    match usec.trim().parse::<u64>() {
        Ok(usec) if usec > 0 && usec < u64::MAX => Some(Duration::from_micros(usec)),
        _ => {
            tracing::warn!(
                watchdog_usec = %usec,
                "WATCHDOG_USEC is not a positive number of microseconds; the systemd watchdog is not fed"
            );
            None
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io;
    use std::os::unix::net::UnixDatagram;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A listening socket in a temp folder, non-blocking so that a missing datagram is an
    /// error rather than a hang (a local datagram is queued before `send` returns).
    fn listener() -> (tempfile::TempDir, UnixDatagram, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        (dir, socket, path.to_str().expect("utf-8 path").to_owned())
    }

    fn received(socket: &UnixDatagram) -> String {
        let mut buf = vec![0u8; MAX_MESSAGE_BYTES + 1];
        let n = socket.recv(&mut buf).expect("a datagram was sent");
        String::from_utf8(buf[..n].to_vec()).expect("utf-8")
    }

    fn nothing_received(socket: &UnixDatagram) -> bool {
        let mut buf = [0u8; 64];
        matches!(socket.recv(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    #[test]
    fn sends_each_message_as_one_datagram() {
        let (_dir, socket, path) = listener();
        let notifier = Notifier::from_env(&vars(&[("NOTIFY_SOCKET", &path)]));
        assert!(notifier.is_active());

        notifier.ready();
        assert_eq!(received(&socket), "READY=1\n");
        notifier.status("watching 3 sites");
        assert_eq!(received(&socket), "STATUS=watching 3 sites\n");
        notifier.watchdog();
        assert_eq!(received(&socket), "WATCHDOG=1\n");
        notifier.reloading();
        assert_eq!(received(&socket), "RELOADING=1\n");
        notifier.stopping();
        assert_eq!(received(&socket), "STOPPING=1\n");
        assert!(nothing_received(&socket));
    }

    #[test]
    fn status_is_one_line_and_fits_one_notification() {
        let (_dir, socket, path) = listener();
        let notifier = Notifier::from_env(&vars(&[("NOTIFY_SOCKET", &path)]));

        notifier.status("deployed docs\nuploading blog\r\n");
        assert_eq!(received(&socket), "STATUS=deployed docs uploading blog  \n");

        // 3-byte characters, so the cut must land on a character boundary.
        notifier.status(&"界".repeat(2000));
        let message = received(&socket);
        assert!(message.len() <= MAX_MESSAGE_BYTES, "{}", message.len());
        assert!(message.starts_with("STATUS=界") && message.ends_with("界\n"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_names_work() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("tcb-deploy-test-notify-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .expect("abstract address");
        let socket = UnixDatagram::bind_addr(&address).expect("bind abstract");
        socket.set_nonblocking(true).expect("nonblocking");

        let notifier = Notifier::from_env(&vars(&[("NOTIFY_SOCKET", &format!("@{name}"))]));
        notifier.ready();
        assert_eq!(received(&socket), "READY=1\n");
    }

    #[test]
    fn watchdog_interval_is_half_of_watchdog_usec() {
        let (_dir, _socket, path) = listener();
        let own_pid = std::process::id().to_string();
        let other_pid = std::process::id().wrapping_add(1).to_string();
        let interval = |extra: &[(&str, &str)]| {
            let mut map = vars(&[("NOTIFY_SOCKET", &path)]);
            map.extend(vars(extra));
            Notifier::from_env(&map).watchdog_interval()
        };

        assert_eq!(interval(&[]), None);
        let ten_seconds = Some(Duration::from_secs(10));
        assert_eq!(interval(&[("WATCHDOG_USEC", "20000000")]), ten_seconds);
        assert_eq!(
            interval(&[("WATCHDOG_USEC", "20000000"), ("WATCHDOG_PID", &own_pid)]),
            ten_seconds
        );
        assert_eq!(
            interval(&[("WATCHDOG_USEC", "20000000"), ("WATCHDOG_PID", &other_pid)]),
            None
        );
        // A 1 µs watchdog still gives a non-zero interval (tokio's interval panics on zero).
        assert_eq!(
            interval(&[("WATCHDOG_USEC", "1")]),
            Some(Duration::from_nanos(500))
        );
        for bad in ["0", "-5", "ten", "", "18446744073709551615"] {
            assert_eq!(interval(&[("WATCHDOG_USEC", bad)]), None, "{bad:?}");
        }
        let bad_pid = [("WATCHDOG_USEC", "20000000"), ("WATCHDOG_PID", "me")];
        assert_eq!(interval(&bad_pid), None);
    }

    #[test]
    fn without_notify_socket_everything_is_a_no_op() {
        let notifier = Notifier::from_env(&vars(&[("WATCHDOG_USEC", "20000000")]));
        assert!(!notifier.is_active());
        assert_eq!(notifier.watchdog_interval(), None);
        notifier.ready();
        notifier.status("x");
        notifier.watchdog();
        notifier.reloading();
        notifier.stopping();
    }

    #[test]
    fn unusable_notify_socket_values_make_an_inactive_notifier() {
        let too_long = format!("/{}", "x".repeat(200));
        for bad in [
            "",
            "relative/notify.sock",
            "vsock:2:1234",
            too_long.as_str(),
        ] {
            let notifier = Notifier::from_env(&vars(&[("NOTIFY_SOCKET", bad)]));
            assert!(!notifier.is_active(), "{bad:?}");
        }
    }

    #[test]
    fn a_vanished_listener_is_not_an_error() {
        let (dir, socket, path) = listener();
        let gone = dir.path().join("never-bound.sock");
        drop(socket);
        for name in [path.as_str(), gone.to_str().expect("utf-8 path")] {
            let notifier = Notifier::from_env(&vars(&[("NOTIFY_SOCKET", name)]));
            assert!(notifier.is_active());
            notifier.ready();
            notifier.status("still here");
            notifier.watchdog();
            notifier.reloading();
            notifier.stopping();
            let inner = notifier.inner.as_ref().expect("active");
            assert!(inner.send_failed.load(Ordering::Relaxed), "{name}");
        }
    }

    #[test]
    fn a_listener_that_stopped_reading_does_not_block_sends() {
        let (_dir, _socket, path) = listener();
        let notifier = Notifier::from_env(&vars(&[("NOTIFY_SOCKET", &path)]));
        // The kernel queues only a few datagrams per socket (net.unix.max_dgram_qlen, 10 by
        // default); a blocking send would hang here once the queue is full.
        for _ in 0..10_000 {
            notifier.watchdog();
        }
        let inner = notifier.inner.as_ref().expect("active");
        assert!(inner.send_failed.load(Ordering::Relaxed));
    }
}
