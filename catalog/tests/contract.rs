//! One behavioural suite, run against every SQL backend: SQLite (a temp
//! file) and PostgreSQL (a fresh database per run on the local server,
//! `TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).
//! PostgreSQL being unreachable is a failure, not a skip.

use photostream_catalog::{
    AutoOutcome, BillingOutcome, Catalog, CatalogError, Direction, ListAccess, NewApiToken, NewPhoto, OutboxEntry, PhotoFilter,
    PhotoPatch, PremiumChange, Verdict,
};
use photostream_types::{AlbumName, EventId, PhotoId, PhotoMetadata, PhotoStatus, UserId, Username, Visibility};
use sqlx::Connection;

async fn fresh_postgres() -> String {
    photostream_testkit::fresh_postgres("photostream_test").await
}

fn new_photo(owner: &UserId, album: &photostream_types::AlbumId, stem: &str, viewers: Vec<UserId>) -> NewPhoto {
    NewPhoto {
        id: PhotoId::new(),
        owner_id: owner.clone(),
        album_id: album.clone(),
        title: format!("title {stem}"),
        description: String::new(),
        visibility: if viewers.is_empty() { Visibility::Public } else { Visibility::Shared },
        width: 40,
        height: 30,
        format: "png".into(),
        content_hash: "00".into(),
        byte_size: 10,
        file_name: format!("{stem}.png"),
        file_stem: stem.into(),
        original_key: format!("u/default/original/{stem}.png"),
        thumbnail_key: None,
        metadata: PhotoMetadata { tags: vec!["birds".into()], ..Default::default() },
        viewers,
        watermark: false,
    }
}

fn outbox() -> OutboxEntry {
    OutboxEntry::new(EventId::new(), "photos", "k", "{}".into())
}

