//! Moderation end to end: automatic holds, the moderator's queue, rejection
//! with "block similar", the owner's notice, near-duplicate re-uploads
//! caught automatically, reports collapsing into one item and hiding a
//! photo at the threshold, held comments, the audit log and the metrics.

use std::time::{Duration, Instant};

use photostream_tests::{assert_client_error, fixture, png, Api, TestServer, Upload};
use photostream_types::Username;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// Polls the photo (as its owner) until it leaves `processing`.
async fn settled(owner: &Api, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let (status, photo) = owner.json(&format!("/v1/photos/{id}")).await;
        assert_eq!(status, 200, "{photo}");
        if photo["status"] != "processing" {
            return photo;
        }
        assert!(start.elapsed() < WAIT, "photo {id} still processing: {photo}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn decide(api: &Api, item: &str, body: Value) -> reqwest::Response {
    api.post(&format!("/v1/moderation/queue/{item}/decision")).json(&body).send().await.unwrap()
}

async fn report(api: &Api, photo: &str, reason: &str) -> reqwest::Response {
    api.post(&format!("/v1/photos/{photo}/reports")).json(&json!({ "reason": reason })).send().await.unwrap()
}

/// The blocked photo, resized to 800 px wide and re-encoded.
fn resized_copy(jpeg: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(jpeg).unwrap().resize(800, 800, image::imageops::FilterType::Triangle);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70).encode_image(&img.to_rgb8()).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_queue_flow() {
    let server = TestServer::start_with(|c| {
        c.moderation.text.hold_words = vec!["casino".into()];
        c.moderation.report_threshold = 2;
        // Brand-new accounts report here at full weight (weights: hardening.rs).
        c.moderation.report_full_weight_age_secs = 0;
    })
    .await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let carol = anon.signed_up("carol").await;
    let mona = anon.signed_up("mona").await;
    server.catalog().set_role(&Username::parse("mona").unwrap(), "moderator").await.unwrap();

    // 1. An upload whose title breaks a text rule (in disguise) is held.
    let original = fixture("jpeg-exif-12mp-olympus.jpg");
    let opts = Upload { title: Some("Big С4SINO night".into()), ..Default::default() };
    let held = alice.upload_ok(original.clone(), "night.jpg", opts).await;
    let held_id = held["id"].as_str().unwrap().to_string();
    let photo = settled(&alice, &held_id).await;
    assert_eq!(photo["status"], "under_review", "{photo}");
    assert_eq!(bob.json(&format!("/v1/photos/{held_id}")).await.0, 404, "held: invisible to others");
    assert_eq!(anon.json(&format!("/v1/photos/{held_id}/thumbnail")).await.0, 404);
    assert_eq!(mona.json(&format!("/v1/photos/{held_id}")).await.0, 200, "moderators see held photos");

    // 2. Only moderators see the queue; everyone else gets 404.
    assert_eq!(bob.json("/v1/moderation/queue").await.0, 404);
    assert_eq!(anon.json("/v1/moderation/queue?status=pending").await.0, 404);
    assert_eq!(bob.json("/v1/moderation/audit").await.0, 404);
    let (status, queue) = mona.json("/v1/moderation/queue?status=pending").await;
    assert_eq!(status, 200, "{queue}");
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{queue}");
    let item = &items[0];
    assert_eq!(item["photo"]["id"], held_id.as_str());
    assert_eq!(item["status"], "pending");
    assert!(item["reasons"][0].as_str().unwrap().contains("casino"), "{item}");
    assert!((item["scores"]["text"].as_f64().unwrap() - 0.6).abs() < 1e-9, "{item}");
    let item_id = item["id"].as_str().unwrap().to_string();
    // The thumbnail is made while held; its URL is signed.
    let thumb = until("a signed thumbnail URL in the queue", async || {
        let (_, q) = mona.json("/v1/moderation/queue").await;
        q["items"][0]["thumbnail_url"].as_str().map(str::to_string)
    })
    .await;
    assert!(thumb.contains("sig="), "{thumb}");
    assert_eq!(anon.http.get(anon.url(&thumb)).send().await.unwrap().status(), 200, "the signed URL works");

    // Bad decisions change nothing.
    assert_client_error(decide(&mona, &item_id, json!({"action": "maybe"})).await, 400, "unknown action").await;
    assert_client_error(decide(&mona, &item_id, json!({"action": "approve", "block_similar": true})).await, 400, "block on approve").await;
    assert_client_error(decide(&mona, "nonexistent", json!({"action": "reject"})).await, 404, "unknown item").await;
    assert_client_error(decide(&bob, &item_id, json!({"action": "approve"})).await, 404, "not a moderator").await;

    // 3. Reject with "block similar": the owner keeps it, is told why; others get 404.
    let r = decide(&mona, &item_id, json!({"action": "reject", "note": "gambling spam", "block_similar": true})).await;
    assert_eq!(r.status(), 200);
    let decided: Value = r.json().await.unwrap();
    assert_eq!(decided["status"], "rejected");
    assert_eq!(decided["note"], "gambling spam");
    assert_eq!(alice.json(&format!("/v1/photos/{held_id}")).await.1["status"], "rejected");
    assert_eq!(bob.json(&format!("/v1/photos/{held_id}")).await.0, 404);
    let (_, hits) = bob.json("/v1/search?q=night").await;
    assert!(hits["items"].as_array().unwrap().is_empty(), "{hits}");
    let (_, notes) = alice.json("/v1/notifications").await;
    let notice = notes["items"].as_array().unwrap().iter().find(|n| n["kind"] == "photo_rejected").cloned();
    let notice = notice.unwrap_or_else(|| panic!("no rejection notice: {notes}"));
    assert_eq!(notice["note"], "gambling spam");
    assert_eq!(notice["photo"], held_id.as_str());
    let (_, empty) = mona.json("/v1/moderation/queue").await;
    assert!(empty["items"].as_array().unwrap().is_empty());
    let (_, rejected) = mona.json("/v1/moderation/queue?status=rejected").await;
    assert_eq!(rejected["items"][0]["id"], item_id.as_str());

    // 4. A resized, re-encoded copy with an innocent title is caught automatically.
    let copy = alice.upload_ok(resized_copy(&original), "again.jpg", Upload { title: Some("Lake".into()), ..Default::default() }).await;
    let copy_id = copy["id"].as_str().unwrap().to_string();
    let photo = settled(&alice, &copy_id).await;
    assert!(matches!(photo["status"].as_str(), Some("under_review" | "rejected")), "{photo}");
    assert_eq!(bob.json(&format!("/v1/photos/{copy_id}")).await.0, 404);
    let (_, pending) = mona.json("/v1/moderation/queue?status=pending").await;
    let (_, auto_rejected) = mona.json("/v1/moderation/queue?status=rejected").await;
    let caught = pending["items"].as_array().unwrap().iter().chain(auto_rejected["items"].as_array().unwrap())
        .find(|i| i["photo"]["id"] == copy_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("no item for the copy: {pending} {auto_rejected}"));
    assert!(caught["scores"]["near_duplicate"].as_f64().unwrap() >= 0.5, "{caught}");
    // …while an unrelated photo goes through.
    let fine = alice.upload_ok(png(320, 240, 7), "fine.png", Upload::default()).await;
    alice.wait_ready(fine["id"].as_str().unwrap(), WAIT).await;

    // 5. Reports: repeats collapse, the threshold hides the photo, approval restores it.
    let carols = carol.upload_ok(png(300, 200, 11), "carol.png", Upload { title: Some("Harbour".into()), ..Default::default() }).await;
    let carols_id = carols["id"].as_str().unwrap().to_string();
    carol.wait_ready(&carols_id, WAIT).await;
    assert_client_error(report(&carol, &carols_id, "mine").await, 403, "own photo").await;
    assert_client_error(report(&bob, &carols_id, "").await, 400, "empty reason").await;
    assert_client_error(report(&bob, &held_id, "spam").await, 404, "a photo bob cannot see").await;
    assert_eq!(report(&bob, &carols_id, "spam").await.status(), 202);
    assert_eq!(report(&bob, &carols_id, "spam again").await.status(), 202);
    assert_eq!(anon.json(&format!("/v1/photos/{carols_id}")).await.0, 200, "one reporter is below the threshold");
    let (_, q) = mona.json("/v1/moderation/queue").await;
    let reported = q["items"].as_array().unwrap().iter().find(|i| i["photo"]["id"] == carols_id.as_str()).cloned().unwrap();
    assert_eq!(reported["report_count"], 1, "repeated reports collapse");
    assert_eq!(report(&alice, &carols_id, "spam").await.status(), 202);
    assert_eq!(anon.json(&format!("/v1/photos/{carols_id}")).await.0, 404, "hidden at the threshold");
    assert_eq!(carol.json(&format!("/v1/photos/{carols_id}")).await.1["status"], "under_review");
    let (_, q) = mona.json("/v1/moderation/queue").await;
    let reported = q["items"].as_array().unwrap().iter().find(|i| i["photo"]["id"] == carols_id.as_str()).cloned().unwrap();
    assert_eq!(reported["report_count"], 2);
    let r = decide(&mona, reported["id"].as_str().unwrap(), json!({"action": "approve", "note": "fine"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(anon.json(&format!("/v1/photos/{carols_id}")).await.0, 200, "approval restores it");
    let (_, hits) = anon.json("/v1/search?q=harbour").await;
    assert_eq!(hits["items"].as_array().unwrap().len(), 1, "and search finds it again: {hits}");

    // 6. A comment breaking a rule is hidden pending review.
    let r = bob
        .post(&format!("/v1/photos/{carols_id}/comments"))
        .json(&json!({"text": "visit my c a s i n o"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    until("the comment to be held", async || {
        let (_, q) = mona.json("/v1/moderation/queue").await;
        q["items"].as_array().unwrap().iter().find(|i| i["subject"] == "comment").cloned()
    })
    .await;
    let (_, comments) = anon.json(&format!("/v1/photos/{carols_id}/comments")).await;
    assert!(comments["items"].as_array().unwrap().is_empty(), "{comments}");

    // 7. The audit log has every decision, automatic and by hand.
    let (status, audit) = mona.json(&format!("/v1/moderation/audit?photo={held_id}")).await;
    assert_eq!(status, 200);
    let all = audit["items"].as_array().unwrap();
    // Mona's looks at the held photo (in the queue) are audited too…
    assert!(all.iter().any(|l| l["action"] == "view" && l["actor"] == "mona"), "{audit}");
    let (_, views) = mona.json(&format!("/v1/moderation/audit?photo={held_id}&action=view")).await;
    assert!(views["items"].as_array().unwrap().iter().all(|l| l["action"] == "view"), "{views}");
    // …and the decisions are these two.
    let lines: Vec<&Value> = all.iter().filter(|l| l["action"] != "view").collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert_eq!((lines[0]["action"].as_str(), lines[0]["actor"].as_str()), (Some("reject"), Some("mona")));
    assert_eq!(lines[0]["block_similar"], true);
    assert_eq!((lines[1]["action"].as_str(), lines[1]["actor"].as_str()), (Some("hold"), None));

    // 8. Metrics: queue depth and decisions.
    let (_, pending) = mona.json("/v1/moderation/queue?limit=100").await;
    let depth = pending["items"].as_array().unwrap().len();
    let metrics = anon.http.get(anon.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(&format!("photostream_moderation_queue_depth {depth}")), "queue depth {depth}:\n{metrics}");
    assert!(metrics.contains("photostream_moderation_decisions_total{"), "decisions are counted");
    assert!(metrics.contains("photostream_moderation_oldest_pending_seconds"));
    server.stop().await;
}

/// Edits of title, description and tags go through the same checks as
/// uploads: a live photo edited to break a rule is held until a moderator
/// approves it, and approving restores it for everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_checked_like_uploads() {
    let server = TestServer::start_with(|c| c.moderation.text.hold_words = vec!["casino".into()]).await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let mona = anon.signed_up("mona").await;
    server.catalog().set_role(&Username::parse("mona").unwrap(), "moderator").await.unwrap();

    let photo = alice.upload_ok(png(64, 48, 3), "pier.png", Upload { title: Some("Pier at dusk".into()), ..Default::default() }).await;
    let id = photo["id"].as_str().unwrap().to_string();
    assert_eq!(settled(&alice, &id).await["status"], "ready");
    assert_eq!(bob.json(&format!("/v1/photos/{id}")).await.0, 200);

    // Each edit breaks a rule in one field and cleans the previous one
    // (every edit re-checks all the text, so a bad field left behind would
    // hold the next edit too).
    let edits = [
        json!({"title": "Pier at dusk, free c-a-s-i-n-o chips"}),
        json!({"title": "Pier at dusk", "description": "visit our CАSINO"}),
        json!({"description": "", "metadata": {"tags": ["pier", "casino"]}}),
    ];
    for (n, edit) in edits.iter().enumerate() {
        let r = alice.http.patch(alice.url(&format!("/v1/photos/{id}"))).bearer_auth(alice.token.as_ref().unwrap()).json(edit).send().await.unwrap();
        assert_eq!(r.status(), 200, "{edit}");
        let held = until("the edit to be held", async || {
            let (_, p) = alice.json(&format!("/v1/photos/{id}")).await;
            (p["status"] == "under_review").then_some(p)
        })
        .await;
        assert_eq!(held["status"], "under_review", "{edit}");
        assert_eq!(bob.json(&format!("/v1/photos/{id}")).await.0, 404, "held after {edit}");
        let (_, hits) = bob.json("/v1/search?q=pier").await;
        assert!(hits["items"].as_array().unwrap().is_empty(), "held photo in search: {hits}");

        let (_, queue) = mona.json("/v1/moderation/queue").await;
        let items = queue["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "one open item per photo: {queue}");
        assert_eq!(items[0]["photo"]["id"], id.as_str());
        assert!(items[0]["reasons"].to_string().contains("casino"), "{queue}");
        let item = items[0]["id"].as_str().unwrap().to_string();
        let r = decide(&mona, &item, json!({"action": "approve", "note": format!("edit {n} is fine")})).await;
        assert_eq!(r.status(), 200);
        assert_eq!(settled(&alice, &id).await["status"], "ready");
        assert_eq!(bob.json(&format!("/v1/photos/{id}")).await.0, 200, "approved after {edit}");
    }
    // An edit that breaks no rule leaves the photo alone.
    let r = alice.http.patch(alice.url(&format!("/v1/photos/{id}"))).bearer_auth(alice.token.as_ref().unwrap()).json(&json!({"title": "Pier", "metadata": {"tags": ["pier"]}})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(alice.json(&format!("/v1/photos/{id}")).await.1["status"], "ready");
    let (_, audit) = mona.json(&format!("/v1/moderation/audit?photo={id}")).await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "approve").count(), 3, "{audit}");
    server.stop().await;
}
