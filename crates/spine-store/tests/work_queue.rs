//! The work queue on SQLite and (when configured) PostgreSQL: claims, leases and takeovers,
//! settling only by the holder, operator retry and cancel, attempts, and many claimers at once.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use spine_model::{AttemptOutcome, Domain, PartitionKey, Tier, WorkItemState, WorkKind};
use spine_store::test_support::for_each_backend;
use spine_store::work_attempts::{self, AttemptEnd, NewAttempt};
use spine_store::work_items::{self, NewWorkItem, Settle, WorkFilter};

fn t(h: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap() + Duration::hours(h)
}

fn item(week: NaiveDate, tier: Tier, max_attempts: i32) -> NewWorkItem {
    NewWorkItem {
        domain: Domain::parse(Domain::FINRA_OTC).unwrap(),
        pipeline: "finra_otc.ingest".into(),
        kind: WorkKind::Fetch,
        partition: PartitionKey::week_tier(week, tier),
        params: None,
        desired_at: t(1),
        priority: 100,
        max_attempts,
    }
}

fn week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 19).unwrap()
}

#[tokio::test]
async fn claims_leases_takeovers_and_settling_by_the_holder_only() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let (a, created) = work_items::enqueue(conn, item(week(), Tier::Otc, 3), t(0))
            .await
            .unwrap();
        assert!(created);
        let (b, created) = work_items::enqueue(conn, item(week(), Tier::Otc, 3), t(0))
            .await
            .unwrap();
        assert_eq!(
            (a.id, created),
            (b.id, false),
            "enqueueing twice keeps one item"
        );
        // A revision check of the same partition is another item.
        let mut check = item(week(), Tier::Otc, 3);
        check.kind = WorkKind::RevisionCheck;
        check.desired_at = t(100);
        let (c, _) = work_items::enqueue(conn, check, t(0)).await.unwrap();
        assert_ne!(c.id, a.id);

        let wall = t(1000);
        assert!(
            work_items::claim_next(conn, "w1", t(0), wall, wall + Duration::seconds(30))
                .await
                .unwrap()
                .is_none(),
            "not due yet"
        );
        let claimed = work_items::claim_next(conn, "w1", t(1), wall, wall + Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.item.id, a.id);
        assert_eq!(claimed.item.state, "RUNNING");
        assert_eq!(claimed.item.attempt_count, 1);
        assert_eq!(claimed.took_over_from, None);
        assert!(
            work_items::claim_next(conn, "w2", t(1), wall, wall + Duration::seconds(30))
                .await
                .unwrap()
                .is_none(),
            "a held lease is not claimable"
        );
        assert!(
            work_items::renew_lease(conn, a.id, "w1", wall + Duration::seconds(60))
                .await
                .unwrap()
        );

        // w1 goes silent; once its lease expires, w2 takes the item over.
        let later = wall + Duration::seconds(61);
        let taken = work_items::claim_next(conn, "w2", t(1), later, later + Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(taken.item.id, a.id);
        assert_eq!(taken.took_over_from.as_deref(), Some("w1"));
        assert_eq!(taken.item.attempt_count, 2);
        // w1 comes back: it holds nothing any more and can change nothing.
        assert!(
            !work_items::renew_lease(conn, a.id, "w1", later + Duration::seconds(60))
                .await
                .unwrap()
        );
        assert!(
            work_items::settle(
                conn,
                a.id,
                "w1",
                Settle::Complete { execution_id: None },
                t(2)
            )
            .await
            .unwrap()
            .is_none()
        );
        let retry = work_items::settle(
            conn,
            a.id,
            "w2",
            Settle::Retry {
                error: "HTTP 404".into(),
                next_attempt_at: t(3),
            },
            t(2),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(retry.state, "RETRY_WAIT");
        assert_eq!(retry.next_attempt_at, Some(t(3)));
        assert_eq!(retry.locked_by, None);
        assert!(
            work_items::claim_next(conn, "w1", t(2), later, later)
                .await
                .unwrap()
                .is_none(),
            "backing off"
        );
        let third = work_items::claim_next(conn, "w1", t(3), later, later + Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(third.item.attempt_count, 3);
        // A stopping worker releases the item without spending an attempt.
        let released = work_items::settle(conn, a.id, "w1", Settle::Release, t(3))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (released.state.as_str(), released.attempt_count),
            ("PENDING", 2)
        );
        work_items::claim_next(conn, "w1", t(3), later, later + Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        let failed = work_items::settle(
            conn,
            a.id,
            "w1",
            Settle::Fail {
                error: "HTTP 403".into(),
            },
            t(4),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(failed.state, "FAILED");
        assert_eq!(failed.last_error.as_deref(), Some("HTTP 403"));

        // Operators: retry a failed item (fresh budget), refuse to retry a pending one, cancel.
        let again = work_items::retry(conn, a.id, t(5)).await.unwrap();
        assert_eq!((again.state.as_str(), again.attempt_count), ("PENDING", 0));
        assert!(work_items::retry(conn, a.id, t(5)).await.is_err());
        assert!(
            work_items::cancel(conn, a.id, " ", t(5)).await.is_err(),
            "a reason is needed"
        );
        let cancelled = work_items::cancel(conn, a.id, "source retired", t(5))
            .await
            .unwrap();
        assert_eq!(cancelled.state, "CANCELLED");
        assert_eq!(cancelled.cancel_reason.as_deref(), Some("source retired"));
        assert!(
            work_items::claim_next(conn, "w1", t(6), later, later)
                .await
                .unwrap()
                .is_none(),
            "a cancelled item is never claimed (and the revision check is not due)"
        );

        // A completed revision check comes round again.
        let check =
            work_items::claim_next(conn, "w1", t(100), later, later + Duration::seconds(30))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(check.item.kind, "REVISION_CHECK");
        work_items::settle(
            conn,
            check.item.id,
            "w1",
            Settle::Complete { execution_id: None },
            t(100),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(
            work_items::reschedule(conn, check.item.id, t(124), t(100))
                .await
                .unwrap()
        );
        assert!(
            !work_items::reschedule(conn, a.id, t(124), t(100))
                .await
                .unwrap(),
            "only complete items are rescheduled"
        );

        let open = work_items::list(
            conn,
            &WorkFilter {
                state: Some(WorkItemState::Pending),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(open.len(), 1);
        let counts = work_items::counts(conn).await.unwrap();
        assert!(counts.contains(&(Domain::FINRA_OTC.to_string(), "CANCELLED".to_string(), 1)));

        // Attempts: every try with how it ended.
        let id = work_attempts::start(
            conn,
            NewAttempt {
                work_item_id: a.id,
                attempt: 1,
                worker_id: "w2".into(),
                started_at: t(1),
                took_over_from: Some("w1".into()),
            },
        )
        .await
        .unwrap();
        work_attempts::finish(
            conn,
            id,
            AttemptOutcome::Retry,
            AttemptEnd {
                error: Some("HTTP 404".into()),
                http_status: Some(404),
                next_attempt_at: Some(t(3)),
                ..Default::default()
            },
            t(2),
        )
        .await
        .unwrap();
        let history = work_attempts::of_item(conn, a.id).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].outcome, "RETRY");
        assert_eq!(history[0].http_status, Some(404));
        let totals = work_attempts::totals(conn).await.unwrap();
        assert_eq!(totals.takeovers, 1);
        assert_eq!(totals.by_outcome, vec![("RETRY".to_string(), 1)]);
    })
    .await;
}

#[tokio::test]
async fn many_claimers_at_once_never_share_an_item() {
    for_each_backend(|db| async move {
        let weeks: Vec<NaiveDate> = (0..10).map(|i| week() - Duration::weeks(i)).collect();
        for w in &weeks {
            for tier in Tier::ALL {
                work_items::enqueue(db.store.conn(), item(*w, *tier, 3), t(0))
                    .await
                    .unwrap();
            }
        }
        let wall = Utc::now();
        let claimers: Vec<_> = (0..6)
            .map(|i| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    let worker = format!("w{i}");
                    let mut mine = Vec::new();
                    while let Some(c) = work_items::claim_next(
                        store.conn(),
                        &worker,
                        t(2),
                        wall,
                        wall + Duration::seconds(60),
                    )
                    .await
                    .unwrap()
                    {
                        mine.push(c.item.id);
                        work_items::settle(
                            store.conn(),
                            c.item.id,
                            &worker,
                            Settle::Complete { execution_id: None },
                            t(2),
                        )
                        .await
                        .unwrap()
                        .expect("the claimer still holds it");
                    }
                    mine
                })
            })
            .collect();
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await.unwrap());
        }
        let distinct: BTreeSet<_> = all.iter().collect();
        assert_eq!(all.len(), 30, "{}: every item once", db.backend);
        assert_eq!(distinct.len(), 30, "{}: no item twice", db.backend);
    })
    .await;
}
