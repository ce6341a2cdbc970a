//! `init`: writes a commented config file for one site, so that a newcomer starts from a file
//! that loads and says where every other setting lives. It never replaces a file without
//! `--force`, and reads no configuration itself.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::config::{ConfigError, validate_env_id};
use crate::error::Error;
use crate::exit::ExitCode;

/// Build-output folders of the common front-end tools, in the order they are looked for.
const BUILD_FOLDERS: &[&str] = &["dist", "build", "out", "public"];

pub fn run(args: &InitArgs) -> Result<ExitCode, Error> {
    if let Some(env) = &args.env {
        validate_env_id(env)?;
    }
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => detect_build_folder(Path::new(".")).unwrap_or_else(|| PathBuf::from("dist")),
    };
    let text = template(args.env.as_deref(), &dir);
    write_new(&args.file, &text, args.force)?;
    let file = args.file.display();
    let next = match args.env {
        Some(_) => format!("next: tcb-deploy --config {file} plan"),
        None => format!("set `env` in it (or TCB_ENV), then: tcb-deploy --config {file} plan"),
    };
    super::print(&format!(
        "wrote {file} (site folder {})\n{next}\n",
        dir.display()
    ))?;
    Ok(ExitCode::Ok)
}

/// The first of [`BUILD_FOLDERS`] that is a folder under `root`.
fn detect_build_folder(root: &Path) -> Option<PathBuf> {
    BUILD_FOLDERS
        .iter()
        .map(PathBuf::from)
        .find(|name| root.join(name).is_dir())
}

/// Creates `path` with `text`; an existing file is replaced only with `force`.
fn write_new(path: &Path, text: &str, force: bool) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let invalid = |reason: String| {
        Error::Config(ConfigError::Invalid {
            key: "init file",
            value: path.display().to_string(),
            reason,
        })
    };
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            invalid("it exists already; pass --force to replace it, or name another file".into())
        }
        _ => invalid(format!(
            "cannot create it: {e}; check the folder and its permissions"
        )),
    })?;
    file.write_all(text.as_bytes())
        .map_err(|e| invalid(format!("cannot write it: {e}")))
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn template(env: Option<&str>, dir: &Path) -> String {
    let env_line = match env {
        Some(env) => format!("env = {}", quoted(env)),
        None => {
            "# env = \"prod-0123456789abcdef\"   # your environment id (or set TCB_ENV)".to_owned()
        }
    };
    let dir = quoted(&dir.to_string_lossy());
    format!(
        r#"# tcb-deploy configuration, written by `tcb-deploy init`.
# Every key is described in deploy.example.toml and in README.md ("Configuration"); each key
# `k` can also be set by the environment variable TCB_K, and flags override both.

# The environment the site is deployed to.
{env_line}

# Credentials are never read from this file. Configure exactly one token source, e.g.
#   TCB_ACCESS_TOKEN (a variable), or
# token_file = "/run/credentials/tcb-deploy/token"
# or component credentials, renewed by tcb-deploy itself:
# component_appid = "wx0123456789abcdef"
# component_appsecret_file = "/run/credentials/tcb-deploy/appsecret"   # or TCB_COMPONENT_APPSECRET
# component_verify_ticket_file = "/var/lib/ticket-writer/ticket"

# Try it with no account: the embedded emulator, which serves the deployed site locally.
# api_base = "local"

# The most uploads in flight at once (1 to 256), and tries per call and per file.
# concurrency = 64
# retry_attempts = 10

[[site]]
# The build-output folder, relative to this file.
dir = {dir}
# Deploy under a folder of the store instead of its root:
# prefix = "docs/"
# Files to leave out, gitignore syntax (a .deployignore file in the folder works too):
# ignore = ["*.map"]

# Headers by path; the first matching rule sets each header.
# [[site.rules]]
# glob = "assets/**"
# cache_control = "public, max-age=31536000, immutable"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_build_folder_found_is_used() {
        let root = tempfile::tempdir().expect("temp dir");
        assert_eq!(detect_build_folder(root.path()), None);
        std::fs::create_dir(root.path().join("public")).expect("mkdir");
        std::fs::write(root.path().join("dist"), "a file, not a folder").expect("write");
        assert_eq!(
            detect_build_folder(root.path()),
            Some(PathBuf::from("public"))
        );
        std::fs::create_dir(root.path().join("build")).expect("mkdir");
        assert_eq!(
            detect_build_folder(root.path()),
            Some(PathBuf::from("build"))
        );
    }

    #[test]
    fn the_template_is_valid_toml_with_the_values_quoted() {
        let text = template(Some("prod-1"), Path::new("web \"dist\""));
        let value: toml::Table = toml::from_str(&text).expect("valid TOML");
        assert_eq!(value["env"].as_str(), Some("prod-1"));
        assert_eq!(value["site"][0]["dir"].as_str(), Some("web \"dist\""));
        let text = template(None, Path::new("dist"));
        let value: toml::Table = toml::from_str(&text).expect("valid TOML");
        assert!(!value.contains_key("env"));
    }
}