async fn contract(c: Catalog) {
    c.ping().await.unwrap();
    let alice = c.create_user(&Username::parse("alice").unwrap(), "h").await.unwrap();
    let bob = c.create_user(&Username::parse("bob").unwrap(), "h").await.unwrap();
    assert!(matches!(
        c.create_user(&Username::parse("ALICE").unwrap(), "h").await,
        Err(CatalogError::Conflict(_))
    ));
    let default = c.album_by_name(&alice.id, &AlbumName::default_album()).await.unwrap().unwrap();
    let again = c.ensure_album(&alice.id, &AlbumName::default_album()).await.unwrap();
    assert_eq!(default.id, again.id);

    // Photos with their outbox rows, atomically.
    let mut ids = Vec::new();
    for i in 0..5 {
        let viewers = if i == 4 { vec![bob.id.clone()] } else { vec![] };
        let p = c.insert_photo(&new_photo(&alice.id, &default.id, &format!("p{i}"), viewers), &outbox()).await.unwrap();
        assert_eq!(p.status, PhotoStatus::Processing);
        ids.push(p.id);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(c.outbox_pending(100).await.unwrap().len(), 5);
    // A stem is unique within an album.
    let dup = new_photo(&alice.id, &default.id, "p0", vec![]);
    assert!(matches!(c.insert_photo(&dup, &outbox()).await, Err(CatalogError::Conflict(_))));
    assert_eq!(c.outbox_pending(100).await.unwrap().len(), 5, "a failed insert leaves no outbox row");
    let key = |album: &str, file: &str| photostream_types::ObjectKey::new("u", album, photostream_types::Resolution::Original, file);
    assert!(c.file_stem_taken(&alice.id, &default.id, "p0", &key("default", "p0.jpg")).await.unwrap());
    assert!(!c.file_stem_taken(&alice.id, &default.id, "p9", &key("default", "p9.png")).await.unwrap());
    // Moved to another album, a photo keeps its keys: its old album's
    // names stay taken (its renditions would be overwritten), the new
    // album's name as well; another album's are free.
    let elsewhere = c.ensure_album(&alice.id, &AlbumName::parse("elsewhere").unwrap()).await.unwrap();
    let patch = PhotoPatch { album_id: Some(elsewhere.id.clone()), ..Default::default() };
    c.update_photo(&ids[1], &patch, &outbox()).await.unwrap();
    assert!(c.file_stem_taken(&alice.id, &default.id, "p1", &key("default", "p1.jpg")).await.unwrap());
    assert!(c.file_stem_taken(&alice.id, &elsewhere.id, "p1", &key("elsewhere", "p1.png")).await.unwrap());
    assert!(!c.file_stem_taken(&bob.id, &default.id, "p1", &key("default", "p1.png")).await.unwrap(), "another owner's");
    let back = PhotoPatch { album_id: Some(default.id.clone()), ..Default::default() };
    c.update_photo(&ids[1], &back, &outbox()).await.unwrap();
    for e in c.outbox_pending(100).await.unwrap() {
        c.outbox_remove(&e.id).await.unwrap();
    }
    assert!(c.outbox_pending(100).await.unwrap().is_empty());

    // processing → ready once all three marks are set (thumbnail, search
    // document, moderation verdict), in any order, idempotently.
    let approve = |id: PhotoId| {
        let c = c.clone();
        async move {
            c.record_upload_moderation(&id, Some(7), AutoOutcome::Approve, &serde_json::json!([]), "", &outbox()).await.unwrap()
        }
    };
    for (i, id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            c.mark_thumbnail_done(id, &format!("u/default/thumbnail/p{i}_thumbnail.png")).await.unwrap();
            assert_eq!(c.photo(id).await.unwrap().unwrap().status, PhotoStatus::Processing);
            assert!(approve(id.clone()).await);
            assert_eq!(c.photo(id).await.unwrap().unwrap().status, PhotoStatus::Processing);
            c.mark_indexed(id).await.unwrap();
        } else {
            c.mark_indexed(id).await.unwrap();
            c.mark_thumbnail_done(id, &format!("u/default/thumbnail/p{i}_thumbnail.png")).await.unwrap();
            assert_eq!(c.photo(id).await.unwrap().unwrap().status, PhotoStatus::Processing, "not yet moderated");
            assert!(approve(id.clone()).await);
        }
        assert!(!approve(id.clone()).await, "moderated once");
        let ready = c.photo(id).await.unwrap().unwrap();
        assert_eq!(ready.status, PhotoStatus::Ready);
        let at = ready.ready_ms;
        c.mark_indexed(id).await.unwrap();
        assert_eq!(c.photo(id).await.unwrap().unwrap().ready_ms, at, "ready exactly once");
    }
    let by_key = c.photo_by_object_key("u/default/thumbnail/p1_thumbnail.png").await.unwrap().unwrap();
    assert_eq!(by_key.id, ids[1]);

    // Keyset pages, newest first, both directions, with access filters.
    let filter = PhotoFilter { owner: Some(alice.id.clone()), access: ListAccess::ReadyVisibleTo(None), ..Default::default() };
    let (page1, more) = c.list_photos(&filter, &Direction::First, 2).await.unwrap();
    assert!(more);
    assert_eq!(page1.iter().map(|p| &p.id).collect::<Vec<_>>(), vec![&ids[3], &ids[2]], "shared photo hidden from anonymous");
    let (page2, _) = c.list_photos(&filter, &Direction::After(page1[1].keyset()), 2).await.unwrap();
    assert_eq!(page2.iter().map(|p| &p.id).collect::<Vec<_>>(), vec![&ids[1], &ids[0]]);
    let (back, _) = c.list_photos(&filter, &Direction::Before(page2[0].keyset()), 2).await.unwrap();
    assert_eq!(back.iter().map(|p| &p.id).collect::<Vec<_>>(), vec![&ids[3], &ids[2]]);
    let as_bob = PhotoFilter { access: ListAccess::ReadyVisibleTo(Some(bob.id.clone())), ..filter.clone() };
    assert_eq!(c.list_photos(&as_bob, &Direction::First, 10).await.unwrap().0.len(), 5);
    let tagged = PhotoFilter { tag: Some("birds".into()), ..Default::default() };
    assert_eq!(c.list_photos(&tagged, &Direction::First, 10).await.unwrap().0.len(), 5);

    // Several by id, in the order asked, unknown ids left out.
    let wanted = vec![ids[3].clone(), PhotoId::new(), ids[0].clone(), ids[2].clone()];
    let got = c.photos_by_ids(&wanted).await.unwrap();
    assert_eq!(got.iter().map(|p| &p.id).collect::<Vec<_>>(), vec![&ids[3], &ids[0], &ids[2]]);
    assert!(c.photos_by_ids(&[]).await.unwrap().is_empty());

    // Viewers, edits and deletion bump the ACL version.
    assert_eq!(c.viewers(&ids[4]).await.unwrap().len(), 1);
    let v0 = c.photo(&ids[4]).await.unwrap().unwrap().acl_version;
    c.set_viewers(&ids[4], &[], &outbox()).await.unwrap();
    assert!(c.viewers(&ids[4]).await.unwrap().is_empty());
    assert_eq!(c.list_photos(&as_bob, &Direction::First, 10).await.unwrap().0.len(), 4);
    let edited = c
        .update_photo(
            &ids[0],
            &PhotoPatch {
                title: Some("renamed".into()),
                visibility: Some(Visibility::Private),
                metadata: Some(PhotoMetadata { tags: vec!["fish".into()], license: Some("cc0".into()), ..Default::default() }),
                ..Default::default()
            },
            &outbox(),
        )
        .await
        .unwrap();
    assert_eq!((edited.title.as_str(), edited.visibility), ("renamed", Visibility::Private));
    assert_eq!(edited.metadata.tags, vec!["fish"]);
    assert_eq!(edited.acl_version, 1);
    assert_eq!(c.list_photos(&tagged, &Direction::First, 10).await.unwrap().0.len(), 4);
    assert!(c.photo(&ids[4]).await.unwrap().unwrap().acl_version > v0);
    c.delete_photo(&ids[1], &outbox()).await.unwrap();
    assert!(matches!(c.delete_photo(&ids[1], &outbox()).await, Err(CatalogError::NotFound)));
    assert!(c.photo(&ids[1]).await.unwrap().unwrap().deleted_ms.is_some());
    assert!(!c.object_key_in_use("u/default/original/p1.png").await.unwrap());
    assert!(c.object_key_in_use("u/default/original/p2.png").await.unwrap());
    assert_eq!(c.photo_count().await.unwrap(), 4);

    // Albums, roles, tokens.
    let summer = c.create_album(&alice.id, &AlbumName::parse("summer").unwrap(), "Summer", "", Visibility::Private).await.unwrap();
    assert!(matches!(
        c.create_album(&alice.id, &AlbumName::parse("summer").unwrap(), "x", "", Visibility::Public).await,
        Err(CatalogError::Conflict(_))
    ));
    let summer = c.update_album(&summer.id, Some("Summer!"), None, Some(Visibility::Shared)).await.unwrap();
    assert_eq!((summer.title.as_str(), summer.default_visibility), ("Summer!", Visibility::Shared));
    assert_eq!(c.albums(&alice.id).await.unwrap().len(), 3, "default, elsewhere and summer");
    assert!(c.set_role(&Username::parse("bob").unwrap(), "moderator").await.unwrap());
    assert_eq!(c.user_by_id(&bob.id).await.unwrap().unwrap().role, "moderator");
    let t = c
        .create_api_token(&NewApiToken {
            id: "t1".into(),
            user_id: alice.id.clone(),
            name: "script".into(),
            token_hash: "abc".into(),
            scopes: vec!["read".into(), "download".into()],
        })
        .await
        .unwrap();
    assert_eq!(c.api_token_by_hash("abc").await.unwrap().unwrap().scopes, t.scopes);
    assert!(!c.revoke_api_token(&bob.id, "t1").await.unwrap(), "only the owner revokes");
    assert!(c.revoke_api_token(&alice.id, "t1").await.unwrap());
    assert!(c.api_token_by_hash("abc").await.unwrap().is_none());

    // Social: comments, favorites, follows, notifications, the feed.
    let p = &ids[2];
    let c1 = c.add_comment("c1", p, &bob.id, "nice", &outbox()).await.unwrap();
    c.add_comment("c2", p, &alice.id, "thanks", &outbox()).await.unwrap();
    assert_eq!(c.comment_count(p).await.unwrap(), 2);
    let (page, more) = c.list_comments(p, &Direction::First, 1).await.unwrap();
    assert!(more);
    assert_eq!(page[0].id, "c2");
    let (older, _) = c.list_comments(p, &Direction::After(page[0].keyset()), 5).await.unwrap();
    assert_eq!(older[0].id, c1.id);
    assert_eq!(c.commenters(p).await.unwrap().len(), 2);
    assert!(c.delete_comment("c1").await.unwrap());
    assert!(c.comment("c1").await.unwrap().is_none());
    assert!(c.add_favorite(&bob.id, p, &outbox()).await.unwrap());
    assert!(!c.add_favorite(&bob.id, p, &outbox()).await.unwrap(), "idempotent");
    assert_eq!(c.favorite_count(p).await.unwrap(), 1);
    assert_eq!(c.list_favorites(&bob.id, &Direction::First, 10).await.unwrap().0[0].1.id, *p);
    assert!(c.follow(&bob.id, &alice.id, &outbox()).await.unwrap());
    assert!(!c.follow(&bob.id, &alice.id, &outbox()).await.unwrap());
    assert_eq!(c.follower_ids(&alice.id, None, 10).await.unwrap(), vec![bob.id.clone()]);
    assert_eq!(c.list_follows(&alice.id, true, &Direction::First, 10).await.unwrap().0[0].user_id, bob.id);
    assert_eq!(c.list_follows(&bob.id, false, &Direction::First, 10).await.unwrap().0[0].user_id, alice.id);
    // Sessions: live until revoked or expired; a password change ends all
    // but the one kept.
    let s1 = c.create_session(&bob.id, photostream_types::now_ms() + 60_000).await.unwrap();
    let s2 = c.create_session(&bob.id, photostream_types::now_ms() + 60_000).await.unwrap();
    let s3 = c.create_session(&bob.id, photostream_types::now_ms() + 60_000).await.unwrap();
    let old = c.create_session(&bob.id, photostream_types::now_ms() - 1).await.unwrap();
    assert_eq!(c.live_session_user(&s1, &bob.id).await.unwrap().unwrap().id, bob.id);
    assert!(c.live_session_user(&s1, &alice.id).await.unwrap().is_none(), "a session is its user's only");
    assert!(c.live_session_user(&old, &bob.id).await.unwrap().is_none(), "expired");
    assert!(c.revoke_session(&bob.id, &s1).await.unwrap());
    assert!(!c.revoke_session(&bob.id, &s1).await.unwrap(), "once");
    assert!(c.live_session_user(&s1, &bob.id).await.unwrap().is_none(), "logged out");
    c.change_password(&bob.id, "new-hash", Some(&s2)).await.unwrap();
    let kept = c.live_session_user(&s2, &bob.id).await.unwrap().expect("the session that changed it stays");
    assert_eq!(kept.password_hash, "new-hash");
    assert!(kept.password_changed_ms > 0);
    assert!(c.live_session_user(&s3, &bob.id).await.unwrap().is_none(), "the others end");
    assert_eq!(c.delete_expired_sessions().await.unwrap(), 0, "expired less than a day ago: kept for now");
    let feed = PhotoFilter { feed_of: Some(bob.id.clone()), access: ListAccess::OwnOrVisibleTo(bob.id.clone()), ..Default::default() };
    let (items, _) = c.list_photos(&feed, &Direction::First, 10).await.unwrap();
    assert_eq!(items.len(), 2, "p2 and p3: p0 is private, p1 deleted, p4 shared with nobody");
    // Page by page, both ways: the same photos in the same order.
    let (first, more) = c.list_photos(&feed, &Direction::First, 1).await.unwrap();
    assert!(more);
    let (second, more) = c.list_photos(&feed, &Direction::After(first[0].keyset()), 1).await.unwrap();
    assert_eq!((&first[0].id, &second[0].id, more), (&items[0].id, &items[1].id, false));
    let (back, more) = c.list_photos(&feed, &Direction::Before(second[0].keyset()), 1).await.unwrap();
    assert_eq!((&back[0].id, more), (&items[0].id, false));
    c.unfollow(&bob.id, &alice.id).await.unwrap();
    assert!(c.list_photos(&feed, &Direction::First, 10).await.unwrap().0.is_empty());
    let n = photostream_catalog::NewNotification {
        user_id: alice.id.clone(),
        kind: "comment",
        actor_id: bob.id.clone(),
        photo_id: Some(p.clone()),
        comment_id: Some("c1".into()),
        source: "event-1".into(),
        created_ms: 1,
        note: None,
    };
    assert!(c.add_notification(&n).await.unwrap());
    assert!(!c.add_notification(&n).await.unwrap(), "one per recipient per event");
    let (list, _) = c.list_notifications(&alice.id, &Direction::First, 10).await.unwrap();
    assert_eq!((list.len(), list[0].read), (1, false));
    // A fan-out batch: several statements in one commit, the one already
    // there skipped, and a redelivered batch adds nothing.
    let per = photostream_catalog::NOTIFICATION_ROWS_PER_STATEMENT;
    let mut batch: Vec<_> = (0..per * 2 + 7)
        .map(|i| photostream_catalog::NewNotification { source: format!("fanout-{i}"), created_ms: 2, ..n.clone() })
        .collect();
    batch.push(n.clone());
    assert_eq!(c.add_notifications(&batch).await.unwrap(), (per * 2 + 7) as u64);
    assert_eq!(c.add_notifications(&batch).await.unwrap(), 0, "redelivered batch");
    assert_eq!(c.add_notifications(&[]).await.unwrap(), 0);
    let (page, more) = c.list_notifications(&alice.id, &Direction::First, 100).await.unwrap();
    assert!(more && page.len() == 100);
    let (all, more) = c.list_notifications(&alice.id, &Direction::First, 1000).await.unwrap();
    assert_eq!((all.len(), more), (per * 2 + 8, false));
    c.mark_notifications_read(&alice.id, None).await.unwrap();
    assert!(c.list_notifications(&alice.id, &Direction::First, 10).await.unwrap().0[0].read);

    // Groups, explore candidates, owner totals.
    let g = c.create_group("g1", "Birders", "", &alice.id).await.unwrap();
    c.join_group(&g.id, &bob.id).await.unwrap();
    c.join_group(&g.id, &bob.id).await.unwrap();
    assert_eq!(c.member_count(&g.id).await.unwrap(), 2);
    c.add_group_photo(&g.id, &ids[2], &alice.id).await.unwrap();
    c.add_group_photo(&g.id, &ids[3], &bob.id).await.unwrap();
    assert_eq!(c.list_group_photos(&g.id, &Direction::First, 10).await.unwrap().0.len(), 2);
    c.leave_group(&g.id, &bob.id).await.unwrap();
    assert!(!c.is_member(&g.id, &bob.id).await.unwrap());
    assert_eq!(c.list_group_photos(&g.id, &Direction::First, 10).await.unwrap().0.len(), 1);
    assert_eq!(c.recent_public_photos(10).await.unwrap().len(), 2);
    assert_eq!(c.recent_favorite_counts(0).await.unwrap().get(p), Some(&1));
    assert!(c.following_ids(&bob.id).await.unwrap().is_empty());
    let totals = c.owner_totals(&alice.id).await.unwrap();
    assert_eq!((totals.photos, totals.favorites, totals.comments), (4, 1, 1));

    moderation(&c, &alice, &bob, &default.id).await;
    tiering(&c).await;
    premium(&c, &alice, &bob, &default.id).await;
}

