//! The CI recipes in `config/`: each parses, takes the token from the CI's secret store, caches
//! no state folder, and its deploy script, taken from the file and run as that CI runs it,
//! deploys a build folder, uploads nothing again from a fresh runner, and fails the job when
//! the token is refused.

mod common;

use std::path::Path;

use common::{Harness, Run, finish};
use tempfile::TempDir;
use yaml_rust2::{Yaml, YamlLoader};

const ENV: &str = "prod-123";
/// Where both recipes write the JSON report.
const REPORT: &str = "tcb-deploy-report.json";
/// What the build wrote to `dist/`: a page and two assets in a subfolder.
const SITE: &[(&str, &str)] = &[
    (
        "index.html",
        "<link href=\"assets/app.css\"><script src=\"assets/app.js\"></script>",
    ),
    ("assets/app.js", "console.log('hi')"),
    ("assets/app.css", "body { margin: 0 }"),
];

/// Which recipe.
#[derive(Clone, Copy, Debug)]
enum Ci {
    Github,
    Gitlab,
}

impl Ci {
    fn recipe(self) -> Yaml {
        let name = match self {
            Ci::Github => "github-actions.yml",
            Ci::Gitlab => "gitlab-ci.yml",
        };
        let text = common::repo_text(&format!("config/{name}"));
        let mut docs =
            YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name} parses: {e}"));
        assert_eq!(docs.len(), 1, "{name} holds one document");
        docs.remove(0)
    }

    /// Runs the recipe's deploy script in `dir` as its CI would: GitHub's Deploy step with its
    /// `env:` (the secret and the variable taken from `settings`), or GitLab's deploy job's
    /// script lines with its `variables:` under the CI/CD variables of `settings`.
    async fn deploy(self, dir: &Path, runner: &[(String, String)], settings: &Settings) -> Run {
        let doc = self.recipe();
        match self {
            Ci::Github => {
                let (job, step) = github_step(&doc, |s| run_of(s).contains("tcb-deploy deploy"));
                let mut vars = runner.to_vec();
                vars.extend(github_env(&doc, job, step, settings));
                sh(dir, run_of(step), &vars).await
            }
            Ci::Gitlab => {
                let job = gitlab_deploy_job(&doc);
                let mut vars = runner.to_vec();
                vars.extend(gitlab_env(&doc, job, settings));
                gitlab_script(dir, job, &vars).await
            }
        }
    }
}

/// What the user keeps in the CI's settings: the token and the environment id.
struct Settings {
    token: String,
    env: String,
}

/// A CI job about to deploy: an emulator with the static website open, and a checkout whose
/// build already wrote `dist/`.
struct Job {
    h: Harness,
    checkout: TempDir,
}

impl Job {
    async fn start() -> Job {
        let h = Harness::start().await;
        // Against the real service deploy does not open the website: `create` has done it.
        h.create_store(ENV).await;
        let checkout = tempfile::tempdir().expect("temp dir");
        common::write_files(&checkout.path().join("dist"), SITE.iter().copied());
        Job { h, checkout }
    }

    /// Runs the recipe's deploy on a fresh runner: an empty state folder, nothing cached.
    async fn deploy(&self, ci: Ci, token: &str) -> Run {
        let state = tempfile::tempdir().expect("temp dir");
        let runner = common::vars(&[
            ("TCB_API_BASE", &self.h.emulator.base_url()),
            ("TCB_STATE_DIR", &state.path().display().to_string()),
        ]);
        let settings = Settings {
            token: token.to_owned(),
            env: ENV.to_owned(),
        };
        ci.deploy(self.checkout.path(), &runner, &settings).await
    }

    /// The report file the deploy wrote.
    fn report_text(&self) -> String {
        std::fs::read_to_string(self.checkout.path().join(REPORT)).expect("the report file")
    }

    fn report(&self) -> serde_json::Value {
        let text = self.report_text();
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text:?}"))
    }
}

