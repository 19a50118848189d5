//! Premium originals, the billing webhook and watermarked display
//! renditions, over HTTP against the real server (API.md "Premium, display
//! renditions and tiering"; docs/premium.md).

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use photostream_catalog::PremiumChange;
use photostream_tests::{assert_client_error, fixture, png, Api, TestServer, Upload};
use photostream_types::Username;
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "whsec_test_only_not_a_real_secret";

fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

/// The original's `/media/…` path (no query) from the owner's photo JSON.
fn media_path(photo: &Value) -> String {
    photo["urls"]["original"]
        .as_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

async fn status_of(api: &Api, path: &str) -> u16 {
    let r = api.get(path).send().await.unwrap();
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    status
}

/// What one caller gets: the original URL in the photo JSON (if any), and
/// the answers of `/v1/photos/{id}/original` and `/media/…/original/…`.
async fn originals_seen_by(api: &Api, id: &str, media: &str) -> (bool, u16, u16) {
    let (status, photo) = api.json(&format!("/v1/photos/{id}")).await;
    assert_eq!(status, 200, "{photo}");
    let has_url = photo["urls"]["original"].is_string();
    assert!(has_url || photo["urls"]["original"].is_null(), "{photo}");
    let original = api
        .get(&format!("/v1/photos/{id}/original"))
        .send()
        .await
        .unwrap();
    let original_status = original.status().as_u16();
    if original_status == 402 {
        assert_eq!(
            assert_client_error(original, 402, "original").await,
            "premium_required"
        );
    } else {
        let _ = original.bytes().await;
    }
    (has_url, original_status, status_of(api, media).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originals_are_for_owners_premium_members_and_reviewing_moderators() {
    let server = TestServer::start_with(|c| {
        c.premium.free_originals = false;
        c.moderation.text.hold_words = vec!["casino".into()];
    })
    .await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let pat = anon.signed_up("pat").await;
    let fred = anon.signed_up("fred").await;
    let mona = anon.signed_up("mona").await;
    server
        .catalog()
        .set_role(&user("mona"), "moderator")
        .await
        .unwrap();
    // What `photostream admin grant-premium pat --until … --by ops` runs.
    photostream_cli::premium_admin::grant(server.catalog(), "pat", Some("2099-12-31"), Some("ops"))
        .await
        .unwrap();

    let photo = alice
        .upload_ok(png(300, 200, 1), "lake.png", Upload::default())
        .await;
    let id = photo["id"].as_str().unwrap().to_string();
    let photo = alice.wait_ready(&id, Duration::from_secs(30)).await;
    let media = media_path(&photo);
    assert!(
        media.starts_with("/media/alice/") && media.contains("/original/"),
        "{media}"
    );

    // (caller, original URL in the JSON, /original, /media/…/original/…)
    for (who, api, expected) in [
        ("owner", &alice, (true, 200, 200)),
        ("premium", &pat, (true, 200, 200)),
        ("free user", &fred, (false, 402, 402)),
        ("anonymous", &anon, (false, 402, 402)),
        ("moderator, photo not in review", &mona, (false, 402, 402)),
    ] {
        assert_eq!(originals_seen_by(api, &id, &media).await, expected, "{who}");
        // Thumbnails and display renditions stay free.
        assert_eq!(
            status_of(api, &format!("/v1/photos/{id}/thumbnail")).await,
            200,
            "{who}"
        );
        assert_eq!(
            status_of(api, &format!("/v1/photos/{id}/display")).await,
            200,
            "{who}"
        );
    }
    // Listings follow the same rule.
    let (_, stream) = fred.json("/v1/users/alice/photos").await;
    assert!(stream["items"][0]["urls"]["original"].is_null(), "{stream}");
    let (_, stream) = pat.json("/v1/users/alice/photos").await;
    assert!(
        stream["items"][0]["urls"]["original"].is_string(),
        "{stream}"
    );

    // The premium member's URL is signed for them: it works as a plain link
    // (no bearer token), is never cached publicly, and stops when premium does.
    let (_, seen_by_pat) = pat.json(&format!("/v1/photos/{id}")).await;
    let signed = seen_by_pat["urls"]["original"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(signed.contains("sig="), "{signed}");
    let r = anon.get(&signed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private"),
        "{:?}",
        r.headers()
    );
    let _ = r.bytes().await;
    photostream_cli::premium_admin::revoke(server.catalog(), "pat", Some("ops"))
        .await
        .unwrap();
    assert_eq!(
        status_of(&anon, &signed).await,
        402,
        "a revoked member's signed URL"
    );
    let pat_id = server
        .catalog()
        .user_by_username(&user("pat"))
        .await
        .unwrap()
        .unwrap()
        .id;
    let trail = server
        .catalog()
        .premium_audit(Some(&pat_id), 10)
        .await
        .unwrap();
    let rows: Vec<(&str, &str, &str)> = trail
        .iter()
        .map(|e| (e.action.as_str(), e.source.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        rows,
        [("revoke", "admin", "ops"), ("grant", "admin", "ops")],
        "the admin commands are audited"
    );
    assert!(trail[1].until_ms.is_some());
    assert!(
        photostream_cli::premium_admin::grant(server.catalog(), "nobody-here", None, None)
            .await
            .is_err()
    );
    assert_eq!(
        status_of(&pat, &format!("/v1/photos/{id}/original")).await,
        402
    );

    // Expiry is decided at read time: a grant that ended is no grant.
    let past = photostream_types::now_ms() - 1_000;
    server
        .catalog()
        .set_premium(
            &user("pat"),
            PremiumChange::Grant {
                until_ms: Some(past),
            },
            "test",
        )
        .await
        .unwrap();
    assert_eq!(
        status_of(&pat, &format!("/v1/photos/{id}/original")).await,
        402,
        "lapsed premium"
    );
    let (_, me) = pat.json("/v1/me").await;
    assert_eq!(
        (me["premium"].as_bool(), me["premium_until"].is_null()),
        (Some(false), true),
        "{me}"
    );
    let future = photostream_types::now_ms() + 3_600_000;
    server
        .catalog()
        .set_premium(
            &user("pat"),
            PremiumChange::Grant {
                until_ms: Some(future),
            },
            "test",
        )
        .await
        .unwrap();
    let (_, me) = pat.json("/v1/me").await;
    assert_eq!(
        (me["username"].as_str(), me["premium"].as_bool()),
        (Some("pat"), Some(true)),
        "{me}"
    );
    assert!(
        me["premium_until"].as_str().unwrap().starts_with("20"),
        "{me}"
    );
    assert_eq!(
        status_of(&pat, &format!("/v1/photos/{id}/original")).await,
        200
    );

    // A moderator may fetch the original of a photo in front of them for review.
    let held = alice
        .upload_ok(
            png(120, 90, 2),
            "held.png",
            Upload {
                title: Some("casino night".into()),
                ..Default::default()
            },
        )
        .await;
    let held_id = held["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while alice.json(&format!("/v1/photos/{held_id}")).await.1["status"] != "under_review" {
        assert!(started.elapsed() < Duration::from_secs(30), "not held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, held) = alice.json(&format!("/v1/photos/{held_id}")).await;
    let held_media = media_path(&held);
    assert_eq!(
        originals_seen_by(&mona, &held_id, &held_media).await,
        (true, 200, 200),
        "moderator reviewing"
    );
    assert_eq!(
        status_of(&fred, &format!("/v1/photos/{held_id}/original")).await,
        404,
        "held: invisible to others"
    );

    // /v1/me for someone who never had premium; PATCH sets the watermark default.
    let (_, me) = fred.json("/v1/me").await;
    assert_eq!(
        me,
        json!({"username": "fred", "premium": false, "premium_until": null, "watermark_default": false})
    );
    let r = fred
        .http
        .patch(fred.url("/v1/me"))
        .bearer_auth(fred.token.as_deref().unwrap())
        .json(&json!({"watermark_default": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["watermark_default"], true);
    assert_eq!(status_of(&anon, "/v1/me").await, 401);

    // No webhook secret on this server: the webhook is off, and says so.
    let r = anon
        .post("/v1/billing/webhook")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_client_error(r, 404, "webhook without a secret").await,
        "webhook_disabled"
    );
    server.stop().await;
}

/// `t=<now>,v1=<hex HMAC-SHA256("<t>.<body>")>`.
fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(api: &Api, body: &str, header: Option<String>) -> reqwest::Response {
    let mut rb = api
        .http
        .post(api.url("/v1/billing/webhook"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(h) = header {
        rb = rb.header("Photostream-Signature", h);
    }
    rb.send().await.unwrap()
}

fn now_secs() -> i64 {
    photostream_types::now_ms() / 1000
}

async fn signed(api: &Api, body: &Value) -> reqwest::Response {
    let body = body.to_string();
    deliver(api, &body, Some(signature(SECRET, now_secs(), &body))).await
}

async fn premium_of(api: &Api) -> (bool, Value) {
    let (status, me) = api.json("/v1/me").await;
    assert_eq!(status, 200, "{me}");
    (
        me["premium"].as_bool().unwrap(),
        me["premium_until"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_billing_webhook_applies_signed_events_once() {
    let server = TestServer::start_with(|c| {
        c.premium.free_originals = false;
        c.billing.webhook_secret = SECRET.into();
    })
    .await;
    let anon = server.api();
    let bea = anon.signed_up("bea").await;
    assert!(!premium_of(&bea).await.0);

    // Refused before the body is trusted: no header, a wrong key, a body
    // other than the one signed, a stale or future timestamp, garbage.
    let activate = json!({"id": "evt_1", "type": "subscription.activated", "username": "bea", "until": "2099-01-01T00:00:00Z"});
    let body = activate.to_string();
    let t = now_secs();
    let tampered = body.replace("bea", "bob");
    for (what, body, header) in [
        ("no signature", body.clone(), None),
        (
            "wrong key",
            body.clone(),
            Some(signature("another secret", t, &body)),
        ),
        ("tampered body", tampered, Some(signature(SECRET, t, &body))),
        (
            "stale",
            body.clone(),
            Some(signature(SECRET, t - 301, &body)),
        ),
        (
            "from the future",
            body.clone(),
            Some(signature(SECRET, t + 301, &body)),
        ),
        ("malformed", body.clone(), Some("v1=abc".into())),
    ] {
        let r = deliver(&anon, &body, header).await;
        assert_eq!(
            assert_client_error(r, 400, what).await,
            "bad_signature",
            "{what}"
        );
    }
    assert!(
        !premium_of(&bea).await.0,
        "nothing refused changed anything"
    );

    // Applied once: a replay answers 200 and changes nothing, even after an
    // administrator changed the user in between.
    let r = signed(&anon, &activate).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "applied");
    assert_eq!(
        premium_of(&bea).await,
        (true, json!("2099-01-01T00:00:00.000Z"))
    );
    server
        .catalog()
        .set_premium(&user("bea"), PremiumChange::Revoke, "ops")
        .await
        .unwrap();
    let r = signed(&anon, &activate).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "duplicate");
    assert!(
        !premium_of(&bea).await.0,
        "a replayed event changes nothing"
    );

    // Unknown users are 404 (and the event is not consumed).
    let ghost = json!({"id": "evt_2", "type": "subscription.activated", "username": "nobody-here"});
    assert_eq!(
        assert_client_error(signed(&anon, &ghost).await, 404, "unknown user").await,
        "unknown_user"
    );

    // Activated without an end; then canceled at the end of a paid period
    // (premium until then), then canceled outright.
    let r = signed(
        &anon,
        &json!({"id": "evt_3", "type": "subscription.activated", "username": "bea"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(premium_of(&bea).await, (true, Value::Null));
    let period_end = now_secs() + 86_400;
    let r = signed(&anon, &json!({"id": "evt_4", "type": "subscription.canceled", "username": "bea", "until": period_end})).await;
    assert_eq!(r.status(), 200);
    let (premium, until) = premium_of(&bea).await;
    assert!(premium && until.is_string(), "{until}");
    let r = signed(
        &anon,
        &json!({"id": "evt_5", "type": "subscription.canceled", "username": "bea"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(premium_of(&bea).await, (false, Value::Null));

    // Other event types are acknowledged and ignored; malformed events are 400.
    let r = signed(
        &anon,
        &json!({"id": "evt_6", "type": "invoice.paid", "username": "bea"}),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ignored");
    let r = signed(&anon, &json!({"type": "subscription.activated"})).await;
    assert_eq!(assert_client_error(r, 400, "no id").await, "invalid_event");
    // Bodies are bounded.
    let huge = format!(
        r#"{{"id":"evt_7","type":"subscription.activated","username":"bea","pad":"{}"}}"#,
        "x".repeat(20_000)
    );
    let r = deliver(&anon, &huge, Some(signature(SECRET, now_secs(), &huge))).await;
    assert_eq!(r.status(), 413);

    // Every change is in the audit trail, with its source.
    let bea_id = server
        .catalog()
        .user_by_username(&user("bea"))
        .await
        .unwrap()
        .unwrap()
        .id;
    let trail = server
        .catalog()
        .premium_audit(Some(&bea_id), 20)
        .await
        .unwrap();
    let rows: Vec<(String, String, Option<String>)> = trail
        .iter()
        .rev()
        .map(|e| (e.action.clone(), e.source.clone(), e.event_id.clone()))
        .collect();
    let expected: Vec<(String, String, Option<String>)> = [
        ("grant", "webhook", Some("evt_1")),
        ("revoke", "admin", None),
        ("grant", "webhook", Some("evt_3")),
        ("grant", "webhook", Some("evt_4")),
        ("revoke", "webhook", Some("evt_5")),
    ]
    .into_iter()
    .map(|(a, s, e)| (a.to_string(), s.to_string(), e.map(str::to_string)))
    .collect();
    assert_eq!(rows, expected);
    assert_eq!(
        trail.iter().find(|e| e.source == "admin").unwrap().actor,
        "ops"
    );
    server.stop().await;
}

/// Fetches the display rendition once its URL says it matches `marked`.
async fn display_when(api: &Api, id: &str, marked: bool) -> (String, Vec<u8>) {
    let started = Instant::now();
    loop {
        let (_, photo) = api.json(&format!("/v1/photos/{id}")).await;
        if let Some(url) = photo["urls"]["display"].as_str() {
            if url.split('?').next().unwrap().ends_with("_display_wm.jpg") == marked {
                assert_eq!(photo["watermark"], marked, "{photo}");
                let r = api
                    .get(&format!("/v1/photos/{id}/display"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                return (url.to_string(), r.bytes().await.unwrap().to_vec());
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "display rendition (marked: {marked}) not made: {photo}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn set_watermark(api: &Api, id: &str, on: bool) {
    let r = api
        .http
        .patch(api.url(&format!("/v1/photos/{id}")))
        .bearer_auth(api.token.as_deref().unwrap())
        .json(&json!({"watermark": on}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["watermark"], on);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermarks_are_drawn_on_the_display_rendition_and_removable() {
    let server = TestServer::start().await;
    let anon = server.api();
    let wren = anon.signed_up("wren").await;
    let original = fixture("jpeg-exif-orient1-landscape.jpg");
    let photo = wren
        .upload_ok(original.clone(), "hills.jpg", Upload::default())
        .await;
    assert_eq!(
        photo["watermark"], false,
        "off unless the owner's default says otherwise"
    );
    let id = photo["id"].as_str().unwrap().to_string();
    wren.wait_ready(&id, Duration::from_secs(30)).await;
    let (plain_url, plain) = display_when(&wren, &id, false).await;

    // On: the display rendition carries the mark, under a URL of its own.
    set_watermark(&wren, &id, true).await;
    let (marked_url, marked) = display_when(&wren, &id, true).await;
    assert_ne!(plain_url, marked_url);
    let a = image::load_from_memory(&plain).unwrap().to_rgb8();
    let b = image::load_from_memory(&marked).unwrap().to_rgb8();
    assert_eq!(a.dimensions(), b.dimensions());
    let (w, h) = a.dimensions();
    let mark =
        photostream_media::Watermark::for_owner("wren", photostream_media::MarkStyle::default());
    let (mx, my, mw, mh) = photostream_media::watermark::mark_area(w, h, &mark);
    assert!(
        mx > w / 2 && my > h / 2,
        "bottom right by default: {mx},{my} on {w}x{h}"
    );
    let (mut inside, mut outside) = (0u32, 0u32);
    for (x, y, p) in a.enumerate_pixels() {
        let q = b.get_pixel(x, y);
        let differs = p.0.iter().zip(q.0.iter()).any(|(u, v)| u.abs_diff(*v) > 24);
        // JPEG works in 16 px blocks: blocks clear of the mark are untouched.
        let near = x + 16 >= mx && x < mx + mw + 16 && y + 16 >= my && y < my + mh + 16;
        match (differs, near) {
            (true, true) => inside += 1,
            (true, false) => outside += 1,
            _ => {}
        }
    }
    assert!(
        inside > 150,
        "the mark is visible: {inside} pixels changed in its area"
    );
    assert_eq!(outside, 0, "nothing changes away from the mark");
    // The thumbnail never carries it, and stays free.
    assert_eq!(
        status_of(&anon, &format!("/v1/photos/{id}/thumbnail")).await,
        200
    );

    // Off again: the display rendition is the unmarked one, byte for byte.
    set_watermark(&wren, &id, false).await;
    let (again_url, again) = display_when(&wren, &id, false).await;
    assert_eq!(again_url.split('?').next(), plain_url.split('?').next());
    assert_eq!(
        again, plain,
        "turning the mark off restores the unmarked rendition"
    );
    // The marked version's URL no longer serves anything.
    assert_eq!(
        status_of(&anon, marked_url.split('?').next().unwrap()).await,
        404
    );

    // Marked from the start: the upload field, and the owner's default.
    let photo = wren
        .upload_ok(
            original.clone(),
            "hills2.jpg",
            Upload {
                watermark: Some(true),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(photo["watermark"], true);
    let (_, first) = display_when(&wren, photo["id"].as_str().unwrap(), true).await;
    assert_eq!(
        first, marked,
        "the same picture, text and style give the same mark"
    );
    let r = wren
        .http
        .patch(wren.url("/v1/me"))
        .bearer_auth(wren.token.as_deref().unwrap())
        .json(&json!({"watermark_default": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let photo = wren
        .upload_ok(png(200, 100, 3), "by-default.png", Upload::default())
        .await;
    assert_eq!(photo["watermark"], true, "the owner's default applies");
    let photo = wren
        .upload_ok(
            png(200, 100, 4),
            "not-this.png",
            Upload {
                watermark: Some(false),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(photo["watermark"], false, "the upload's own choice wins");
    server.stop().await;
}
