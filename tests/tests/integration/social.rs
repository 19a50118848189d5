//! Social features end to end: follows, comments, favorites, notifications
//! (listed and live over SSE), feeds — with the ACL holding on each path.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use photostream_tests::{png, Api, TestServer, Upload};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

async fn put(api: &Api, path: &str) -> u16 {
    api.http.put(api.url(path)).bearer_auth(api.token.as_ref().unwrap()).send().await.unwrap().status().as_u16()
}

async fn del(api: &Api, path: &str) -> u16 {
    api.http.delete(api.url(path)).bearer_auth(api.token.as_ref().unwrap()).send().await.unwrap().status().as_u16()
}

/// Waits until the caller's notifications satisfy `pred`.
async fn notifications_until(api: &Api, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let (status, page) = api.json("/v1/notifications?limit=100").await;
        assert_eq!(status, 200);
        let items = page["items"].as_array().unwrap().clone();
        if pred(&items) {
            return items;
        }
        assert!(start.elapsed() < WAIT, "{what}: {items:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(items: &[Value], kind: &str, photo: Option<&str>) -> usize {
    items
        .iter()
        .filter(|n| n["kind"] == kind && photo.is_none_or(|p| n["photo"] == p))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_scenario_with_live_notifications() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let carol = anon.signed_up("carol").await;

    assert_eq!(put(&bob, "/v1/users/alice/follow").await, 204);
    assert_eq!(put(&bob, "/v1/users/alice/follow").await, 204, "idempotent");
    assert_eq!(put(&bob, "/v1/users/bob/follow").await, 400);
    let (_, followers) = anon.json("/v1/users/alice/followers").await;
    assert_eq!(followers["items"][0]["username"], "bob");
    let (_, following) = anon.json("/v1/users/bob/following").await;
    assert_eq!(following["items"][0]["username"], "alice");
    let n = notifications_until(&alice, "follow notification", |i| count(i, "follow", None) == 1).await;
    assert_eq!(n[0]["actor"], "bob");

    let public = alice.upload_ok(png(60, 40, 1), "lake.png", Upload { title: Some("lake".into()), ..Default::default() }).await;
    let private = alice
        .upload_ok(png(60, 40, 2), "secret.png", Upload { visibility: Some("private".into()), ..Default::default() })
        .await;
    let (p1, p2) = (public["id"].as_str().unwrap().to_string(), private["id"].as_str().unwrap().to_string());
    alice.wait_ready(&p1, WAIT).await;
    alice.wait_ready(&p2, WAIT).await;
    // Bob, a follower, hears of the public photo only.
    notifications_until(&bob, "new photo", |i| count(i, "new_photo", Some(&p1)) == 1).await;

    // Comments: to the owner, then to everyone who commented before.
    let r = bob.post(&format!("/v1/photos/{p1}/comments")).json(&json!({"text": "  lovely <b>light</b>  "})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let c1: Value = r.json().await.unwrap();
    assert_eq!(c1["text"], "lovely <b>light</b>", "stored as plain text, trimmed, never rendered");
    notifications_until(&alice, "comment", |i| count(i, "comment", Some(&p1)) == 1).await;

    // Live: alice listens; carol's comment reaches her within a second.
    let mut sse = alice.get("/v1/notifications/stream").send().await.unwrap();
    assert_eq!(sse.status(), 200);
    assert!(sse.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let sent = Instant::now();
    let r = carol.post(&format!("/v1/photos/{p1}/comments")).json(&json!({"text": "agreed"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let mut buf = String::new();
    let event = loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), sse.chunk()).await.expect("an SSE event").unwrap().unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(line) = buf.lines().find(|l| l.starts_with("data: ")) {
            break serde_json::from_str::<Value>(&line["data: ".len()..]).unwrap();
        }
    };
    let latency = sent.elapsed();
    assert_eq!((event["kind"].as_str(), event["actor"].as_str()), (Some("comment"), Some("carol")));
    assert!(latency < Duration::from_secs(1), "SSE delivered after {latency:?}");
    drop(sse);
    notifications_until(&bob, "comment to earlier commenter", |i| count(i, "comment", Some(&p1)) == 1).await;

    // Favorites.
    assert_eq!(put(&carol, &format!("/v1/photos/{p1}/favorite")).await, 204);
    assert_eq!(put(&carol, &format!("/v1/photos/{p1}/favorite")).await, 204);
    let items = notifications_until(&alice, "favorite", |i| count(i, "favorite", Some(&p1)) == 1).await;
    let (_, favs) = anon.json("/v1/users/carol/favorites").await;
    assert_eq!(favs["items"][0]["id"], p1);

    // Reading marks.
    let ids: Vec<Value> = items.iter().filter(|n| n["kind"] == "favorite").map(|n| n["id"].clone()).collect();
    let r = alice.post("/v1/notifications/read").json(&json!({"ids": ids})).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (_, page) = alice.json("/v1/notifications").await;
    assert!(page["items"].as_array().unwrap().iter().any(|n| n["kind"] == "favorite" && n["read"] == true));
    let r = alice.post("/v1/notifications/read").json(&json!({"all": true})).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (_, page) = alice.json("/v1/notifications").await;
    assert!(page["items"].as_array().unwrap().iter().all(|n| n["read"] == true));

    // Feed: bob sees alice's public photo, not her private one.
    let (_, feed) = bob.json("/v1/feed").await;
    let feed_ids: Vec<&str> = feed["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(feed_ids, vec![p1.as_str()]);
    let (_, own) = alice.json("/v1/feed").await;
    assert_eq!(own["items"].as_array().unwrap().len(), 2, "own photos, private included");
    assert_eq!(anon.get("/v1/feed").send().await.unwrap().status(), 401);

    // ACL on every social path of the private photo.
    for (method, path) in [
        ("GET", format!("/v1/photos/{p2}/comments")),
        ("POST", format!("/v1/photos/{p2}/comments")),
        ("PUT", format!("/v1/photos/{p2}/favorite")),
    ] {
        let rb = match method {
            "GET" => carol.get(&path),
            "POST" => carol.post(&path).json(&json!({"text": "hi"})),
            _ => carol.http.put(carol.url(&path)).bearer_auth(carol.token.as_ref().unwrap()),
        };
        assert_eq!(rb.send().await.unwrap().status(), 404, "{method} {path}");
    }
    // Comment deletion: author yes, stranger no, owner yes.
    let c1_id = c1["id"].as_str().unwrap();
    assert_eq!(del(&carol, &format!("/v1/comments/{c1_id}")).await, 403);
    assert_eq!(del(&alice, &format!("/v1/comments/{c1_id}")).await, 204);
    let (_, comments) = anon.json(&format!("/v1/photos/{p1}/comments")).await;
    assert_eq!(comments["items"].as_array().unwrap().len(), 1);

    // Alice makes the photo private: bob's notifications, feed and the
    // comments about it vanish for him at once.
    let r = alice.http.patch(alice.url(&format!("/v1/photos/{p1}"))).bearer_auth(alice.token.as_ref().unwrap())
        .json(&json!({"visibility": "private"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, page) = bob.json("/v1/notifications?limit=100").await;
    assert_eq!(count(page["items"].as_array().unwrap(), "new_photo", Some(&p1)), 0);
    assert_eq!(count(page["items"].as_array().unwrap(), "comment", Some(&p1)), 0);
    assert!(bob.json("/v1/feed").await.1["items"].as_array().unwrap().is_empty());
    assert_eq!(bob.get(&format!("/v1/photos/{p1}/comments")).send().await.unwrap().status(), 404);
    assert!(anon.json("/v1/users/carol/favorites").await.1["items"].as_array().unwrap().is_empty());
    server.stop().await;
}

/// Randomised: photos are added and deleted between page fetches of the
/// feed and of a photostream; no page repeats an item, and every item that
/// existed from the first page to the last is seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_pagination_survives_concurrent_inserts_and_deletes() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let dave = anon.signed_up("dave").await;
    let bob = anon.signed_up("bob").await;
    assert_eq!(put(&bob, "/v1/users/alice/follow").await, 204);
    assert_eq!(put(&bob, "/v1/users/dave/follow").await, 204);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut seed = 0u32;
    for (list, reader, owners) in [
        ("/v1/feed", bob.clone(), vec![alice.clone(), dave.clone()]),
        ("/v1/users/alice/photos", anon.clone(), vec![alice.clone()]),
    ] {
        let mut live: Vec<(String, Api)> = Vec::new();
        for _ in 0..12 {
            let who = owners[rng.gen_range(0..owners.len())].clone();
            seed += 1;
            live.push((upload_ready(&who, seed).await, who));
        }
        let existed: Vec<String> = live.iter().map(|(id, _)| id.clone()).collect();
        let mut deleted = HashSet::new();
        let mut inserted_during = HashSet::new();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => format!("{list}?limit=3"),
                Some(c) => format!("{list}?limit=3&previous_last={c}"),
            };
            let (status, page) = reader.json(&path).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(page["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()));
            // Meanwhile: an insert, and sometimes a delete of a random photo.
            let who = owners[rng.gen_range(0..owners.len())].clone();
            seed += 1;
            inserted_during.insert(upload_ready(&who, seed).await);
            if rng.gen_bool(0.4) && !live.is_empty() {
                let (id, owner) = live.remove(rng.gen_range(0..live.len()));
                assert_eq!(del(&owner, &format!("/v1/photos/{id}")).await, 204);
                deleted.insert(id);
            }
            match page["next"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{list}: repeated: {seen:?}");
        for id in existed.iter().filter(|id| !deleted.contains(*id)) {
            assert!(unique.contains(id), "{list}: skipped {id}");
        }
        assert!(
            seen.iter().all(|id| !inserted_during.contains(id)),
            "{list}: photos added after the first page are newer and never appear on later pages"
        );
        assert!(!deleted.is_empty(), "{list}: the run deleted nothing; pick another seed");
    }
    server.stop().await;
}

async fn upload_ready(who: &Api, seed: u32) -> String {
    let p = who.upload_ok(png(20, 20, seed), &format!("f{seed}.png"), Upload::default()).await;
    let id = p["id"].as_str().unwrap().to_string();
    who.wait_ready(&id, WAIT).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_stats_groups_and_album_moves() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let carol = anon.signed_up("carol").await;
    let up = |who: Api, name: &'static str, tags: &'static str, vis: &'static str, seed: u32| async move {
        let p = who
            .upload_ok(png(40, 30, seed), name, Upload {
                metadata: Some(format!(r#"{{"tags":[{tags}]}}"#)),
                visibility: Some(vis.into()),
                ..Default::default()
            })
            .await;
        let id = p["id"].as_str().unwrap().to_string();
        who.wait_ready(&id, WAIT).await;
        id
    };
    let a_birds = up(alice.clone(), "a1.png", r#""birds""#, "public", 1).await;
    let a_private = up(alice.clone(), "a2.png", r#""birds""#, "private", 2).await;
    let c_birds = up(carol.clone(), "c1.png", r#""birds","lake""#, "public", 3).await;
    let c_cars = up(carol.clone(), "c2.png", r#""cars""#, "public", 4).await;
    let b_own = up(bob.clone(), "b1.png", r#""birds""#, "public", 5).await;

    // Cold start: anonymous explore lists public photos only, with reasons.
    let (status, page) = anon.json("/v1/explore").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["items"].as_array().unwrap().iter().map(|i| i["photo"]["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&a_private.as_str()));
    assert_eq!(ids.len(), 4);
    assert!(page["items"].as_array().unwrap().iter().all(|i| i["reason"].as_str().is_some_and(|r| !r.is_empty())));

    // Bob follows alice and favorites carol's bird photo.
    assert_eq!(put(&bob, "/v1/users/alice/follow").await, 204);
    assert_eq!(put(&bob, &format!("/v1/photos/{c_birds}/favorite")).await, 204);
    let (_, page) = bob.json("/v1/explore").await;
    let items = page["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["photo"]["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&b_own.as_str()), "never his own");
    assert!(!ids.contains(&c_birds.as_str()), "never one he favorited");
    assert_eq!(ids[0], a_birds, "followed owner and a liked tag rank first: {page}");
    assert_eq!(items[0]["reason"], "because you follow alice");
    let cars = items.iter().find(|i| i["photo"]["id"] == c_cars.as_str()).unwrap();
    assert_eq!(cars["reason"], "because you liked photos by carol");

    // Views by others become analytics events; stats are the owner's.
    for viewer in [&anon, &bob, &bob] {
        assert_eq!(viewer.get(&format!("/v1/photos/{c_birds}")).send().await.unwrap().status(), 200);
    }
    carol.get(&format!("/v1/photos/{c_birds}")).send().await.unwrap(); // the owner's own view does not count
    let r = bob.post(&format!("/v1/photos/{c_birds}/comments")).json(&json!({"text": "nice"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let start = Instant::now();
    let stats = loop {
        let (status, stats) = carol.json(&format!("/v1/photos/{c_birds}/stats")).await;
        assert_eq!(status, 200, "{stats}");
        if stats["views"] == 3 {
            break stats;
        }
        assert!(start.elapsed() < WAIT, "views never reached 3: {stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((stats["favorites"].as_i64(), stats["comments"].as_i64()), (Some(1), Some(1)));
    assert_eq!(stats["daily"][0]["views"], 3);
    let (status, user_stats) = carol.json("/v1/users/carol/stats").await;
    assert_eq!(status, 200);
    assert_eq!((user_stats["photos"].as_i64(), user_stats["views"].as_i64()), (Some(2), Some(3)));
    assert_eq!(bob.get(&format!("/v1/photos/{c_birds}/stats")).send().await.unwrap().status(), 403);
    assert_eq!(bob.get("/v1/users/carol/stats").send().await.unwrap().status(), 403);
    assert_eq!(bob.get(&format!("/v1/photos/{a_private}/stats")).send().await.unwrap().status(), 404);

    // Groups: members pool their own photos; the ACL still applies.
    let r = alice.post("/v1/groups").json(&json!({"name": "Birders", "description": "feathers"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let g: Value = r.json().await.unwrap();
    let gid = g["id"].as_str().unwrap();
    let add = |who: &Api, photo: &str| who.post(&format!("/v1/groups/{gid}/photos")).json(&json!({"photo": photo})).send();
    assert_eq!(add(&alice, &a_birds).await.unwrap().status(), 204);
    assert_eq!(add(&alice, &a_private).await.unwrap().status(), 204);
    assert_eq!(add(&carol, &c_birds).await.unwrap().status(), 403, "not a member yet");
    assert_eq!(put(&carol, &format!("/v1/groups/{gid}/members")).await, 204);
    assert_eq!(add(&carol, &a_birds).await.unwrap().status(), 403, "not her photo");
    assert_eq!(add(&carol, &c_birds).await.unwrap().status(), 204);
    let (_, group) = anon.json(&format!("/v1/groups/{gid}")).await;
    assert_eq!(group["members"], 2);
    let (_, pool) = anon.json(&format!("/v1/groups/{gid}/photos")).await;
    assert_eq!(pool["items"].as_array().unwrap().len(), 2, "alice's private photo stays hidden: {pool}");
    let (_, pool) = alice.json(&format!("/v1/groups/{gid}/photos")).await;
    assert_eq!(pool["items"].as_array().unwrap().len(), 3);
    assert_eq!(del(&carol, &format!("/v1/groups/{gid}/members")).await, 204);
    let (_, pool) = anon.json(&format!("/v1/groups/{gid}/photos")).await;
    assert_eq!(pool["items"].as_array().unwrap().len(), 1, "leaving takes her photos out");

    // Albums: move a photo; its album listing follows, its URLs keep working.
    let r = alice.post("/v1/albums").json(&json!({"name": "Summer", "default_visibility": "private"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let album: Value = r.json().await.unwrap();
    let r = alice.http.patch(alice.url(&format!("/v1/photos/{a_birds}"))).bearer_auth(alice.token.as_ref().unwrap())
        .json(&json!({"album": "summer", "metadata": {"tags": ["birds", "summer"], "license": "cc-by"}})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["album"], "summer");
    assert_eq!(moved["metadata"]["license"], "cc-by");
    let (_, listing) = anon.json(&format!("/v1/albums/{}/photos", album["id"].as_str().unwrap())).await;
    assert_eq!(listing["items"][0]["id"], a_birds);
    assert_eq!(anon.get(moved["urls"]["thumbnail"].as_str().unwrap()).send().await.unwrap().status(), 200);
    let (_, tagged) = anon.json("/v1/users/alice/photos?tag=summer").await;
    assert_eq!(tagged["items"].as_array().unwrap().len(), 1);
    let (_, albums) = anon.json("/v1/users/alice/albums").await;
    assert_eq!(albums["items"].as_array().unwrap().len(), 2);
    // New uploads into the album take its default visibility.
    let p = alice.upload_ok(png(10, 10, 9), "s.png", Upload { album: Some("summer".into()), ..Default::default() }).await;
    assert_eq!(p["visibility"], "private");
    server.stop().await;
}
