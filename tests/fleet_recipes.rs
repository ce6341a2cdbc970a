//! The fleet recipes in `config/`: a GitHub Actions matrix of shards and a Kubernetes Indexed
//! Job. Each parses, and its deploy command, taken from the file, runs as that platform runs it:
//! one process per shard, all at once, against one emulator. Together they deploy every
//! environment of the list exactly once.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Harness, Run, finish};
use yaml_rust2::{Yaml, YamlLoader};

/// What the build wrote to `dist/`.
const SITE: &[(&str, &str)] = &[
    ("index.html", "<script src=\"app.js\"></script>"),
    ("app.js", "console.log('fleet')"),
];

fn merchants() -> Vec<String> {
    (0..12).map(|i| format!("shop-{i:02}")).collect()
}

fn docs(name: &str) -> Vec<Yaml> {
    let text = common::repo_text(&format!("config/{name}"));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name} parses: {e}"))
}

/// An emulator with every merchant's static website open.
async fn fleet() -> Harness {
    let h = Harness::start().await;
    for env in merchants() {
        h.create_store(&env).await;
    }
    h
}

/// A fresh checkout (as each job or pod has its own) whose build wrote `dist/`, with the
/// merchants' list at `list` below it.
fn checkout(list: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    common::write_files(&dir.path().join("dist"), SITE.iter().copied());
    let mut text = "# the merchants\n".to_owned();
    for env in merchants() {
        text.push_str(&env);
        text.push('\n');
    }
    common::write_files(dir.path(), [(list, text)]);
    dir
}

/// Every environment appears in exactly one shard's JSON lines, deployed, and is online.
fn assert_each_deployed_once(h: &Harness, reports: &[String]) {
    let mut seen = Vec::new();
    for report in reports {
        for line in report.lines() {
            let line: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            assert_eq!(line["uploaded"], SITE.len(), "{line}");
            seen.push(line["env"].as_str().expect("env").to_owned());
        }
    }
    seen.sort();
    assert_eq!(seen, merchants(), "every environment once, in one shard");
    for env in merchants() {
        for (key, content) in SITE {
            let online = h.emulator.object(&env, key).expect("online");
            assert_eq!(online.bytes, content.as_bytes(), "{env} {key}");
        }
    }
}

fn text<'y>(yaml: &'y Yaml, what: &str) -> &'y str {
    yaml.as_str()
        .unwrap_or_else(|| panic!("{what} is text: {yaml:?}"))
}

#[tokio::test]
async fn the_github_matrix_deploys_every_environment_once_across_its_shards() {
    let doc = docs("github-actions-fleet.yml").remove(0);
    let job = &doc["jobs"]["deploy"];
    let shards: Vec<i64> = job["strategy"]["matrix"]["shard"]
        .as_vec()
        .expect("a matrix of shards")
        .iter()
        .map(|s| s.as_i64().expect("a shard number"))
        .collect();
    let count = doc["env"]["SHARDS"].as_i64().expect("SHARDS");
    assert_eq!(
        shards,
        (1..=count).collect::<Vec<_>>(),
        "the matrix is 1 to SHARDS"
    );
    assert_eq!(job["strategy"]["fail-fast"].as_bool(), Some(false));
    let step = job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("tcb-deploy deploy"))
        })
        .expect("a deploy step");

    let h = fleet().await;
    let token = h.component_token().await;
    let mut runs = Vec::new();
    let mut checkouts = Vec::new();
    for shard in &shards {
        let mut vars = common::vars(&[("TCB_API_BASE", &h.emulator.base_url())]);
        for scope in [&doc["env"], &step["env"]] {
            for (name, value) in scope.as_hash().expect("env") {
                let value = match value {
                    Yaml::Integer(n) => n.to_string(),
                    other => text(other, "an env value")
                        .replace("${{ secrets.TCB_ACCESS_TOKEN }}", &token)
                        .replace("${{ matrix.shard }}", &shard.to_string()),
                };
                assert!(
                    !value.contains("${{"),
                    "an expression the test does not know: {value}"
                );
                vars.push((text(name, "a name").to_owned(), value));
            }
        }
        let dir = checkout("merchants.txt");
        let script = text(&step["run"], "the deploy script");
        let mut command = common::ci_shell(
            "bash",
            &["-eo", "pipefail", "-c"],
            dir.path(),
            script,
            &vars,
        );
        runs.push(tokio::spawn(async move { finish(&mut command).await }));
        checkouts.push(dir);
    }
    let mut reports = Vec::new();
    for ((run, shard), dir) in runs.into_iter().zip(&shards).zip(&checkouts) {
        let run: Run = run.await.expect("a shard's job");
        assert_eq!(run.code, 0, "shard {shard}: {run:?}");
        let report = dir.path().join(format!("tcb-deploy-{shard}.jsonl"));
        reports.push(std::fs::read_to_string(report).expect("the shard's report"));
    }
    assert_each_deployed_once(&h, &reports);
}