/// Storage tiers: the work list, compare-and-set moves, read records,
/// totals, and the uploader's look-up by content hash.
async fn tiering(c: &Catalog) {
    use photostream_types::StorageTier;
    let dora = c
        .create_user(&Username::parse("dora").unwrap(), "h")
        .await
        .unwrap();
    let dora_album = c
        .ensure_album(&dora.id, &AlbumName::default_album())
        .await
        .unwrap()
        .id;
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut p = new_photo(&dora.id, &dora_album, &format!("t{i}"), vec![]);
        p.content_hash = format!("{i:064x}");
        p.byte_size = 100 + i;
        p.original_key = format!("dora/default/original/t{i}.png");
        ids.push(c.insert_photo(&p, &outbox()).await.unwrap().id);
    }
    let fresh = c.photo(&ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (fresh.storage_tier, fresh.original_read_ms),
        (StorageTier::Hot, None)
    );
    let future = photostream_types::now_ms() + 1000;
    let mine = |ws: Vec<photostream_catalog::Photo>| {
        ws.into_iter()
            .filter(|p| ids.contains(&p.id))
            .map(|p| p.id)
            .collect::<Vec<_>>()
    };
    // Photos still processing stay hot.
    assert!(mine(c.tier_work_after(future, None, 100).await.unwrap()).is_empty());
    for id in &ids {
        c.mark_thumbnail_done(id, &format!("dora/default/thumbnail/{id}.png"))
            .await
            .unwrap();
        c.mark_indexed(id).await.unwrap();
        c.record_upload_moderation(
            id,
            None,
            AutoOutcome::Approve,
            &serde_json::json!([]),
            "",
            &outbox(),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        mine(c.tier_work_after(future, None, 100).await.unwrap()),
        ids
    );
    assert!(
        mine(c.tier_work_after(0, None, 100).await.unwrap()).is_empty(),
        "uploaded after the cut-off"
    );
    // A read within the hour is recorded once.
    let now = photostream_types::now_ms();
    assert!(c.record_original_read(&ids[1], now).await.unwrap());
    assert!(!c.record_original_read(&ids[1], now + 1000).await.unwrap());
    assert!(c
        .record_original_read(
            &ids[1],
            now + photostream_catalog::READ_RECORD_GRANULARITY_MS + 1
        )
        .await
        .unwrap());
    assert_eq!(
        mine(c.tier_work_after(now + 10, None, 100).await.unwrap()),
        vec![ids[0].clone(), ids[2].clone()]
    );
    // Compare-and-set moves; half-done moves are always work.
    assert!(c
        .set_storage_tier(&ids[0], StorageTier::Hot, StorageTier::ColdLeavingHot)
        .await
        .unwrap());
    assert!(!c
        .set_storage_tier(&ids[0], StorageTier::Hot, StorageTier::ColdLeavingHot)
        .await
        .unwrap());
    assert_eq!(
        mine(c.tier_work_after(0, None, 100).await.unwrap()),
        vec![ids[0].clone()]
    );
    assert!(c
        .set_storage_tier(&ids[0], StorageTier::ColdLeavingHot, StorageTier::Cold)
        .await
        .unwrap());
    assert!(mine(c.tier_work_after(0, None, 100).await.unwrap()).is_empty());
    assert_eq!(
        mine(c.tier_work_after(future, Some(&ids[0]), 100).await.unwrap()),
        vec![ids[2].clone()]
    );
    let cold = c
        .tier_totals()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.tier == StorageTier::Cold)
        .unwrap();
    assert_eq!((cold.objects, cold.bytes), (1, 100));
    // The uploader's question: is this content already mine?
    let hash = format!("{:064x}", 2);
    assert_eq!(
        c.photos_with_content_hash(&dora.id, &hash)
            .await
            .unwrap()
            .len(),
        1
    );
    let other = c
        .user_by_username(&Username::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(c
        .photos_with_content_hash(&other.id, &hash)
        .await
        .unwrap()
        .is_empty());
}

