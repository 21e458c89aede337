//! The sign-in flood: many clients send wrong sign-ins while a signed-in
//! viewer loads the Jobs page; measures that page.

use super::serve::{client, load_demo, InProcessConsole};
use super::{load, percentile, round, BenchArgs, ResultLine};
use crate::server::db::Database;
use crate::server::demo_data;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The sign-in flood: the console served in-process on a free port, the
/// demo data loaded, one viewer signed in.
pub(super) async fn login_flood(
    db: &Database,
    args: &BenchArgs,
) -> Result<ResultLine, sqlx::Error> {
    load_demo(db).await?;
    let console = InProcessConsole::start(db).await?;
    let viewer = client([127, 0, 0, 1].into());
    let cookie = console
        .sign_in(
            &viewer,
            "viewer@northwind.example",
            demo_data::DEFAULT_DEMO_PASSWORD,
        )
        .await?;
    let page = |viewer: reqwest::Client, cookie: String| {
        let console = &console;
        async move {
            let (ms, status, _) = console.load(&viewer, &cookie, "/jobs").await;
            (ms, status)
        }
    };
    let mut baseline = Vec::new();
    for _ in 0..30 {
        baseline.push(page(viewer.clone(), cookie.clone()).await.0);
    }
    baseline.sort_by(|a, b| a.total_cmp(b));

    let until = Instant::now() + Duration::from_secs(args.duration);
    let answers = Arc::new(Mutex::new(HashMap::<u16, usize>::new()));
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..args.n {
        // each client its own address, so the per-address lockout does not
        // simply turn the flood away: this measures the bounded hashing
        let from = std::net::IpAddr::from([127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8]);
        let (flooder, base, answers) = (client(from), console.base.clone(), answers.clone());
        flood.spawn(async move {
            let mut attempt = 0usize;
            while Instant::now() < until {
                attempt += 1;
                let status = flooder
                    .post(format!("{base}/api/login"))
                    .header("accept", "application/json")
                    .form(&[
                        ("email", format!("guess{i}-{attempt}@flood.example")),
                        ("password", "wrong".to_string()),
                    ])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                *answers
                    .lock()
                    .expect("answers lock")
                    .entry(status)
                    .or_default() += 1;
            }
        });
    }
    let mut during = Vec::new();
    let mut page_errors = 0usize;
    while Instant::now() < until {
        let (ms, status) = page(viewer.clone(), cookie.clone()).await;
        if status != 200 {
            page_errors += 1;
        }
        during.push(ms);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while flood.join_next().await.is_some() {}
    during.sort_by(|a, b| a.total_cmp(b));
    let answers = answers.lock().expect("answers lock").clone();
    let mut answers: Vec<(u16, usize)> = answers.into_iter().collect();
    answers.sort();
    let sign_ins: usize = answers.iter().map(|(_, n)| n).sum();
    let notes = format!(
        "{} clients (one loopback address each) sending wrong sign-ins for {}s; jobs_per_s = sign-in answers per second; p50..max = a signed-in viewer's GET /jobs during the flood ({} loads, {page_errors} not 200); before the flood p50 {:?} ms, max {:?} ms; sign-in answers by status {answers:?}; {}",
        args.n,
        args.duration,
        during.len(),
        percentile(&baseline, 0.5),
        baseline.last().copied().map(round),
        load()
    );
    Ok(ResultLine::throughput(
        "login-flood",
        args.n,
        Some(args.n),
        sign_ins as f64 / args.duration.max(1) as f64,
        notes,
    )
    .with_times(&during))
}
