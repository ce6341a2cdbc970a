//! What each fuzz target checks. The libFuzzer targets in `fuzz_targets/` are one-line calls
//! into these functions, and the stable-toolchain test `tests/fuzz_corpus.rs` includes this file
//! to replay the checked-in corpora through the same code, so an input that once failed keeps
//! being run by `cargo test`. For that, this file uses nothing but `tcb_deploy` and `arbitrary`.
//!
//! Each function takes one raw input and panics on a finding: a panic inside the library, an
//! error message that would not print as one line, or a broken invariant of the ignore rules.

use std::collections::BTreeMap;
use std::fmt::{Debug, Display};
use std::path::{Path, PathBuf};
use std::time::Instant;

use arbitrary::{Arbitrary, Unstructured};
use tcb_deploy::api::{self, ApiError, Endpoint};
use tcb_deploy::config::{Config, Settings};
use tcb_deploy::site::ignore_rules::{IGNORE_FILE_NAME, IgnoreRules};

/// The longest message an answer, however large, may turn into, in bytes.
pub const MAX_ANSWER_MESSAGE: usize = 4096;

/// The paths asked of one set of ignore rules, at most, to keep each run short.
const MAX_PATHS: usize = 64;

/// The parsers of bodies the service sends: the answer type of each endpoint, as the client's
/// methods read it, and the object store's error body.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parser {
    DescribeStaticStore,
    CreateStaticStore,
    StaticUploadFile,
    StaticFileList,
    GetEnvInfo,
    BatchShareEnv,
    ComponentToken,
    AuthorizerToken,
    /// The body of a failed PUT to a signed link.
    CosError,
}

impl Parser {
    /// The endpoint whose answers this parser reads; `None` for the object store.
    pub fn endpoint(self) -> Option<Endpoint> {
        Some(match self {
            Parser::DescribeStaticStore => Endpoint::DescribeStaticStore,
            Parser::CreateStaticStore => Endpoint::CreateStaticStore,
            Parser::StaticUploadFile => Endpoint::StaticUploadFile,
            Parser::StaticFileList => Endpoint::StaticFileList,
            Parser::GetEnvInfo => Endpoint::GetEnvInfo,
            Parser::BatchShareEnv => Endpoint::BatchShareEnv,
            Parser::ComponentToken => Endpoint::ComponentToken,
            Parser::AuthorizerToken => Endpoint::AuthorizerToken,
            Parser::CosError => return None,
        })
    }
}

/// The input of `api_answer`: 4 bytes choose the parser, 2 the HTTP status (little-endian), and
/// the rest is the body.
#[derive(Arbitrary, Debug)]
pub struct Answer<'a> {
    pub parser: Parser,
    pub status: u16,
    pub body: &'a [u8],
}

impl<'a> Answer<'a> {
    /// Reads an input as libFuzzer's typed targets do.
    pub fn from_bytes(data: &'a [u8]) -> Option<Answer<'a>> {
        Answer::arbitrary_take_rest(Unstructured::new(data)).ok()
    }
}

/// Target `api_answer`: a body read by one of the client's parsers. Whatever the body, the
/// parser returns, and an error's message is one line of at most [`MAX_ANSWER_MESSAGE`] bytes.
pub fn api_answer(data: &[u8]) {
    let Some(Answer {
        parser,
        status,
        body,
    }) = Answer::from_bytes(data)
    else {
        return;
    };
    let Some(endpoint) = parser.endpoint() else {
        let error = api::parse_cos_error(status, body);
        let _ = error.reaction();
        return assert_message(&error, Some(MAX_ANSWER_MESSAGE));
    };
    match parser {
        Parser::DescribeStaticStore => check_answer(api::parse_answer::<
            api::DescribeStaticStoreAnswer,
        >(endpoint, status, body)),
        Parser::CreateStaticStore => {
            check_answer(api::parse_answer::<api::Empty>(endpoint, status, body))
        }
        Parser::StaticUploadFile => check_answer(
            api::parse_answer::<api::UploadLink>(endpoint, status, body)
                .and_then(api::check_upload_link),
        ),
        Parser::StaticFileList => check_answer(api::parse_answer::<api::FileListPage>(
            endpoint, status, body,
        )),
        Parser::GetEnvInfo => check_answer(api::parse_answer::<api::EnvInfoAnswer>(
            endpoint, status, body,
        )),
        Parser::BatchShareEnv => check_answer(api::parse_answer::<api::ShareEnvAnswer>(
            endpoint, status, body,
        )),
        Parser::ComponentToken => check_answer(api::parse_answer::<api::ComponentTokenAnswer>(
            endpoint, status, body,
        )),
        Parser::AuthorizerToken => check_answer(api::parse_answer::<api::AuthorizerTokenAnswer>(
            endpoint, status, body,
        )),
        Parser::CosError => unreachable!("handled above"),
    }
}

fn check_answer<A: Debug>(result: Result<A, ApiError>) {
    match result {
        Ok(answer) => {
            let _ = format!("{answer:?}");
        }
        Err(error) => {
            let _ = (error.reaction(), error.exit_code(), error.errcode());
            assert_message(&error, Some(MAX_ANSWER_MESSAGE));
        }
    }
}

/// Target `config`: the text of a config file, read and validated as `Config::load` does it.
/// Whatever the text, the result is an error whose message is one line, or a config whose
/// times can each be added to the present.
pub fn config(data: &[u8]) {
    // The tool reads config files with `read_to_string`, which refuses text that is not UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let settings = match Settings::from_toml(Path::new("deploy.toml"), text) {
        Ok(settings) => settings,
        Err(error) => return assert_message(&error, None),
    };
    // The app secret comes from the environment, so that a `component_appid` in the text never
    // makes the validation read a file the text names (it could be /dev/zero).
    let vars = BTreeMap::from([("TCB_COMPONENT_APPSECRET".to_owned(), "fuzz".to_owned())]);
    // The file's settings as the only layer (nothing else sets a key), validated.
    let config = match Config::load(None, &vars, settings) {
        Ok(config) => config,
        Err(error) => {
            let _ = error.exit_code();
            return assert_message(&error, None);
        }
    };
    // Each time the config sets is added to the present somewhere: a deadline, a first tick.
    let now = Instant::now();
    let (timeouts, watch) = (config.timeouts, config.watch);
    let times = [
        timeouts.connect,
        timeouts.request,
        timeouts.idle,
        watch.quiet,
        watch.max_wait,
        watch.status_interval,
        watch.stop_grace,
    ];
    for time in times.into_iter().chain(watch.poll) {
        assert!(
            now.checked_add(time).is_some(),
            "{time:?} overflows the clock"
        );
    }
    if let Err(error) = config.env(None) {
        assert_message(&error, None);
    }
    for site in &config.sites {
        // What a scan of the site does with its `ignore` globs.
        if let Err(error) = IgnoreRules::build(&site.ignore, None) {
            assert_message(&error, None);
        }
        for path in ["index.html", "assets/app.js", &site.name] {
            let _ = site.headers.for_path(path);
        }
    }
}

