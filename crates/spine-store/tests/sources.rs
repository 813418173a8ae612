//! The sources repositories on SQLite and (when `SPINE_TEST_POSTGRES_URL` is set) PostgreSQL:
//! configured sources, conditional-fetch validators per partition, and rate-limit slots shared
//! by two store handles on the same database (two workers).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, SubsecRound, TimeZone, Utc};
use serde_json::json;
use spine_model::{Domain, PartitionKey, Tier};
use spine_store::Store;
use spine_store::sources::{self, Inserted, NewSource, Validators};
use spine_store::test_support::for_each_backend;

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, 0, 0).unwrap()
}

fn finra() -> Domain {
    Domain::parse(Domain::FINRA_OTC).unwrap()
}

fn calendar() -> Domain {
    Domain::parse(Domain::EXCHANGE_CALENDAR).unwrap()
}

fn new_source(name: &str, domain: Domain, kind: &str) -> NewSource {
    NewSource {
        name: name.to_string(),
        domain,
        kind: kind.to_string(),
        settings: json!({"url_template": "http://127.0.0.1:9/${TIER}.psv"}),
        since: NaiveDate::from_ymd_opt(2025, 11, 28),
        active: true,
    }
}

#[tokio::test]
async fn sources_are_unique_by_name_listed_by_domain_and_removed_with_their_state() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let Inserted::Added(a) = sources::insert(
            conn,
            new_source("finra-files", finra(), "url-template"),
            t(9),
        )
        .await
        .unwrap() else {
            panic!("first insert adds")
        };
        assert_eq!(a.name, "finra-files");
        assert_eq!(a.domain, Domain::FINRA_OTC);
        assert_eq!(a.kind, "url-template");
        assert_eq!(a.since, NaiveDate::from_ymd_opt(2025, 11, 28));
        assert!(a.active);
        assert_eq!(
            a.settings_json,
            json!({"url_template": "http://127.0.0.1:9/${TIER}.psv"})
        );

        // The same name again writes nothing and says which source holds it.
        let mut other = new_source("finra-files", calendar(), "url-template");
        other.settings = json!({"url_template": "/drop/other"});
        match sources::insert(conn, other, t(10)).await.unwrap() {
            Inserted::NameTaken(existing) => assert_eq!(existing, a),
            Inserted::Added(s) => panic!("a duplicate name was stored: {s:?}"),
        }
        assert_eq!(sources::list(conn, None, false).await.unwrap().len(), 1);

        let mut api = new_source("finra-api", finra(), "finra-api");
        api.settings = json!({"client_id_env": "FINRA_ID", "client_secret_env": "FINRA_SECRET"});
        api.active = false;
        sources::insert(conn, api, t(10)).await.unwrap();
        sources::insert(
            conn,
            new_source("xnys-files", calendar(), "url-template"),
            t(10),
        )
        .await
        .unwrap();

        let names = |v: Vec<sources::Source>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(
            names(sources::list(conn, None, false).await.unwrap()),
            ["finra-api", "finra-files", "xnys-files"]
        );
        assert_eq!(
            names(sources::list(conn, Some(&finra()), false).await.unwrap()),
            ["finra-api", "finra-files"]
        );
        assert_eq!(
            names(sources::list(conn, Some(&finra()), true).await.unwrap()),
            ["finra-files"],
            "an inactive source is not listed as active"
        );
        assert!(
            sources::insert(
                conn,
                NewSource {
                    settings: json!(["not", "an", "object"]),
                    ..new_source("bad", finra(), "url-template")
                },
                t(10),
            )
            .await
            .is_err()
        );

        let partition =
            PartitionKey::week_tier(NaiveDate::from_ymd_opt(2025, 12, 19).unwrap(), Tier::Otc);
        sources::record_fetch_state(conn, a.id, &partition, &Validators::default(), t(11))
            .await
            .unwrap();
        let removed = sources::remove(conn, "finra-files").await.unwrap();
        assert_eq!(removed.map(|s| s.id), Some(a.id));
        assert!(
            sources::by_name(conn, "finra-files")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            sources::fetch_state(conn, a.id, &partition)
                .await
                .unwrap()
                .is_none(),
            "the removed source's fetch state goes with it"
        );
        assert!(
            sources::remove(conn, "finra-files")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn fetch_state_is_replaced_per_partition_and_touched_when_unchanged() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let week = NaiveDate::from_ymd_opt(2025, 12, 19).unwrap();
        let otc = PartitionKey::week_tier(week, Tier::Otc);
        let t1 = PartitionKey::week_tier(week, Tier::NmsTier1);
        assert!(sources::fetch_state(conn, 7, &otc).await.unwrap().is_none());
        assert!(
            !sources::touch_fetch_state(conn, 7, &otc, t(9))
                .await
                .unwrap(),
            "nothing to touch before a first fetch"
        );

        let first = Validators {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Mon, 22 Dec 2025 10:00:00 GMT".into()),
            last_update_date: NaiveDate::from_ymd_opt(2025, 12, 22),
            content_hash: Some("a".repeat(64)),
        };
        sources::record_fetch_state(conn, 7, &otc, &first, t(9))
            .await
            .unwrap();
        sources::record_fetch_state(conn, 7, &t1, &Validators::default(), t(9))
            .await
            .unwrap();
        let second = Validators {
            etag: None,
            last_modified: None,
            last_update_date: NaiveDate::from_ymd_opt(2025, 12, 29),
            content_hash: Some("b".repeat(64)),
        };
        sources::record_fetch_state(conn, 7, &otc, &second, t(12))
            .await
            .unwrap();
        let stored = sources::fetch_state(conn, 7, &otc).await.unwrap().unwrap();
        assert_eq!(stored.etag, None);
        assert_eq!(stored.last_modified, None);
        assert_eq!(stored.last_update_date, second.last_update_date);
        assert_eq!(stored.content_hash, second.content_hash);
        assert_eq!(stored.checked_at, t(12));
        assert_eq!(stored.partition_key, otc.canonical());

        assert!(
            sources::touch_fetch_state(conn, 7, &otc, t(15))
                .await
                .unwrap()
        );
        let touched = sources::fetch_state(conn, 7, &otc).await.unwrap().unwrap();
        assert_eq!(touched.checked_at, t(15));
        assert_eq!(
            touched.content_hash, second.content_hash,
            "only the clock moves"
        );
        let other = sources::fetch_state(conn, 7, &t1).await.unwrap().unwrap();
        assert_eq!(other.checked_at, t(9), "another partition is untouched");
        assert!(sources::fetch_state(conn, 8, &otc).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn rate_slots_are_spaced_and_shared_by_two_store_handles() {
    for_each_backend(|db| async move {
        // A second pool on the same database: another worker process, as far as the database
        // can tell.
        let other = Store::connect(&db.cli_url).await.expect("second handle");
        let interval = Duration::from_millis(100);
        let now = Utc::now().trunc_subsecs(6);

        // Sequential reservations at one instant are spaced by the interval.
        let a = sources::reserve_slot(db.store.conn(), "test http://a", interval, now)
            .await
            .unwrap();
        let b = sources::reserve_slot(other.conn(), "test http://a", interval, now)
            .await
            .unwrap();
        assert_eq!(a, now);
        assert_eq!(b - a, chrono::Duration::milliseconds(100));
        // Another key has its own budget.
        let c = sources::reserve_slot(other.conn(), "test http://b", interval, now)
            .await
            .unwrap();
        assert_eq!(c, now);
        // A key idle past its next slot starts again at the caller's time.
        let later = now + chrono::Duration::seconds(5);
        let d = sources::reserve_slot(db.store.conn(), "test http://a", interval, later)
            .await
            .unwrap();
        assert_eq!(d, later);

        // Twenty concurrent reservations from both handles: twenty distinct slots, each at
        // least the interval after the one before.
        let key = "test http://shared";
        let start = Utc::now().trunc_subsecs(6);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = if i % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move {
                    sources::reserve_slot(store.conn(), key, Duration::from_millis(100), start)
                        .await
                        .expect("reserve")
                })
            })
            .collect();
        let mut slots = Vec::new();
        for task in tasks {
            slots.push(task.await.unwrap());
        }
        slots.sort();
        assert_eq!(slots[0], start);
        for pair in slots.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                chrono::Duration::milliseconds(100),
                "{slots:?}"
            );
        }
        other.close().await.unwrap();
    })
    .await;
}
