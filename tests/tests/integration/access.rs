//! Access control: the authorisation matrix, forged credentials, immediate
//! revocation and deletion, API token scopes, per-user limits.

use std::time::Duration;

use photostream_tests::{assert_client_error, big_png, png, Api, TestServer, Upload};
use photostream_types::Username;
use serde_json::{json, Value};

const READY: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Anonymous,
    Stranger,
    Viewer,
    Owner,
    Moderator,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Public,
    Private,
    Shared,
    Deleted,
    /// Shared with bob, who reported it: a pending item, in front of moderators.
    Reported,
    /// Shared with bob, reported, and rejected by a moderator.
    Rejected,
}

/// The access table: may `role` see a photo in `state`? (Everything below
/// is generated from this and the endpoint table.) Moderators see a
/// non-public photo only while it is in front of them for review.
fn sees(role: Role, state: State) -> bool {
    use Role::*;
    use State::*;
    match (state, role) {
        (Deleted, _) => false,
        (Public, _) => true,
        (_, Owner) => true,
        (Reported | Rejected, Moderator) => true,
        (Shared | Reported, Viewer) => true,
        _ => false,
    }
}

/// What listings and search show: what members see. Moderators find what
/// is in review through the queue, not by browsing other people's photos.
fn listed(role: Role, state: State) -> bool {
    sees(if role == Role::Moderator { Role::Stranger } else { role }, state)
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// 200 if visible, else 404.
    Read,
    /// Owner: 200; visible to a non-owner: 403; invisible: 404; anonymous: 401.
    OwnerOnly,
    /// Listed (200 and contains the photo) iff visible.
    Listed,
}

struct Endpoint {
    name: &'static str,
    method: &'static str,
    kind: Kind,
    path: fn(&Value) -> String,
    body: Option<fn() -> Value>,
}

fn endpoints() -> Vec<Endpoint> {
    fn id(p: &Value) -> &str {
        p["id"].as_str().unwrap()
    }
    vec![
        Endpoint { name: "photo json", method: "GET", kind: Kind::Read, path: |p| format!("/v1/photos/{}", id(p)), body: None },
        Endpoint { name: "thumbnail", method: "GET", kind: Kind::Read, path: |p| format!("/v1/photos/{}/thumbnail", id(p)), body: None },
        Endpoint { name: "original", method: "GET", kind: Kind::Read, path: |p| format!("/v1/photos/{}/original", id(p)), body: None },
        Endpoint {
            name: "media original (unsigned)",
            method: "GET",
            kind: Kind::Read,
            path: |p| p["urls"]["original"].as_str().unwrap().split('?').next().unwrap().to_string(),
            body: None,
        },
        Endpoint {
            name: "media thumbnail (unsigned)",
            method: "GET",
            kind: Kind::Read,
            path: |p| p["urls"]["thumbnail"].as_str().unwrap().split('?').next().unwrap().to_string(),
            body: None,
        },
        Endpoint { name: "photostream", method: "GET", kind: Kind::Listed, path: |_| "/v1/users/alice/photos?limit=100".into(), body: None },
        Endpoint { name: "album photos", method: "GET", kind: Kind::Listed, path: |p| format!("/v1/albums/{}/photos?limit=100", p["album_id"].as_str().unwrap()), body: None },
        Endpoint { name: "search", method: "GET", kind: Kind::Listed, path: |p| format!("/v1/search?q={}", p["title"].as_str().unwrap()), body: None },
        Endpoint { name: "get viewers", method: "GET", kind: Kind::OwnerOnly, path: |p| format!("/v1/photos/{}/viewers", id(p)), body: None },
        Endpoint {
            name: "patch",
            method: "PATCH",
            kind: Kind::OwnerOnly,
            path: |p| format!("/v1/photos/{}", id(p)),
            body: Some(|| json!({"description": "edited"})),
        },
    ]
}

struct World {
    server: TestServer,
    clients: Vec<(Role, Api)>,
    photos: Vec<(State, Value)>,
}