async fn deploys_the_build_and_a_fresh_runner_uploads_nothing_again(ci: Ci) -> Job {
    let job = Job::start().await;
    let token = job.h.component_token().await;

    let run = job.deploy(ci, &token).await;
    assert_eq!(run.code, 0, "{ci:?}: {run:?}");
    let report = job.report();
    assert_eq!(report["env"], ENV, "{report}");
    assert_eq!(report["uploaded"], SITE.len(), "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    for (path, text) in SITE {
        let online = job.h.emulator.object(ENV, path).expect("online");
        assert_eq!(online.bytes, text.as_bytes(), "{path}");
    }
    assert!(
        !run.output().contains(&token),
        "the token was printed: {run:?}"
    );

    // The next pipeline starts on a new runner: no manifest, so the store is listed.
    let run = job.deploy(ci, &token).await;
    assert_eq!(run.code, 0, "{ci:?}: {run:?}");
    let report = job.report();
    assert_eq!(report["uploaded"], 0, "{report}");
    assert_eq!(report["unchanged"], SITE.len(), "{report}");
    job
}

async fn a_refused_token_fails_the_job(ci: Ci) -> Job {
    let job = Job::start().await;

    let run = job.deploy(ci, "not-a-token").await;
    assert_eq!(run.code, 3, "{ci:?}: {run:?}");
    assert!(run.error_line().contains("refused"), "{run:?}");
    // The shell made the file; tcb-deploy stopped before it had a report to write, and the
    // error line is in the job log.
    assert_eq!(job.report_text(), "");
    for (path, _) in SITE {
        assert!(job.h.emulator.object(ENV, path).is_none(), "{path}");
    }
    job
}