/// Premium grants, expiry at read time, billing events applied once, the
/// audit trail, and the watermark flags.
async fn premium(c: &Catalog, alice: &photostream_catalog::User, bob: &photostream_catalog::User, album: &photostream_types::AlbumId) {
    let now = photostream_types::now_ms();
    assert!(!alice.is_premium_at(now), "nobody starts premium");
    let granted = c.set_premium(&alice.username, PremiumChange::Grant { until_ms: None }, "ops").await.unwrap();
    assert!(granted.is_premium_at(now) && granted.is_premium_at(i64::MAX - 1));
    let lapsing = c.set_premium(&alice.username, PremiumChange::Grant { until_ms: Some(now + 60_000) }, "ops").await.unwrap();
    assert!(lapsing.is_premium_at(now) && !lapsing.is_premium_at(now + 60_000), "expiry is decided at read time");
    let revoked = c.set_premium(&alice.username, PremiumChange::Revoke, "ops").await.unwrap();
    assert!(!revoked.is_premium_at(now) && revoked.premium_until_ms.is_none());
    let ghost = Username::parse("nobody-here").unwrap();
    assert!(matches!(c.set_premium(&ghost, PremiumChange::Revoke, "ops").await, Err(CatalogError::NotFound)));

    // A billing event applies once; its id is remembered with the change.
    let until = Some(now + 30 * 86_400_000);
    let first = c.apply_billing_event("evt_1", "subscription.activated", &bob.username, PremiumChange::Grant { until_ms: until }).await.unwrap();
    let BillingOutcome::Applied(user) = first else { panic!("first delivery applies") };
    assert_eq!(user.premium_until_ms, until);
    let again = c.apply_billing_event("evt_1", "subscription.canceled", &bob.username, PremiumChange::Revoke).await.unwrap();
    assert!(matches!(again, BillingOutcome::AlreadyApplied));
    assert!(c.user_by_id(&bob.id).await.unwrap().unwrap().is_premium_at(now), "a replay changes nothing");
    assert!(matches!(
        c.apply_billing_event("evt_2", "subscription.activated", &ghost, PremiumChange::Revoke).await,
        Err(CatalogError::NotFound)
    ));
    c.apply_billing_event("evt_2", "subscription.canceled", &bob.username, PremiumChange::Revoke).await.unwrap();
    assert!(!c.user_by_id(&bob.id).await.unwrap().unwrap().is_premium_at(now));

    let trail = c.premium_audit(Some(&alice.id), 10).await.unwrap();
    let actions: Vec<(&str, &str, &str)> = trail.iter().map(|e| (e.action.as_str(), e.source.as_str(), e.actor.as_str())).collect();
    assert_eq!(actions, [("revoke", "admin", "ops"), ("grant", "admin", "ops"), ("grant", "admin", "ops")]);
    let everyone = c.premium_audit(None, 10).await.unwrap();
    assert_eq!(everyone.len(), 5);
    assert_eq!(everyone[0].event_id.as_deref(), Some("evt_2"));
    assert_eq!((everyone[0].username.as_str(), everyone[0].action.as_str()), ("bob", "revoke"));

    // Watermarks: the owner's default, and the photo's own flag.
    assert!(c.set_watermark_default(&alice.id, true).await.unwrap().watermark_default);
    let mut marked = new_photo(&alice.id, album, "marked", vec![]);
    marked.watermark = true;
    let p = c.insert_photo(&marked, &outbox()).await.unwrap();
    assert!(p.watermark);
    let off = c.update_photo(&p.id, &PhotoPatch { watermark: Some(false), ..Default::default() }, &outbox()).await.unwrap();
    assert!(!off.watermark);
}

