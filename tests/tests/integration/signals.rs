//! Windowed signals on the embedded defaults: explore's trending from the
//! sliding hour of favorites and views (never showing what the viewer may
//! not see), live view counters in owner statistics, and abuse throttling
//! (429 `rate_limited`) per user.

use std::time::Duration;

use photostream_tests::{assert_client_error, png, Api, TestServer, Upload};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

async fn put(api: &Api, path: &str) -> u16 {
    api.http
        .put(api.url(path))
        .bearer_auth(api.token.as_ref().unwrap())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn upload_public(who: &Api, seed: u32) -> String {
    let p = who
        .upload_ok(
            png(30, 20, seed),
            &format!("s{seed}.png"),
            Upload {
                visibility: Some("public".into()),
                ..Default::default()
            },
        )
        .await;
    let id = p["id"].as_str().unwrap().to_string();
    who.wait_ready(&id, WAIT).await;
    id
}

fn explore_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["photo"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_trends_by_the_last_hour_and_never_shows_what_the_viewer_cannot_see() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let dave = anon.signed_up("dave").await;
    // The oldest photo is the one that will trend.
    let old = upload_public(&alice, 1).await;
    let newer = upload_public(&alice, 2).await;
    let newest = upload_public(&alice, 3).await;
    let (_, page) = anon.json("/v1/explore").await;
    assert_eq!(
        explore_ids(&page),
        vec![newest.clone(), newer.clone(), old.clone()],
        "cold: newest first"
    );

    assert_eq!(put(&bob, &format!("/v1/photos/{old}/favorite")).await, 204);
    assert_eq!(put(&dave, &format!("/v1/photos/{old}/favorite")).await, 204);
    for viewer in [&anon, &bob, &dave] {
        assert_eq!(
            viewer
                .get(&format!("/v1/photos/{old}"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let (_, page) = anon.json("/v1/explore").await;
    assert_eq!(
        explore_ids(&page)[0],
        old,
        "favorites and views in the last hour lift it: {page}"
    );
    assert_eq!(page["items"][0]["reason"], "trending");
    let trending_score = page["items"][0]["score"].as_f64().unwrap();
    let newest_score = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["photo"]["id"] == newest.as_str())
        .unwrap()["score"]
        .as_f64()
        .unwrap();
    assert!(trending_score > newest_score, "{page}");

    // Made private, it leaves explore at once, though its signals remain.
    let r = alice
        .http
        .patch(alice.url(&format!("/v1/photos/{old}")))
        .bearer_auth(alice.token.as_ref().unwrap())
        .json(&json!({"visibility": "private"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for viewer in [&anon, &bob] {
        let (status, page) = viewer.json("/v1/explore").await;
        assert_eq!(status, 200);
        assert!(
            !explore_ids(&page).contains(&old),
            "a private photo never trends: {page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_statistics_carry_live_view_counters() {
    let server = TestServer::start().await;
    let anon = server.api();
    let carol = anon.signed_up("carol").await;
    let bob = anon.signed_up("bob").await;
    let photo = upload_public(&carol, 7).await;
    let other = upload_public(&carol, 8).await;
    for (viewer, id) in [
        (&bob, &photo),
        (&anon, &photo),
        (&bob, &photo),
        (&bob, &other),
    ] {
        assert_eq!(
            viewer
                .get(&format!("/v1/photos/{id}"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    // The owner's own look is not a view.
    carol
        .get(&format!("/v1/photos/{photo}"))
        .send()
        .await
        .unwrap();

    let (status, stats) = carol.json(&format!("/v1/photos/{photo}/stats")).await;
    assert_eq!(status, 200, "{stats}");
    let live = &stats["live"];
    assert_eq!(live["last_hour"], 3, "{stats}");
    // The minute may have turned between the views and the read.
    assert!(live["last_minute"].as_u64().unwrap() <= 3, "{stats}");
    assert!(
        live["minute_ends_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{stats}"
    );

    let (status, stats) = carol.json("/v1/users/carol/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(
        stats["live"]["last_hour"], 4,
        "every photo of hers: {stats}"
    );
    assert_eq!(
        bob.get("/v1/users/carol/stats")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_over_their_rate_are_throttled_with_a_clear_code() {
    let server = TestServer::start_with(|c| {
        c.signals.uploads_per_window = 2;
        c.signals.comments_per_window = 3;
        c.signals.reports_per_window = 1;
    })
    .await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let carol = anon.signed_up("carol").await;

    // Uploads: two in ten minutes, then 429 before the body is looked at.
    let first = upload_public(&alice, 1).await;
    let second = upload_public(&alice, 2).await;
    let r = alice
        .upload(png(10, 10, 3), "third.png", Upload::default())
        .await;
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert_eq!(
        assert_client_error(r, 429, "third upload").await,
        "rate_limited"
    );
    assert_eq!(retry_after.as_deref(), Some("60"), "one hop");

    // Comments: three, then refused; someone else may still comment.
    let comment = |who: &Api, text: &str| {
        who.post(&format!("/v1/photos/{first}/comments"))
            .json(&json!({ "text": text }))
            .send()
    };
    for i in 0..3 {
        assert_eq!(
            comment(&bob, &format!("nice {i}")).await.unwrap().status(),
            201
        );
    }
    let r = comment(&bob, "nice again").await.unwrap();
    let message = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&message).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{message}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("3 comments in the last 10 minutes"),
        "{message}"
    );
    assert_eq!(
        comment(&carol, "lovely").await.unwrap().status(),
        201,
        "the limit is per user"
    );

    // Reports: one, then refused.
    let report = |who: &Api, photo: &str| {
        who.post(&format!("/v1/photos/{photo}/reports"))
            .json(&json!({ "reason": "spam" }))
            .send()
    };
    assert_eq!(report(&bob, &first).await.unwrap().status(), 202);
    let r = report(&bob, &second).await.unwrap();
    assert_eq!(
        assert_client_error(r, 429, "second report").await,
        "rate_limited"
    );
    assert_eq!(report(&carol, &second).await.unwrap().status(), 202);
}