#[tokio::test]
async fn the_indexed_job_deploys_every_environment_once_across_its_pods() {
    let docs = docs("k8s-fleet-job.yaml");
    let job = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("Job"))
        .expect("a Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let pods = spec["completions"].as_i64().expect("completions");
    let config_map = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .expect("a ConfigMap of merchants");
    assert!(config_map["data"]["merchants.txt"].as_str().is_some());
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];
    let command: Vec<&str> = container["command"]
        .as_vec()
        .expect("a command")
        .iter()
        .map(|c| text(c, "a command word"))
        .collect();
    assert_eq!(command, ["/bin/sh", "-c"]);
    let script = text(&container["args"][0], "the script");
    assert!(
        script.contains(&format!("/{pods}\"")),
        "the shard count is the completions: {script}"
    );

    let h = fleet().await;
    let credentials: BTreeMap<&str, &str> = [
        ("component-appid", tcb_deploy::emulator::COMPONENT_APPID),
        (
            "component-appsecret",
            tcb_deploy::emulator::COMPONENT_APPSECRET,
        ),
        (
            "component-verify-ticket",
            tcb_deploy::emulator::VERIFY_TICKET,
        ),
    ]
    .into();
    let mut runs = Vec::new();
    let mut roots = Vec::new();
    for index in 0..pods {
        // The pod's file system: each volume's mount path under a folder of its own, the
        // image's /site being the build folder.
        let root = checkout("config/merchants.txt");
        let mounted = |path: &str| -> PathBuf {
            match path.strip_prefix("/site") {
                Some(rest) => root.path().join(format!("dist{rest}")),
                None => root.path().join(path.trim_start_matches('/')),
            }
        };
        let mut script = script.to_owned();
        for mount in container["volumeMounts"].as_vec().expect("mounts") {
            let path = text(&mount["mountPath"], "a mount path");
            std::fs::create_dir_all(mounted(path)).expect("mount");
            script = script.replace(
                &format!("{path}/"),
                &format!("{}/", mounted(path).display()),
            );
        }
        script = script.replace(
            "--dir /site",
            &format!("--dir {}", mounted("/site").display()),
        );
        let mut vars = common::vars(&[
            ("TCB_API_BASE", &h.emulator.base_url()),
            ("JOB_COMPLETION_INDEX", &index.to_string()),
        ]);
        for var in container["env"].as_vec().expect("env") {
            let name = text(&var["name"], "a name").to_owned();
            let value = match var["value"].as_str() {
                Some(value) if value.starts_with('/') => mounted(value).display().to_string(),
                Some(value) => value.to_owned(),
                None => {
                    let key = text(&var["valueFrom"]["secretKeyRef"]["key"], "a secret key");
                    credentials[key].to_owned()
                }
            };
            vars.push((name, value));
        }
        let mut command = common::ci_shell("/bin/sh", &["-c"], root.path(), &script, &vars);
        runs.push(tokio::spawn(async move { finish(&mut command).await }));
        roots.push(root);
    }
    let mut reports = Vec::new();
    for (index, run) in runs.into_iter().enumerate() {
        let run: Run = run.await.expect("a pod");
        assert_eq!(run.code, 0, "pod {index}: {run:?}");
        reports.push(run.stdout);
    }
    assert_each_deployed_once(&h, &reports);
}