async fn world() -> World {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let carol = anon.signed_up("carol").await;
    let mo = anon.signed_up("mona").await;
    server.catalog().set_role(&Username::parse("mona").unwrap(), "moderator").await.unwrap();

    let mut photos = Vec::new();
    let states = [State::Public, State::Private, State::Shared, State::Deleted, State::Reported, State::Rejected];
    for (i, state) in states.into_iter().enumerate() {
        let (visibility, viewers) = match state {
            State::Private => ("private", None),
            State::Shared | State::Reported | State::Rejected => ("shared", Some("bob")),
            _ => ("public", None),
        };
        // Titles more than one edit apart, so typo tolerance keeps hits distinct.
        let title = ["heron", "pelican", "flamingo", "cormorant", "albatross", "kingfisher"][i].to_string();
        let r = alice
            .upload(png(80, 60, i as u32), &format!("m{i}.png"), Upload {
                title: Some(title.clone()),
                visibility: Some(visibility.into()),
                ..Default::default()
            })
            .await;
        let mut p: Value = r.json().await.unwrap();
        if let Some(v) = viewers {
            let r = alice.http.put(alice.url(&format!("/v1/photos/{}/viewers", p["id"].as_str().unwrap())))
                .bearer_auth(alice.token.as_ref().unwrap()).json(&json!({"usernames": [v]})).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        p = alice.wait_ready(p["id"].as_str().unwrap(), READY).await;
        // Wait until the indexer has seen the latest change too.
        let start = std::time::Instant::now();
        loop {
            let (_, hits) = alice.json(&format!("/v1/search?q={title}")).await;
            if hits["items"].as_array().unwrap().len() == 1 {
                break;
            }
            assert!(start.elapsed() < READY, "search never caught up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let albums = anon.json("/v1/users/alice/albums").await.1;
        p["album_id"] = albums["items"][0]["id"].clone();
        if state == State::Deleted {
            let r = alice.http.delete(alice.url(&format!("/v1/photos/{}", p["id"].as_str().unwrap())))
                .bearer_auth(alice.token.as_ref().unwrap()).send().await.unwrap();
            assert_eq!(r.status(), 204);
        }
        if matches!(state, State::Reported | State::Rejected) {
            let id = p["id"].as_str().unwrap();
            let r = bob.post(&format!("/v1/photos/{id}/reports")).json(&json!({"reason": "not what it says"})).send().await.unwrap();
            assert_eq!(r.status(), 202);
            if state == State::Rejected {
                let (_, q) = mo.json("/v1/moderation/queue?limit=100").await;
                let item = q["items"].as_array().unwrap().iter().find(|i| i["photo"]["id"] == id).unwrap()["id"].clone();
                let r = mo.post(&format!("/v1/moderation/queue/{}/decision", item.as_str().unwrap()))
                    .json(&json!({"action": "reject", "note": "misleading"})).send().await.unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            }
        }
        photos.push((state, p));
    }
    let clients = vec![
        (Role::Anonymous, anon),
        (Role::Stranger, carol),
        (Role::Viewer, bob),
        (Role::Owner, alice),
        (Role::Moderator, mo),
    ];
    World { server, clients, photos }
}

async fn call(api: &Api, ep: &Endpoint, photo: &Value) -> (u16, Value) {
    let path = (ep.path)(photo);
    let rb = match ep.method {
        "GET" => api.get(&path),
        "PATCH" => {
            let rb = api.http.patch(api.url(&path)).json(&(ep.body.unwrap())());
            match &api.token {
                Some(t) => rb.bearer_auth(t),
                None => rb,
            }
        }
        m => panic!("method {m}"),
    };
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = if ct.starts_with("application/json") { r.json().await.unwrap() } else { Value::Null };
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorisation_matrix() {
    let w = world().await;
    let mut checked = 0;
    let mut failures = Vec::new();
    for ep in endpoints() {
        for (role, api) in &w.clients {
            for (state, photo) in &w.photos {
                let visible = sees(*role, *state);
                let (status, body) = call(api, &ep, photo).await;
                let ok = match ep.kind {
                    Kind::Read => status == if visible { 200 } else { 404 },
                    Kind::Listed => {
                        let found = status == 200
                            && body["items"].as_array().unwrap().iter().any(|i| i["id"] == photo["id"]);
                        found == listed(*role, *state)
                    }
                    Kind::OwnerOnly => {
                        let expected = match (role, visible) {
                            (Role::Anonymous, _) => 401,
                            (_, false) => 404,
                            (Role::Owner, true) => 200,
                            (_, true) => 403,
                        };
                        status == expected
                    }
                };
                if status >= 500 {
                    failures.push(format!("5xx: {} {role:?} {state:?}: {status}", ep.name));
                } else if !ok {
                    failures.push(format!("{} as {role:?} on {state:?}: got {status} {body}", ep.name));
                }
                checked += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cells wrong:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, endpoints().len() * 5 * 6);
    moderator_views_are_audited_and_moderators_do_not_socialise(&w).await;
    w.server.stop().await;
}

/// After the matrix: every look the moderator took at a photo through
/// review is in the audit log; favorites and comments on such photos are
/// refused, so their owner is never notified of a moderator.
async fn moderator_views_are_audited_and_moderators_do_not_socialise(w: &World) {
    let mona = &w.clients.iter().find(|(r, _)| *r == Role::Moderator).unwrap().1;
    let alice = &w.clients.iter().find(|(r, _)| *r == Role::Owner).unwrap().1;
    for (state, photo) in &w.photos {
        let id = photo["id"].as_str().unwrap();
        let (status, audit) = mona.json(&format!("/v1/moderation/audit?photo={id}&action=view")).await;
        assert_eq!(status, 200);
        let looks = audit["items"].as_array().unwrap();
        match state {
            State::Reported | State::Rejected => {
                for what in ["viewed photo", "viewed original"] {
                    assert!(looks.iter().any(|l| l["note"] == what && l["actor"] == "mona"), "{state:?}: no '{what}' in {audit}");
                }
                let r = mona.http.put(mona.url(&format!("/v1/photos/{id}/favorite"))).bearer_auth(mona.token.as_ref().unwrap()).send().await.unwrap();
                assert_eq!(assert_client_error(r, 403, "a moderator's favorite").await, "review_only");
                let r = mona.post(&format!("/v1/photos/{id}/comments")).json(&json!({"text": "nice"})).send().await.unwrap();
                assert_eq!(assert_client_error(r, 403, "a moderator's comment").await, "review_only");
            }
            // Public photos are not seen "through review"; others not at all.
            _ => assert!(looks.is_empty(), "{state:?}: {audit}"),
        }
    }
    let (_, notes) = alice.json("/v1/notifications").await;
    assert!(
        !notes["items"].as_array().unwrap().iter().any(|n| n["actor"] == "mona" && n["kind"] == "favorite"),
        "{notes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_by_role() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let carol = anon.signed_up("carol").await;
    let mo = anon.signed_up("mona").await;
    server.catalog().set_role(&Username::parse("mona").unwrap(), "moderator").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..2 {
        let p = alice.upload_ok(png(40, 30, i), &format!("d{i}.png"), Upload::default()).await;
        ids.push(p["id"].as_str().unwrap().to_string());
        alice.wait_ready(&ids[i as usize], READY).await;
    }
    let del = |api: &Api, id: &str| {
        let rb = api.http.delete(api.url(&format!("/v1/photos/{id}")));
        let rb = match &api.token { Some(t) => rb.bearer_auth(t), None => rb };
        rb.send()
    };
    assert_eq!(del(&anon, &ids[0]).await.unwrap().status(), 401);
    assert_eq!(del(&carol, &ids[0]).await.unwrap().status(), 403);
    assert_eq!(del(&alice, &ids[0]).await.unwrap().status(), 204);
    assert_eq!(del(&alice, &ids[0]).await.unwrap().status(), 404);
    assert_eq!(del(&mo, &ids[1]).await.unwrap().status(), 204);
    for id in &ids {
        assert_eq!(alice.get(&format!("/v1/photos/{id}")).send().await.unwrap().status(), 404);
    }
    // Files are purged asynchronously; the sweeper is the backstop.
    let start = std::time::Instant::now();
    while !photostream_tests::files_under(&server.objects_dir()).is_empty() {
        assert!(start.elapsed() < READY, "files not purged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

fn forge(key: &[u8], claims: Value, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &jsonwebtoken::EncodingKey::from_secret(key)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_credentials_get_401() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let me = alice.json("/v1/users/alice/photos").await;
    assert_eq!(me.0, 200);
    let key = server.jwt_key();
    let real = alice.token.clone().unwrap();
    let payload = real.split('.').nth(1).unwrap().to_string();
    let (sub, sid) = {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&payload).unwrap();
        let v = serde_json::from_slice::<Value>(&raw).unwrap();
        (v["sub"].as_str().unwrap().to_string(), v["sid"].as_str().expect("session tokens name their session").to_string())
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = |aud: &str, iss: &str, exp: i64| json!({"sub": sub, "name": "alice", "iss": iss, "aud": aud, "iat": now, "exp": exp, "sid": sid});
    let good = forge(&key, claims("photostream-api", "photostream", now + 600), jsonwebtoken::Algorithm::HS256);
    assert_eq!(alice.with_token(&good).json("/v1/tokens").await.0, 200, "control: a correctly signed token works");
    let mut no_session = claims("photostream-api", "photostream", now + 600);
    no_session.as_object_mut().unwrap().remove("sid");
    let mut other_session = no_session.clone();
    other_session["sid"] = json!("01900000-0000-7000-8000-000000000000");

    let mut tampered = real.clone();
    let mid = real.find('.').unwrap() + 5;
    tampered.replace_range(mid..mid + 1, if &real[mid..mid + 1] == "A" { "B" } else { "A" });
    let forgeries = vec![
        ("alg none", format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")),
        ("wrong key", forge(b"0123456789abcdef0123456789abcdef", claims("photostream-api", "photostream", now + 600), jsonwebtoken::Algorithm::HS256)),
        ("HS512 with the right key", forge(&key, claims("photostream-api", "photostream", now + 600), jsonwebtoken::Algorithm::HS512)),
        ("expired", forge(&key, claims("photostream-api", "photostream", now - 120), jsonwebtoken::Algorithm::HS256)),
        ("expired beyond the 5 s leeway", forge(&key, claims("photostream-api", "photostream", now - 10), jsonwebtoken::Algorithm::HS256)),
        ("right key, no session", forge(&key, no_session, jsonwebtoken::Algorithm::HS256)),
        ("right key, a session that does not exist", forge(&key, other_session, jsonwebtoken::Algorithm::HS256)),
        ("wrong audience", forge(&key, claims("another-api", "photostream", now + 600), jsonwebtoken::Algorithm::HS256)),
        ("wrong issuer", forge(&key, claims("photostream-api", "evil", now + 600), jsonwebtoken::Algorithm::HS256)),
        ("tampered payload", tampered),
        ("garbage", "garbage".into()),
        ("empty API token", "pst_".into()),
        ("unknown API token", "pst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
    ];
    for (what, token) in forgeries {
        let r = anon.with_token(&token).get("/v1/tokens").send().await.unwrap();
        assert_client_error(r, 401, what).await;
        // Even on public reads a bad credential is refused, not ignored.
        let r = anon.with_token(&token).get("/v1/users/alice/photos").send().await.unwrap();
        assert_client_error(r, 401, what).await;
    }

    // A revoked API token stops working at once.
    let r = alice.post("/v1/tokens").json(&json!({"name": "script", "scopes": ["read"]})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let t: Value = r.json().await.unwrap();
    let script = anon.with_token(t["token"].as_str().unwrap());
    assert_eq!(script.json("/v1/users/alice/photos").await.0, 200);
    let r = alice.http.delete(alice.url(&format!("/v1/tokens/{}", t["id"].as_str().unwrap())))
        .bearer_auth(&real).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = script.get("/v1/users/alice/photos").send().await.unwrap();
    assert_client_error(r, 401, "revoked API token").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_scopes_are_enforced_on_every_route() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let p = alice.upload_ok(png(40, 30, 1), "s.png", Upload { visibility: Some("private".into()), ..Default::default() }).await;
    let id = p["id"].as_str().unwrap().to_string();
    alice.wait_ready(&id, READY).await;
    let token = |scopes: Value| {
        let alice = alice.clone();
        async move {
            let r = alice.post("/v1/tokens").json(&json!({"name": "t", "scopes": scopes})).send().await.unwrap();
            assert_eq!(r.status(), 201);
            let v: Value = r.json().await.unwrap();
            alice.with_token(v["token"].as_str().unwrap())
        }
    };
    let read = token(json!(["read"])).await;
    let download = token(json!(["download"])).await;
    let write = token(json!(["write", "read"])).await;

    assert_eq!(read.json(&format!("/v1/photos/{id}")).await.0, 200);
    assert_eq!(read.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap().status(), 200);
    let r = read.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(assert_client_error(r, 403, "read token downloads").await, "insufficient_scope");
    let r = read.upload(png(10, 10, 2), "x.png", Upload::default()).await;
    assert_eq!(assert_client_error(r, 403, "read token uploads").await, "insufficient_scope");

    assert_eq!(download.get(&format!("/v1/photos/{id}/original")).send().await.unwrap().status(), 200);
    let r = download.get(&format!("/v1/photos/{id}")).send().await.unwrap();
    assert_client_error(r, 403, "download token reads metadata").await;

    let up = write.upload_ok(png(10, 10, 3), "y.png", Upload::default()).await;
    assert_eq!(up["status"], "processing");
    // Tokens cannot mint tokens: only a login session can.
    let r = write.post("/v1/tokens").json(&json!({"name": "t2", "scopes": ["read"]})).send().await.unwrap();
    assert_client_error(r, 403, "token minting a token").await;
    let r = alice.post("/v1/tokens").json(&json!({"name": "t3", "scopes": ["admin"]})).send().await.unwrap();
    assert_client_error(r, 400, "unknown scope").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_and_deletion_take_effect_when_the_call_returns() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let p = alice
        .upload_ok(png(120, 90, 5), "secret.png", Upload {
            title: Some("revocable heron".into()),
            visibility: Some("shared".into()),
            ..Default::default()
        })
        .await;
    let id = p["id"].as_str().unwrap().to_string();
    let r = alice.http.put(alice.url(&format!("/v1/photos/{id}/viewers")))
        .bearer_auth(alice.token.as_ref().unwrap()).json(&json!({"usernames": ["bob"]})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    alice.wait_ready(&id, READY).await;
    // Wait for the index to carry bob as a viewer.
    let start = std::time::Instant::now();
    while bob.json("/v1/search?q=heron").await.1["items"].as_array().unwrap().is_empty() {
        assert!(start.elapsed() < READY);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // What bob can reach now, including URLs signed for him.
    let seen = bob.json(&format!("/v1/photos/{id}")).await.1;
    let signed_thumb = seen["urls"]["thumbnail"].as_str().unwrap().to_string();
    let signed_original = seen["urls"]["original"].as_str().unwrap().to_string();
    assert!(signed_thumb.contains("sig="), "non-public files get signed URLs: {signed_thumb}");
    let check = |expect: u16| {
        let bob = bob.clone();
        let anon = anon.clone();
        let (id, t, o) = (id.clone(), signed_thumb.clone(), signed_original.clone());
        async move {
            assert_eq!(bob.get(&format!("/v1/photos/{id}")).send().await.unwrap().status(), expect, "json");
            assert_eq!(bob.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap().status(), expect, "thumbnail");
            assert_eq!(bob.get(&format!("/v1/photos/{id}/original")).send().await.unwrap().status(), expect, "original");
            // Signed URLs work without credentials, until revoked.
            assert_eq!(anon.get(&t).send().await.unwrap().status(), expect, "signed thumbnail");
            assert_eq!(anon.get(&o).send().await.unwrap().status(), expect, "signed original");
            let listed = bob.json("/v1/users/alice/photos").await.1["items"].as_array().unwrap().len();
            assert_eq!(listed, (expect == 200) as usize, "photostream");
            let hits = bob.json("/v1/search?q=heron").await.1["items"].as_array().unwrap().len();
            assert_eq!(hits, (expect == 200) as usize, "search");
        }
    };
    check(200).await;
    // A tampered signature never worked.
    let r = anon.get(&signed_thumb.replace("sig=", "sig=00")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Revoke by emptying the viewer list: no sleep before the reads.
    let r = alice.http.put(alice.url(&format!("/v1/photos/{id}/viewers")))
        .bearer_auth(alice.token.as_ref().unwrap()).json(&json!({"usernames": []})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    check(404).await;

    // Share again, then revoke by making it private.
    let r = alice.http.put(alice.url(&format!("/v1/photos/{id}/viewers")))
        .bearer_auth(alice.token.as_ref().unwrap()).json(&json!({"usernames": ["bob"]})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let fresh = bob.json(&format!("/v1/photos/{id}")).await.1;
    let fresh_thumb = fresh["urls"]["thumbnail"].as_str().unwrap().to_string();
    assert_eq!(anon.get(&fresh_thumb).send().await.unwrap().status(), 200);
    let r = alice.http.patch(alice.url(&format!("/v1/photos/{id}")))
        .bearer_auth(alice.token.as_ref().unwrap()).json(&json!({"visibility": "private"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(anon.get(&fresh_thumb).send().await.unwrap().status(), 404, "URL signed before the change");
    check(404).await;

    // Public, seen by anyone; then deleted: gone everywhere at once.
    let r = alice.http.patch(alice.url(&format!("/v1/photos/{id}")))
        .bearer_auth(alice.token.as_ref().unwrap()).json(&json!({"visibility": "public"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let public: Value = r.json().await.unwrap();
    let media = public["urls"]["thumbnail"].as_str().unwrap().to_string();
    assert!(!media.contains("sig="), "public files need no signature");
    assert_eq!(anon.get(&media).send().await.unwrap().status(), 200);
    let r = alice.http.delete(alice.url(&format!("/v1/photos/{id}")))
        .bearer_auth(alice.token.as_ref().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(anon.get(&media).send().await.unwrap().status(), 404);
    assert_eq!(alice.get(&format!("/v1/photos/{id}")).send().await.unwrap().status(), 404, "even the owner");
    assert!(alice.json("/v1/search?q=heron").await.1["items"].as_array().unwrap().is_empty());
    assert!(anon.json("/v1/users/alice/photos").await.1["items"].as_array().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_download_and_one_upload_in_flight_per_user() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let big = big_png();
    let p = alice.upload_ok(big.clone(), "big.png", Upload::default()).await;
    let id = p["id"].as_str().unwrap().to_string();
    alice.wait_ready(&id, Duration::from_secs(120)).await;

    // Downloads: the first streams slowly (we read one chunk), the second is refused.
    let mut first = alice.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let chunk = first.chunk().await.unwrap().unwrap();
    assert!(!chunk.is_empty());
    let r = alice.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(assert_client_error(r, 429, "second download").await, "too_many_requests");
    // Another user is not affected.
    let bob = anon.signed_up("bob").await;
    let r = bob.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), big.len());
    // Finish the first; the slot is free again.
    let mut total = chunk.len();
    while let Some(c) = first.chunk().await.unwrap() {
        total += c.len();
    }
    assert_eq!(total, big.len());
    // Back to back: a download read to its last byte has already freed the
    // slot, so the next one starts at once (the slot is released before
    // the final chunk is sent, not when the server drops the body after).
    for i in 0..20 {
        let r = alice.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
        assert_eq!(r.status(), 200, "download {i} right after the one before");
        assert_eq!(r.bytes().await.unwrap().len(), big.len());
    }
    let r = alice.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A client that disconnects mid-body also frees the slot.
    drop(r);
    let start = std::time::Instant::now();
    loop {
        let r = alice.get(&format!("/v1/photos/{id}/original")).header("range", "bytes=0-9").send().await.unwrap();
        if r.status() == 206 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "slot not released after disconnect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Uploads: hold the first upload's body open, try a second.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let boundary = "XyZ";
    let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\"\r\n\r\n");
    let slow = {
        let alice = alice.clone();
        tokio::spawn(async move {
            alice
                .post("/v1/photos")
                .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tx.send(Ok(bytes::Bytes::from(head))).await.unwrap();
    tx.send(Ok(bytes::Bytes::copy_from_slice(&big[..1_000_000]))).await.unwrap();
    // Wait until the first upload's handler holds the slot (checked on the
    // server's limiter directly, so the probe itself never takes it).
    let alice_id = server.catalog().user_by_username(&Username::parse("alice").unwrap()).await.unwrap().unwrap().id;
    let slot_key = format!("upload:user:{alice_id}");
    let start = std::time::Instant::now();
    loop {
        match server.service().backends.limiter.try_acquire(&slot_key).await.unwrap() {
            None => break, // held by the slow upload
            Some(probe) => probe.release().await,
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the first upload never took its slot");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = alice.upload(png(10, 10, 1), "second.png", Upload::default()).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(assert_client_error(r, 429, "second concurrent upload").await, "too_many_requests");
    tx.send(Ok(bytes::Bytes::copy_from_slice(&big[1_000_000..]))).await.unwrap();
    tx.send(Ok(bytes::Bytes::from(format!("\r\n--{boundary}--\r\n")))).await.unwrap();
    drop(tx);
    assert_eq!(slow.await.unwrap(), 202);
    let r = alice.upload(png(10, 10, 1), "third.png", Upload::default()).await;
    assert_eq!(r.status(), 202);
    server.stop().await;
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_rate_limited() {
    let server = TestServer::start().await;
    let anon = server.api();
    anon.signed_up("alice").await;
    let mut limited = false;
    for _ in 0..12 {
        let r = anon.post("/v1/sessions").json(&json!({"username": "alice", "password": "guess guess"})).send().await.unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            limited = true;
            break;
        }
        assert_eq!(r.status(), 401);
    }
    assert!(limited, "login attempts were never limited");
    // The guesser's address is limited, not the account: its owner, from
    // another address, still logs in with the right password.
    let elsewhere = anon.from_address("127.0.0.2");
    let r = elsewhere
        .post("/v1/sessions")
        .json(&json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the owner is locked out by someone else's guesses");
    // …and a guess from there is counted there, not at 127.0.0.1.
    let r = elsewhere.post("/v1/sessions").json(&json!({"username": "alice", "password": "guess guess"})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}

/// Reads an SSE response until the server ends it; panics if it is still
/// open after `within`.
async fn ends_within(mut sse: reqwest::Response, within: Duration, what: &str) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, sse.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => return,
            Err(_) => panic!("{what}: the notification stream was still open after {within:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_on_logout_and_password_change_and_streams_follow_their_credential() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let creds = json!({"username": "alice", "password": "correct horse battery"});
    let login = |body: Value| {
        let anon = anon.clone();
        async move {
            let r = anon.post("/v1/sessions").json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (status, v["token"].as_str().map(|t| anon.with_token(t)))
        }
    };
    let stream = |api: &Api| api.get("/v1/notifications/stream").send();
    // The stream re-checks its credential every 2 s.
    let promptly = Duration::from_secs(6);

    // An API token manages no credentials: that needs a login session.
    let r = alice.post("/v1/tokens").json(&json!({"name": "script", "scopes": ["read", "write"]})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let t: Value = r.json().await.unwrap();
    let (token_id, script) = (t["id"].as_str().unwrap().to_string(), anon.with_token(t["token"].as_str().unwrap()));
    let r = script.get("/v1/tokens").send().await.unwrap();
    assert_eq!(assert_client_error(r, 403, "a token lists tokens").await, "session_required");
    let r = script.http.delete(script.url(&format!("/v1/tokens/{token_id}"))).bearer_auth(script.token.as_ref().unwrap()).send().await.unwrap();
    assert_eq!(assert_client_error(r, 403, "a token revokes a token").await, "session_required");
    let r = script.post("/v1/sessions/logout").send().await.unwrap();
    assert_eq!(assert_client_error(r, 403, "a token logs out").await, "session_required");
    let r = script.http.put(script.url("/v1/me/password")).bearer_auth(script.token.as_ref().unwrap())
        .json(&json!({"current": "correct horse battery", "new": "a new horse battery"})).send().await.unwrap();
    assert_eq!(assert_client_error(r, 403, "a token changes the password").await, "session_required");

    // Revoking the token ends the stream it opened.
    let sse = stream(&script).await.unwrap();
    assert_eq!(sse.status(), 200);
    let r = alice.http.delete(alice.url(&format!("/v1/tokens/{token_id}"))).bearer_auth(alice.token.as_ref().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 204);
    ends_within(sse, promptly, "revoked API token").await;

    // Logging out ends that session on REST and on its stream, not others.
    let (status, second) = login(creds.clone()).await;
    assert_eq!(status, 200);
    let second = second.unwrap();
    let sse = stream(&second).await.unwrap();
    assert_eq!(sse.status(), 200);
    assert_eq!(second.post("/v1/sessions/logout").send().await.unwrap().status(), 204);
    let r = second.get("/v1/notifications").send().await.unwrap();
    assert_client_error(r, 401, "a logged-out session").await;
    ends_within(sse, promptly, "logged-out session").await;
    let r = second.post("/v1/sessions/logout").send().await.unwrap();
    assert_client_error(r, 401, "logging out twice").await;
    assert_eq!(alice.json("/v1/notifications").await.0, 200, "the other session is untouched");

    // A password change: checked, then every other session and every
    // stream opened before it ends; the calling session stays.
    let put_password = |api: &Api, body: Value| api.http.put(api.url("/v1/me/password")).bearer_auth(api.token.clone().unwrap()).json(&body).send();
    let r = put_password(&alice, json!({"current": "not my password", "new": "a new horse battery"})).await.unwrap();
    assert_eq!(assert_client_error(r, 403, "wrong current password").await, "wrong_password");
    let r = put_password(&alice, json!({"current": "correct horse battery", "new": "short"})).await.unwrap();
    assert_eq!(assert_client_error(r, 400, "too short a new password").await, "invalid_password");
    let r = anon.http.put(anon.url("/v1/me/password")).json(&json!({"current": "x", "new": "yyyyyyyyyy"})).send().await.unwrap();
    assert_client_error(r, 401, "anonymous password change").await;
    let (_, third) = login(creds.clone()).await;
    let third = third.unwrap();
    let sse = stream(&alice).await.unwrap();
    assert_eq!(sse.status(), 200);
    let r = put_password(&alice, json!({"current": "correct horse battery", "new": "a new horse battery"})).await.unwrap();
    assert_eq!(r.status(), 204);
    let r = third.get("/v1/notifications").send().await.unwrap();
    assert_client_error(r, 401, "another session after a password change").await;
    assert_eq!(alice.json("/v1/notifications").await.0, 200, "the session that changed it stays");
    ends_within(sse, promptly, "a stream opened before the password change").await;
    assert_eq!(login(creds).await.0, 401, "the old password no longer logs in");
    assert_eq!(login(json!({"username": "alice", "password": "a new horse battery"})).await.0, 200);
    server.stop().await;
}
