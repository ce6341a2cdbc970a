//! What a case's command talks to: a canned-answer server, or the emulator with the site
//! deployed before the run; what it had seen, and what of the deployed site is left after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::case::{Against, Case, SITE};
use crate::common::{self, Answer, Canned, Harness, run_tool};
use crate::prepare::site;
use tcb_deploy::site::ManifestStore;

/// What a case's command talks to.
pub enum Service {
    Canned(Canned),
    Emulator { h: Harness, before: Deployed },
}

/// What was online and recorded before the run.
pub struct Deployed {
    objects: Vec<(String, Vec<u8>)>,
    manifests: BTreeMap<PathBuf, Vec<u8>>,
}

/// Requests a service had seen.
#[derive(Clone, Copy)]
pub struct Seen {
    pub requests: u64,
    pub links: u64,
}

impl Seen {
    pub fn since(self, before: &Seen) -> Seen {
        Seen {
            requests: self.requests - before.requests,
            links: self.links - before.links,
        }
    }
}

impl Service {
    pub async fn start(case: &Case, root: &Path) -> Result<Service, String> {
        let canned = match case.against {
            Against::Nobody => {
                let refusal = Answer::new(500, "text/plain", "this input should send nothing");
                Canned::start(&[], refusal).await
            }
            Against::Api(status, content_type, body) => {
                let body = body.replace("{huge}", &"over quota\\r\\n".repeat(8000));
                Canned::start(&[], Answer::new(status, content_type, &body)).await
            }
            Against::Store { list, link, put } => {
                let (status, header, body) = put;
                let put = Answer {
                    status,
                    headers: Vec::new(),
                    body: body.to_owned(),
                };
                let put = if header.is_empty() {
                    put
                } else {
                    put.header(header)
                };
                let routes = [
                    (
                        "POST /componenttcb/describestaticstore",
                        Answer::json(
                            r#"{"errcode":0,"Data":[{"env":"site","domain":"site.example.com","bucket":"b","regoin":"r","status":"online"}]}"#,
                        ),
                    ),
                    ("POST /componenttcb/staticfilelist", Answer::json(list)),
                    ("POST /componenttcb/staticuploadfile", Answer::json(link)),
                    ("PUT ", put),
                ];
                let unknown = Answer::json(r#"{"errcode":43002,"errmsg":"not faked"}"#);
                Canned::start(&routes, unknown).await
            }
            Against::Deployed => return Service::deployed(root).await,
        };
        Ok(Service::Canned(canned))
    }

    /// The emulator with the site deployed once.
    async fn deployed(root: &Path) -> Result<Service, String> {
        let h = Harness::start().await;
        h.create_store("site").await;
        site(root);
        let vars = emulator_vars(&h, root);
        let dir = root.join("site").display().to_string();
        let run = run_tool(&["deploy", "--env", "site", "--dir", &dir], &vars).await;
        if run.code != 0 {
            return Err(format!("the first deploy failed: {run:?}"));
        }
        let objects = SITE
            .iter()
            .map(|(key, _)| {
                let bytes = h.emulator.object("site", key).map(|o| o.bytes);
                (key.to_string(), bytes.unwrap_or_default())
            })
            .collect();
        let manifests = file_bytes_below(&root.join("state/manifests"));
        if manifests.is_empty() {
            return Err("the first deploy left no manifest".to_owned());
        }
        let before = Deployed { objects, manifests };
        Ok(Service::Emulator { h, before })
    }

    pub fn addr(&self) -> String {
        match self {
            Service::Canned(c) => c.addr.to_string(),
            Service::Emulator { h, .. } => h.emulator.addr().to_string(),
        }
    }

    pub fn vars(&self, root: &Path) -> Vec<(String, String)> {
        let state = root.join("state").display().to_string();
        match self {
            Service::Canned(c) => common::vars(&[
                ("TCB_API_BASE", &format!("http://{}", c.addr)),
                ("TCB_ACCESS_TOKEN", "canned-token"),
                ("TCB_STATE_DIR", &state),
            ]),
            Service::Emulator { h, .. } => emulator_vars(h, root),
        }
    }

    pub fn seen(&self) -> Seen {
        match self {
            Service::Canned(c) => Seen {
                requests: c.requests().len() as u64,
                links: c.count("POST /componenttcb/staticuploadfile") as u64,
            },
            Service::Emulator { h, .. } => {
                let counters = h.emulator.counters();
                Seen {
                    requests: counters.api_calls.values().sum::<u64>() + counters.puts,
                    links: h.api_calls("componenttcb/staticuploadfile"),
                }
            }
        }
    }

    pub fn issued_credentials(&self) -> Vec<String> {
        match self {
            Service::Canned(_) => ["feedface", "fake-cos-token"].map(String::from).to_vec(),
            Service::Emulator { h, .. } => h.emulator.issued_credentials(),
        }
    }

    /// What is wrong with what was deployed before the run, after it.
    pub fn kept(&self, case: &Case, root: &Path, code: i32) -> Vec<String> {
        let Service::Emulator { h, before } = self else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        for (key, bytes) in &before.objects {
            let now = h.emulator.object("site", key).map(|o| o.bytes);
            if now.as_ref() != Some(bytes) {
                problems.push(format!("{key} is no longer online as deployed"));
            }
        }
        for key in case.absent {
            if h.emulator.object("site", key).is_some() {
                problems.push(format!("{key:?} was uploaded"));
            }
        }
        if code == 0 || code == 1 {
            // The run went on: the manifest may have changed, but still records every file.
            let store = ManifestStore::new(&root.join("state"), "site", "");
            match store.load() {
                Ok(manifest) => {
                    for (key, _) in SITE {
                        if !manifest.files.contains_key(key) {
                            problems.push(format!("the manifest lost {key}"));
                        }
                    }
                }
                Err(e) => problems.push(format!("the manifest cannot be read: {e}")),
            }
        } else if file_bytes_below(&root.join("state/manifests")) != before.manifests {
            problems.push("the manifest changed".to_owned());
        }
        problems
    }
}

/// The harness's variables, with the state folder in the case's folder.
fn emulator_vars(h: &Harness, root: &Path) -> Vec<(String, String)> {
    let mut vars = h.vars();
    vars.retain(|(k, _)| k != "TCB_STATE_DIR");
    vars.push((
        "TCB_STATE_DIR".into(),
        root.join("state").display().to_string(),
    ));
    vars
}

/// Every readable file below `dir` and its bytes.
fn file_bytes_below(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    common::files_below(dir)
        .into_iter()
        .filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes)))
        .collect()
}