/// Target `ignore_file`: a root `.deployignore` and the config's `ignore` globs, built into
/// [`IgnoreRules`], then asked about paths. The input is text in up to three parts separated by
/// NUL bytes: the `.deployignore` file; the config globs, one per line; the paths to ask about,
/// one per line, a trailing `/` marking a folder. Without the third part, the paths asked are a
/// few usual ones and the file's own lines read as paths.
///
/// Whatever the input, building returns and an error's message is one line; matching returns,
/// and keeps the rules' invariants: a path that climbs out of the site folder is excluded, as is
/// any `.deployignore`; whatever is inside an excluded folder is excluded; `./a` is `a`.
pub fn ignore_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let file = parts.next().unwrap_or_default();
    let config: Vec<String> = parts
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let asked = parts.next();
    let root_file = Some((Path::new("site/.deployignore"), file));
    let rules = match IgnoreRules::build(&config, root_file) {
        Ok(rules) => rules,
        Err(error) => return assert_message(&error, None),
    };
    let paths: Vec<(PathBuf, bool)> = match asked {
        Some(asked) => asked
            .lines()
            .map(|line| match line.strip_suffix('/') {
                Some(folder) => (PathBuf::from(folder), true),
                None => (PathBuf::from(line), false),
            })
            .take(MAX_PATHS)
            .collect(),
        None => usual_paths(file),
    };
    for (path, is_dir) in paths {
        check_path(&rules, &path, is_dir);
    }
}

/// Paths most sites have, then each line of the file read as a path (without the `!` and the
/// slashes that make it a pattern), as a file and as a folder.
fn usual_paths(file: &str) -> Vec<(PathBuf, bool)> {
    let usual = ["index.html", "assets/app.js", ".git/HEAD", "a/b/c.map"];
    let usual = usual.iter().map(|p| (PathBuf::from(p), false));
    let own = file
        .lines()
        .map(|line| line.trim_start_matches(['!', '\\']).trim_matches('/'))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .flat_map(|line| [(PathBuf::from(line), false), (PathBuf::from(line), true)]);
    usual.chain(own).take(MAX_PATHS).collect()
}

fn check_path(rules: &IgnoreRules, path: &Path, is_dir: bool) {
    let ignored = rules.is_ignored(path, is_dir);
    let outside = path.has_root()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    assert!(!outside || ignored, "{path:?} is outside but not excluded");
    if path.file_name() == Some(IGNORE_FILE_NAME.as_ref()) {
        assert!(ignored, "{path:?} is an ignore file but not excluded");
    }
    assert_eq!(
        rules.is_ignored(&Path::new(".").join(path), is_dir),
        ignored,
        "{path:?} and ./{path:?} differ"
    );
    if ignored && is_dir {
        for inside in ["index.html", "sub"] {
            let inside = path.join(inside);
            assert!(
                rules.is_ignored(&inside, false),
                "{path:?} is an excluded folder but {inside:?} is not excluded"
            );
        }
    }
}

/// A message prints as one line, with no control character from the input in it, and, given a
/// limit, is no longer than that.
fn assert_message(error: &impl Display, max_len: Option<usize>) {
    let text = error.to_string();
    assert!(
        !text.chars().any(char::is_control),
        "the message has a control character: {text:?}"
    );
    if let Some(max_len) = max_len {
        assert!(
            text.len() <= max_len,
            "the message has {} bytes: {:?}…",
            text.len(),
            text.chars().take(300).collect::<String>()
        );
    }
}