/// The review queue: holds, reports collapsing, decisions, audit, blocklist.
async fn moderation(c: &Catalog, alice: &photostream_catalog::User, bob: &photostream_catalog::User, album: &photostream_types::AlbumId) {
    let carol = c.create_user(&Username::parse("carol").unwrap(), "h").await.unwrap();
    let mona = c.create_user(&Username::parse("mona").unwrap(), "h").await.unwrap();
    let findings = serde_json::json!([{"check": "text", "score": 0.6, "reason": "title: held word \"casino\""}]);
    // A held upload: hidden, one pending item, audited; a redelivery changes nothing.
    let held = c.insert_photo(&new_photo(&alice.id, album, "m0", vec![]), &outbox()).await.unwrap();
    assert!(c.record_upload_moderation(&held.id, Some(0xFF), AutoOutcome::Hold, &findings, "casino", &outbox()).await.unwrap());
    assert!(!c.record_upload_moderation(&held.id, Some(0xFF), AutoOutcome::Hold, &findings, "casino", &outbox()).await.unwrap());
    let p = c.photo(&held.id).await.unwrap().unwrap();
    assert_eq!((p.status, p.phash, p.moderated), (PhotoStatus::UnderReview, Some(0xFF), true));
    assert!(p.acl_version > held.acl_version, "holding revokes signed URLs");
    let (queue, _) = c.moderation_queue("pending", &Direction::First, 10).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(c.queue_stats().await.unwrap().pending, 1);
    // Reports of a ready photo collapse per reporter and hide it at the threshold.
    let reported = c.insert_photo(&new_photo(&alice.id, album, "m1", vec![]), &outbox()).await.unwrap();
    c.mark_indexed(&reported.id).await.unwrap();
    c.mark_thumbnail_done(&reported.id, "u/default/thumbnail/m1_thumbnail.png").await.unwrap();
    c.record_upload_moderation(&reported.id, None, AutoOutcome::Approve, &serde_json::json!([]), "", &outbox()).await.unwrap();
    assert_eq!(c.photo(&reported.id).await.unwrap().unwrap().status, PhotoStatus::Ready);
    let r1 = c.report_photo(&reported.id, &bob.id, "spam", 1000, 2, &outbox()).await.unwrap();
    let r2 = c.report_photo(&reported.id, &bob.id, "spam!", 1000, 2, &outbox()).await.unwrap();
    assert_eq!((r1.count, r2.count, r2.hid, &r1.item_id), (1, 1, false, &r2.item_id));
    let r3 = c.report_photo(&reported.id, &carol.id, "spam", 1000, 2, &outbox()).await.unwrap();
    assert_eq!((r3.count, r3.hid, &r3.item_id), (2, true, &r1.item_id));
    assert_eq!(c.photo(&reported.id).await.unwrap().unwrap().status, PhotoStatus::UnderReview);
    let (queue, more) = c.moderation_queue("pending", &Direction::First, 1).await.unwrap();
    assert_eq!((queue[0].photo_id.clone(), more), (held.id.clone(), true), "oldest first");
    let (next, _) = c.moderation_queue("pending", &Direction::After(queue[0].keyset()), 1).await.unwrap();
    assert_eq!((next[0].photo_id.clone(), next[0].report_count), (reported.id.clone(), 2));
    // Approve restores; reject hides, notifies the owner, blocks the hash.
    c.decide(&r1.item_id, &mona.id, Verdict::Approve, Some("fine"), None, &outbox()).await.unwrap();
    // The reporters' track record: one report dismissed each.
    let (_, upheld, dismissed) = c.reporter_record(&bob.id).await.unwrap();
    assert_eq!((upheld, dismissed), (0, 1));
    assert_eq!(r3.weight_milli, 2000);
    assert_eq!(c.photo(&reported.id).await.unwrap().unwrap().status, PhotoStatus::Ready);
    let item = c.decide(&queue[0].id, &mona.id, Verdict::Reject, Some("no gambling"), Some(0xFF), &outbox()).await.unwrap();
    assert_eq!((item.status.as_str(), item.decided_by.as_ref()), ("rejected", Some(&mona.id)));
    assert_eq!(c.photo(&held.id).await.unwrap().unwrap().status, PhotoStatus::Rejected);
    assert_eq!(c.queue_stats().await.unwrap(), photostream_catalog::QueueStats::default());
    let blocked = c.blocklist_since(0).await.unwrap();
    assert_eq!((blocked.len(), blocked[0].hash, blocked[0].blocked), (1, 0xFF, true));
    let since = blocked[0].changed_ms;
    let (notes, _) = c.list_notifications(&alice.id, &Direction::First, 10).await.unwrap();
    let notice = notes.iter().find(|n| n.kind == "photo_rejected").expect("owner notified");
    assert_eq!(notice.note.as_deref(), Some("no gambling"));
    // Reversing the rejection lifts the block: a tombstone, seen as a change.
    let reversed = c.decide(&queue[0].id, &mona.id, Verdict::Approve, Some("on second thought"), None, &outbox()).await.unwrap();
    assert_eq!(reversed.status.as_str(), "approved");
    let changes = c.blocklist_since(since).await.unwrap();
    assert_eq!((changes.len(), changes[0].hash, changes[0].blocked), (1, 0xFF, false));
    let (audit, _) = c.moderation_audit(Some(&held.id), None, &Direction::First, 10).await.unwrap();
    let actions: Vec<(&str, Option<String>)> = audit.iter().map(|a| (a.action.as_str(), a.actor.as_ref().map(|u| u.to_string()))).collect();
    assert_eq!(actions, vec![("approve", Some("mona".to_string())), ("reject", Some("mona".to_string())), ("hold", None)]);
    assert!(c.last_decision_ms(&held.id).await.unwrap().is_some());
    // An automatic rejection: closed at once, owner notified.
    let bad = c.insert_photo(&new_photo(&alice.id, album, "m2", vec![]), &outbox()).await.unwrap();
    c.record_upload_moderation(&bad.id, Some(0xFF), AutoOutcome::Reject, &findings, "copy", &outbox()).await.unwrap();
    assert_eq!(c.photo(&bad.id).await.unwrap().unwrap().status, PhotoStatus::Rejected);
    // (The first rejection was reversed above: only this one is rejected.)
    assert_eq!(c.moderation_queue("rejected", &Direction::First, 10).await.unwrap().0.len(), 1);
    // Comments: held ones leave listings until approved.
    let cid = "mc1";
    c.add_comment(cid, &reported.id, &bob.id, "c a s i n o", &outbox()).await.unwrap();
    assert!(c.record_comment_moderation(&reported.id, cid, AutoOutcome::Hold, &findings, "casino").await.unwrap());
    assert!(!c.record_comment_moderation(&reported.id, cid, AutoOutcome::Hold, &findings, "casino").await.unwrap());
    let listed = c.list_comments(&reported.id, &Direction::First, 10).await.unwrap().0;
    assert!(!listed.iter().any(|x| x.id == cid), "held comments are not listed");
    let (q, _) = c.moderation_queue("pending", &Direction::First, 10).await.unwrap();
    assert_eq!(q[0].comment_id.as_deref(), Some(cid));
    c.decide(&q[0].id, &mona.id, Verdict::Approve, None, None, &outbox()).await.unwrap();
    let listed = c.list_comments(&reported.id, &Direction::First, 10).await.unwrap().0;
    assert!(listed.iter().any(|x| x.id == cid), "approved comments are");
}

