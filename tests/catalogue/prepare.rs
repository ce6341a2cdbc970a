//! What cases put in their folder before the run, and what they change in the emulator.

use std::path::Path;

use crate::case::SITE;
use crate::common::{self, Harness};

pub fn nothing(_: &Path) {}

pub fn as_is(_: &Harness) {}

pub fn site(root: &Path) {
    for (key, text) in SITE {
        write(root, &format!("site/{key}"), text);
    }
}

pub fn write(root: &Path, relative: &str, text: &str) {
    common::write_files(root, [(relative, text)]);
}

pub fn config(root: &Path, text: &str) {
    write(root, "c.toml", text);
}

pub fn mkdir(root: &Path, relative: &str) {
    std::fs::create_dir_all(root.join(relative)).expect("mkdir");
}

pub fn link(root: &Path, relative: &str, target: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(target, path).expect("symlink");
}

/// A file whose name is given as bytes (not necessarily UTF-8).
pub fn write_bytes_name(root: &Path, relative: &[u8], text: &str) {
    use std::os::unix::ffi::OsStrExt;
    common::write_files(root, [(std::ffi::OsStr::from_bytes(relative), text)]);
}

pub fn fifo(root: &Path, relative: &str) {
    let status = std::process::Command::new("mkfifo")
        .arg(root.join(relative))
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo");
}

/// A file of `size` bytes that takes no disk space.
pub fn sparse(root: &Path, relative: &str, size: u64) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create");
    file.set_len(size).expect("set_len");
}

/// A file holding a secret, with these permissions.
/// A file holding `value` and a line break, with permissions `mode`.
pub fn secret_file(root: &Path, name: &str, value: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(name);
    std::fs::write(&path, format!("{value}\n")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
