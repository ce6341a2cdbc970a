//! State that must survive `shutdown` + `start` on the same data dir.

use serde_json::json;

use super::super::{Emulator, EmulatorError};
use super::{Harness, client, options};

#[tokio::test]
async fn stores_objects_and_links_survive_a_restart() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    h.upload("demo", "a", b"file a", "text/plain").await;
    h.upload("demo", "a/b", b"file a/b", "text/css").await;
    h.upload("demo", "a", b"file a, again", "text/html").await;
    let (url, token) = h.link("demo", "later.txt").await;
    let old_base = h.emu.base_url();
    let Harness { emu, dir, .. } = h;
    emu.shutdown().await;

    let emu = Emulator::start(options(dir.path())).await.expect("restart");
    let h = Harness {
        emu,
        http: client(),
        dir,
    };
    let described = h
        .dev("componenttcb/describestaticstore", json!({"env": "demo"}))
        .await;
    assert_eq!(described["Data"][0]["status"], "online");
    let a = h.emu.object("demo", "a").expect("a survives");
    assert_eq!(
        (a.bytes.as_slice(), a.content_type.as_deref()),
        (&b"file a, again"[..], Some("text/html"))
    );
    assert_eq!(
        h.emu.object("demo", "a/b").expect("a/b survives").bytes,
        b"file a/b"
    );
    let listed = h
        .dev("componenttcb/staticfilelist", json!({"env": "demo"}))
        .await;
    assert_eq!(listed["contents"].as_array().map(Vec::len), Some(2));

    // A link handed out before the restart still works (the port may have changed).
    let moved = url.replace(&old_base, &h.emu.base_url());
    assert_eq!(h.put(&moved, &token, b"late").await.status(), 200);
    assert_eq!(
        h.emu.object("demo", "later.txt").expect("stored").bytes,
        b"late"
    );
    // Only one blob per object is left behind.
    let blobs = std::fs::read_dir(h.dir.path().join("objects").join("demo"))
        .expect("objects dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "data"))
        })
        .count();
    assert_eq!(blobs, 3);
}

#[tokio::test]
async fn start_errors_name_what_to_fix() {
    let h = Harness::start().await;
    let taken = h.emu.addr();
    let mut opts = options(h.dir.path());
    opts.addr = taken;
    let err = Emulator::start(opts).await.err().expect("address in use");
    assert!(matches!(err, EmulatorError::Bind { .. }));
    let text = err.to_string();
    assert!(
        text.contains(&taken.to_string()) && text.contains("--addr"),
        "{text}"
    );

    let file = h.dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let err = Emulator::start(options(&file))
        .await
        .err()
        .expect("data dir is a file");
    assert!(matches!(err, EmulatorError::DataDir { .. }), "{err}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");

    std::fs::write(h.dir.path().join("stores.json"), b"{oops").expect("write");
    let err = Emulator::start(options(h.dir.path()))
        .await
        .err()
        .expect("corrupt state");
    assert!(matches!(err, EmulatorError::CorruptState { .. }), "{err}");
    assert!(err.to_string().contains("stores.json"), "{err}");

    for public in ["ftp://front.example/", "https://front.example/?a=b"] {
        let mut opts = options(h.dir.path());
        opts.public_url = Some(url::Url::parse(public).expect("url"));
        let err = Emulator::start(opts)
            .await
            .err()
            .expect("unusable public URL");
        assert!(matches!(err, EmulatorError::PublicUrl(_)), "{err}");
        assert!(err.to_string().contains(public), "{err}");
    }
}