#[tokio::test]
async fn sqlite_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    contract(Catalog::connect(&url).await.unwrap()).await;
    // Reopening applies no migration twice.
    Catalog::connect(&url).await.unwrap().ping().await.unwrap();
}

#[tokio::test]
async fn postgres_meets_the_contract() {
    let url = fresh_postgres().await;
    contract(Catalog::connect(&url).await.unwrap()).await;
    Catalog::connect(&url).await.unwrap().ping().await.unwrap();
    println!("catalog contract: ran against PostgreSQL at {url}");
}

/// On a PostgreSQL server with autovacuum off (the CI machine's), the
/// catalog analyses the tables that changed, so the planner has statistics
/// for a catalog that grew from empty; with autovacuum on it leaves that to
/// the server.
#[tokio::test]
async fn postgres_planner_statistics_are_kept_current() {
    let url = fresh_postgres().await;
    let c = Catalog::connect(&url).await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')").fetch_one(&mut conn).await.unwrap();
    let alice = c.create_user(&Username::parse("alice").unwrap(), "hash").await.unwrap();
    let album = c.ensure_album(&alice.id, &AlbumName::parse("a").unwrap()).await.unwrap();
    for i in 0..120 {
        c.insert_photo(&new_photo(&alice.id, &album.id, &format!("s{i}"), vec![]), &outbox()).await.unwrap();
    }
    // A backend that goes idle publishes its table counters within
    // PostgreSQL's idle-flush interval (10 s in 15): wait up to three times
    // that (the pass that once waited 10 s in all failed at that edge).
    let mut analysed = Vec::new();
    for _ in 0..120 {
        analysed = c.refresh_statistics().await.unwrap();
        if autovacuum != "off" || analysed.iter().any(|t| t == "photos") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    if autovacuum == "off" {
        assert!(analysed.iter().any(|t| t == "photos"), "photos changed by 120 rows: {analysed:?}");
        let stats: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stats WHERE tablename = 'photos'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(stats > 0, "the planner has statistics for photos");
        assert!(!c.refresh_statistics().await.unwrap().iter().any(|t| t == "photos"), "nothing changed since");
    } else {
        assert!(analysed.is_empty(), "autovacuum is on: the server keeps statistics itself");
    }
    println!("planner statistics: autovacuum {autovacuum}, analysed {analysed:?}");
}

/// The migrations the catalog embeds, read again here to build catalogs as
/// the old runner left them and to compare checksums.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

async fn raw(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let url = if url.starts_with("sqlite:") { format!("{url}?mode=rwc") } else { url.to_string() };
    sqlx::AnyConnection::connect(&url).await.unwrap()
}

async fn recorded(url: &str) -> Vec<(i64, Vec<u8>)> {
    sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut raw(url).await)
        .await
        .unwrap()
}