#[tokio::test(flavor = "multi_thread")]
async fn github_deploy_step_deploys_the_build_and_a_fresh_runner_uploads_nothing_again() {
    let job = deploys_the_build_and_a_fresh_runner_uploads_nothing_again(Ci::Github).await;
    let summary = github_summary(&job).await;
    assert!(
        summary.contains(&format!(
            "### {ENV}: 0 uploaded, {} unchanged, 0 failed",
            SITE.len()
        )),
        "{summary}"
    );
    assert!(summary.contains("\n- online at http://"), "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn github_deploy_step_fails_the_job_when_the_token_is_refused() {
    let job = a_refused_token_fails_the_job(Ci::Github).await;
    let summary = github_summary(&job).await;
    assert!(
        summary.contains("stopped before deploying: see the error line"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_deploy_job_deploys_the_build_and_a_fresh_runner_uploads_nothing_again() {
    deploys_the_build_and_a_fresh_runner_uploads_nothing_again(Ci::Gitlab).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_deploy_job_fails_the_job_when_the_token_is_refused() {
    a_refused_token_fails_the_job(Ci::Gitlab).await;
}

#[test]
fn github_recipe_deploys_main_one_run_at_a_time_with_the_token_from_the_secret_store() {
    let doc = Ci::Github.recipe();
    let on = &doc["on"];
    assert!(lines(&on["push"]["branches"]).contains(&"main"), "{on:?}");
    assert!(!on["workflow_dispatch"].is_badvalue(), "{on:?}");
    assert!(
        doc["concurrency"]["group"].as_str().is_some(),
        "no concurrency group"
    );
    // Explicit bash is what runs steps with -eo pipefail: a failing tcb-deploy fails the step.
    assert_eq!(doc["defaults"]["run"]["shell"].as_str(), Some("bash"));

    let (_, deploy) = github_step(&doc, |s| run_of(s).contains("tcb-deploy deploy"));
    assert!(run_of(deploy).contains(" --json"), "{deploy:?}");
    assert_eq!(
        deploy["env"]["TCB_ACCESS_TOKEN"].as_str(),
        Some("${{ secrets.TCB_ACCESS_TOKEN }}")
    );
    assert_eq!(
        deploy["env"]["TCB_ENV"].as_str(),
        Some("${{ vars.TCB_ENV }}")
    );
    let mut envs = vec![&doc["env"]];
    for (job, step) in github_steps(&doc) {
        envs.extend([&job["env"], &step["env"]]);
        // A script sees the token only through the environment, and expands no expression
        // (an expression in a script is an injection risk).
        let run = run_of(step);
        assert!(!run.contains("TCB_ACCESS_TOKEN"), "{run}");
        assert!(!run.contains("${{"), "{run}");
    }
    for (name, value) in envs.into_iter().flat_map(entries) {
        if name == "TCB_ACCESS_TOKEN" {
            assert_eq!(value.as_str(), Some("${{ secrets.TCB_ACCESS_TOKEN }}"));
        }
    }

    // One step installs the binary, from the repository named in the workflow's env.
    let (_, install) = github_step(&doc, |s| run_of(s).contains("cargo install"));
    let source = installed_from(run_of(install));
    let url = doc["env"][source]
        .as_str()
        .expect("the repository variable");
    assert!(url.starts_with("https://"), "{url}");

    // The report is summarised and kept even when the deploy failed.
    let (_, summary) = github_step(&doc, |s| run_of(s).contains("GITHUB_STEP_SUMMARY"));
    let (_, keep) = github_step(&doc, |s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-artifact"))
    });
    for step in [summary, keep] {
        let when = step["if"].as_str().unwrap_or_default();
        assert!(when.contains("always()"), "{step:?}");
    }
    assert_eq!(keep["with"]["path"].as_str(), Some(REPORT));
    assert!(
        run_of(deploy).ends_with(&format!("> {REPORT}")),
        "{deploy:?}"
    );

    assert_no_state_cache(&doc);
    for (_, step) in github_steps(&doc) {
        let uses = step["uses"].as_str().unwrap_or_default();
        if uses.starts_with("actions/cache") {
            assert_caches_no_state(lines_of_text(&step["with"]["path"]));
        }
    }
}

#[test]
fn gitlab_recipe_deploys_the_default_branch_one_job_at_a_time_with_the_token_from_settings() {
    let doc = Ci::Gitlab.recipe();
    let deploy = gitlab_deploy_job(&doc);
    let line = lines(&deploy["script"])
        .into_iter()
        .find(|l| l.contains("tcb-deploy deploy"))
        .expect("the deploy line");
    assert!(line.contains(" --json"), "{line}");
    assert!(line.ends_with(&format!("> {REPORT}")), "{line}");

    let rules = deploy["rules"].as_vec().expect("rules");
    assert!(
        rules.iter().any(|r| r["if"]
            .as_str()
            .is_some_and(|c| c.contains("$CI_DEFAULT_BRANCH"))),
        "{rules:?}"
    );
    assert!(
        deploy["resource_group"].as_str().is_some(),
        "no resource_group"
    );
    assert_eq!(deploy["artifacts"]["when"].as_str(), Some("always"));
    assert!(lines(&deploy["artifacts"]["paths"]).contains(&REPORT));

    // dist/ comes from the build job, and nothing else does.
    let needs = lines(&deploy["needs"]);
    assert_eq!(needs.len(), 1, "{needs:?}");
    let build = &doc[needs[0]];
    assert!(
        lines(&build["script"]).contains(&"npm run build"),
        "{build:?}"
    );
    assert_eq!(lines(&build["artifacts"]["paths"]), ["dist/"]);

    // The token is a masked CI/CD variable: no `variables:` defines it, no line names it.
    assert!(doc["variables"]["TCB_ACCESS_TOKEN"].is_badvalue());
    for (name, job) in gitlab_jobs(&doc) {
        assert!(job["variables"]["TCB_ACCESS_TOKEN"].is_badvalue(), "{name}");
        for key in ["before_script", "script", "after_script"] {
            for line in lines(&job[key]) {
                assert!(!line.contains("TCB_ACCESS_TOKEN"), "{name}: {line}");
            }
        }
    }
    assert!(
        deploy["variables"]["TCB_ENV"].as_str().is_some(),
        "no TCB_ENV"
    );

    // The binary is installed before the script, from the repository named in the job.
    let install = lines(&deploy["before_script"]);
    let install = install
        .iter()
        .find(|l| l.contains("cargo install"))
        .expect("an install line");
    let url = deploy["variables"][installed_from(install)]
        .as_str()
        .expect("the repository variable");
    assert!(url.starts_with("https://"), "{url}");

    assert_no_state_cache(&doc);
    for job in std::iter::once(&doc).chain(gitlab_jobs(&doc).into_iter().map(|(_, j)| j)) {
        assert_caches_no_state(lines(&job["cache"]["paths"]));
    }
}

/// Runs `script` as a CI runs a step: `bash -eo pipefail -c`, in `dir`, with only `vars` and
/// a PATH that finds the binary under test first.
async fn sh(dir: &Path, script: &str, vars: &[(String, String)]) -> Run {
    let flags = ["-eo", "pipefail", "-c"];
    finish(&mut common::ci_shell("bash", &flags, dir, script, vars)).await
}

// ---- GitHub Actions ----

/// Every step of every job, with its job.
fn github_steps(doc: &Yaml) -> Vec<(&Yaml, &Yaml)> {
    entries(&doc["jobs"])
        .into_iter()
        .flat_map(|(_, job)| {
            let steps = job["steps"].as_vec().expect("a job's steps");
            steps.iter().map(move |step| (job, step))
        })
        .collect()
}

/// The one step that `matches`, with its job.
fn github_step(doc: &Yaml, matches: impl Fn(&Yaml) -> bool) -> (&Yaml, &Yaml) {
    let mut found: Vec<_> = github_steps(doc)
        .into_iter()
        .filter(|(_, s)| matches(s))
        .collect();
    assert_eq!(found.len(), 1, "one such step: {found:?}");
    found.remove(0)
}

/// A step's script; empty for a step that uses an action.
fn run_of(step: &Yaml) -> &str {
    step["run"].as_str().unwrap_or_default()
}

/// The environment GitHub gives `step` of `job`: the workflow's `env:`, the job's, then the
/// step's, each `${{ … }}` replaced by the value the user keeps in the settings.
fn github_env(doc: &Yaml, job: &Yaml, step: &Yaml, settings: &Settings) -> Vec<(String, String)> {
    variables(&[&doc["env"], &job["env"], &step["env"]])
        .into_iter()
        .map(|(name, value)| (name, expand(&value, settings)))
        .collect()
}

/// `value` with its `${{ expr }}` replaced; an expression the test does not know fails it.
fn expand(value: &str, settings: &Settings) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").expect("an expression's end") + start;
        out.push_str(&rest[..start]);
        out.push_str(match rest[start + 3..end].trim() {
            "secrets.TCB_ACCESS_TOKEN" => &settings.token,
            "vars.TCB_ENV" => &settings.env,
            other => panic!("an expression the test does not know: {other}"),
        });
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Runs the summary step after a deploy in `job`'s checkout; returns what it wrote.
async fn github_summary(job: &Job) -> String {
    let doc = Ci::Github.recipe();
    let (_, step) = github_step(&doc, |s| run_of(s).contains("GITHUB_STEP_SUMMARY"));
    let summary = job.checkout.path().join("step-summary.md");
    let vars = common::vars(&[("GITHUB_STEP_SUMMARY", &summary.display().to_string())]);
    let run = sh(job.checkout.path(), run_of(step), &vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    std::fs::read_to_string(summary).expect("a summary")
}

// ---- GitLab CI ----

/// The jobs: top-level entries with a script.
fn gitlab_jobs(doc: &Yaml) -> Vec<(&str, &Yaml)> {
    entries(doc)
        .into_iter()
        .filter(|(_, v)| !v["script"].is_badvalue())
        .collect()
}

/// The one job whose script runs `tcb-deploy deploy`.
fn gitlab_deploy_job(doc: &Yaml) -> &Yaml {
    let mut found: Vec<_> = gitlab_jobs(doc)
        .into_iter()
        .filter(|(_, job)| {
            lines(&job["script"])
                .iter()
                .any(|l| l.contains("tcb-deploy deploy"))
        })
        .collect();
    assert_eq!(found.len(), 1, "one deploy job: {found:?}");
    found.remove(0).1
}

/// The environment GitLab gives `job`: the file's `variables:`, the job's, then the CI/CD
/// variables of the settings, which take precedence over both.
fn gitlab_env(doc: &Yaml, job: &Yaml, settings: &Settings) -> Vec<(String, String)> {
    let mut vars = variables(&[&doc["variables"], &job["variables"]]);
    vars.push(("TCB_ACCESS_TOKEN".into(), settings.token.clone()));
    vars.push(("TCB_ENV".into(), settings.env.clone()));
    vars
}

/// Runs the job's script lines in order, stopping at the first that fails, as GitLab does;
/// the output of all that ran.
async fn gitlab_script(dir: &Path, job: &Yaml, vars: &[(String, String)]) -> Run {
    let mut all = Run {
        code: 0,
        stdout: String::new(),
        stderr: String::new(),
    };
    for line in lines(&job["script"]) {
        let run = sh(dir, line, vars).await;
        all.code = run.code;
        all.stdout.push_str(&run.stdout);
        all.stderr.push_str(&run.stderr);
        if run.code != 0 {
            break;
        }
    }
    all
}

// ---- Both ----

/// The string entries of variable maps, in order (a later map's entry after an earlier one's).
fn variables(maps: &[&Yaml]) -> Vec<(String, String)> {
    maps.iter()
        .flat_map(|map| entries(map))
        .map(|(name, value)| {
            let value = value
                .as_str()
                .unwrap_or_else(|| panic!("{name}: {value:?}"));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// A map's entries by key; none for a missing map.
fn entries(node: &Yaml) -> Vec<(&str, &Yaml)> {
    if node.is_badvalue() || node.is_null() {
        return Vec::new();
    }
    let map = node.as_hash().unwrap_or_else(|| panic!("a map: {node:?}"));
    map.iter()
        .map(|(k, v)| (k.as_str().unwrap_or_else(|| panic!("a key: {k:?}")), v))
        .collect()
}

/// A list of strings (a lone string counts as one); none for a missing list.
fn lines(node: &Yaml) -> Vec<&str> {
    match node {
        Yaml::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_else(|| panic!("a string: {i:?}")))
            .collect(),
        Yaml::String(s) => vec![s],
        Yaml::BadValue | Yaml::Null => Vec::new(),
        other => panic!("a list of strings: {other:?}"),
    }
}

/// An `actions/cache` path: one path a line.
fn lines_of_text(node: &Yaml) -> Vec<&str> {
    node.as_str()
        .map(|s| s.lines().collect())
        .unwrap_or_default()
}

/// Every string in `node`, keys and values, however deep (comments are not in it).
fn strings(node: &Yaml) -> Vec<&str> {
    match node {
        Yaml::String(s) => vec![s],
        Yaml::Array(items) => items.iter().flat_map(strings).collect(),
        Yaml::Hash(map) => map
            .iter()
            .flat_map(|(k, v)| strings(k).into_iter().chain(strings(v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The recipe names no state folder: a fresh runner lists the store instead.
fn assert_no_state_cache(doc: &Yaml) {
    for s in strings(doc) {
        assert!(
            !s.contains(".tcb-deploy") && !s.contains("TCB_STATE_DIR"),
            "the recipe keeps the state folder: {s}"
        );
    }
}

/// A cache of these paths holds no state folder (the default one is in the working folder).
fn assert_caches_no_state(paths: Vec<&str>) {
    for path in paths.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let path = path.trim_end_matches('/');
        assert!(
            !matches!(
                path,
                "." | "*" | "**" | "$CI_PROJECT_DIR" | "${{ github.workspace }}"
            ),
            "a cache of the whole working folder holds the state folder: {path}"
        );
    }
}

/// The variable a `cargo install --locked --git "$VAR" …` line builds from.
fn installed_from(line: &str) -> &str {
    let rest = line
        .split_once("cargo install --locked --git \"$")
        .unwrap_or_else(|| panic!("installs with cargo install --locked --git: {line}"))
        .1;
    rest.split_once('"').expect("a quoted variable").0
}
