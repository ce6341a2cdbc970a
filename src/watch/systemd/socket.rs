//! The notification socket: `$NOTIFY_SOCKET` parsed into an address, and one datagram sent to
//! it. Only Unix has such sockets; elsewhere no address parses.

#[cfg(unix)]
mod unix {
    use std::io;
    use std::os::unix::net::UnixDatagram;

    pub type Address = std::os::unix::net::SocketAddr;

    /// `$NOTIFY_SOCKET`: an absolute path, or `@name` for a socket in Linux's abstract
    /// namespace (the `@` stands for the leading NUL byte). systemd ≥ 253 may also pass
    /// `vsock:` addresses (for virtual machines); those are refused as unsupported.
    pub fn parse(raw: &str) -> Result<Address, String> {
        if let Some(name) = raw.strip_prefix('@') {
            return abstract_address(name);
        }
        if !raw.starts_with('/') {
            return Err("expected an absolute path or @abstract-name".into());
        }
        Address::from_pathname(raw).map_err(|e| e.to_string())
    }

    #[cfg(target_os = "linux")]
    fn abstract_address(name: &str) -> Result<Address, String> {
        use std::os::linux::net::SocketAddrExt;
        Address::from_abstract_name(name.as_bytes()).map_err(|e| e.to_string())
    }

    #[cfg(not(target_os = "linux"))]
    fn abstract_address(_: &str) -> Result<Address, String> {
        Err("abstract socket names exist only on Linux".into())
    }

    /// Sends one datagram from a fresh unbound socket, as libsystemd does: there is no
    /// connection to keep, and a notification every few seconds at most costs nothing. The
    /// socket is non-blocking, so a manager that stopped reading (a full queue) yields
    /// `WouldBlock` instead of stalling the daemon.
    pub fn send(address: &Address, message: &[u8]) -> io::Result<()> {
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        let sent = socket.send_to_addr(message, address)?;
        if sent != message.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {sent} of {} bytes", message.len()),
            ));
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod other {
    use std::io;

    /// No Unix sockets, so no address can exist.
    pub enum Address {}

    pub fn parse(_: &str) -> Result<Address, String> {
        Err("Unix sockets are not available on this platform".into())
    }

    pub fn send(address: &Address, _: &[u8]) -> io::Result<()> {
        match *address {}
    }
}

#[cfg(not(unix))]
pub use other::*;
#[cfg(unix)]
pub use unix::*;