fn embedded() -> Vec<(i64, Vec<u8>)> {
    MIGRATIONS.iter().map(|m| (m.version, m.checksum.to_vec())).collect()
}

/// Fresh catalogs get every migration, two starting at once included; one
/// made by the old runner (versions in `schema_migrations`, no
/// `_sqlx_migrations`) upgrades and keeps its rows; an edited released
/// migration (its recorded checksum differs) is refused. `fresh` makes a new
/// empty database and returns its URL.
async fn migrations_contract<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let url = fresh().await;
    let (a, b) = tokio::join!(Catalog::connect(&url), Catalog::connect(&url));
    a.unwrap().close().await;
    b.unwrap().close().await;
    assert_eq!(recorded(&url).await, embedded(), "a fresh catalog records every migration");

    // A catalog the old runner brought to version 5, with a user in it.
    let old = fresh().await;
    let mut conn = raw(&old).await;
    sqlx::query("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    for m in MIGRATIONS.iter().take(5) {
        sqlx::raw_sql(&m.sql).execute(&mut conn).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, 0)")
            .bind(m.version)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO users (id, username, password_hash, created_ms) VALUES ($1, 'olduser', 'h', 0)")
        .bind(UserId::new().as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let c = Catalog::connect(&old).await.unwrap();
    let user = c.user_by_username(&Username::parse("olduser").unwrap()).await.unwrap().unwrap();
    assert!(!user.premium, "migration 10's column, added on upgrade");
    c.close().await;
    assert_eq!(recorded(&old).await, embedded(), "adopted 1–5 with the files' checksums, applied 6–11");
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations").fetch_one(&mut raw(&old).await).await.unwrap();
    assert_eq!(kept, 5, "the old table is left as it was");
    Catalog::connect(&old).await.unwrap().close().await;

    // Editing released migration 3 is refused.
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 3")
        .bind(vec![0u8; 48])
        .execute(&mut raw(&url).await)
        .await
        .unwrap();
    match Catalog::connect(&url).await {
        Err(CatalogError::Migrate(sqlx::migrate::MigrateError::VersionMismatch(3))) => {}
        Err(e) => panic!("expected a checksum mismatch on version 3, got {e}"),
        Ok(_) => panic!("an edited released migration was accepted"),
    }
}

#[tokio::test]
async fn sqlite_migrations_meet_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let dir = &dir;
    let n = &n;
    migrations_contract(|| async move {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("sqlite://{}", dir.path().join(format!("m{i}.db")).display())
    })
    .await;
}

#[tokio::test]
async fn postgres_migrations_meet_the_contract() {
    migrations_contract(fresh_postgres).await;
}
