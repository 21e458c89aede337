//! The database cost of live viewers: jobs run at `rate` per second while
//! `n` signed-in viewers watch the Jobs tab over the websocket as a browser
//! tab does — they say which page they show and receive it pushed when it
//! changes. Measures what the database does per second, so runs with 1 and
//! with 100 viewers can be compared.

use super::serve::{client, failed, load_demo, InProcessConsole};
use super::{bench_worker_config, load, noop_job, round, BenchArgs, ResultLine};
use crate::domain::JobType;
use crate::server::db::Database;
use crate::server::demo_data;
use crate::server::queue::{self, Outcome};
use crate::server::worker::{FnHandler, Registry, Worker};
use futures_util::StreamExt;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Who watches: an organization's viewer (one session shared by every
/// simulated tab; each request reads it as a tab's would).
const VIEWER: &str = "viewer@northwind.example";

/// Most simulated tabs (each holds a socket and a task).
const MAX_VIEWERS: usize = 1000;

/// Seconds of load before the measured window (sockets open, worker warm).
const WARMUP: Duration = Duration::from_secs(3);

/// The viewers' benchmark: the console served in-process (hub, live feed
/// listener and all), the demo data loaded, a worker running no-op jobs.
pub(super) async fn viewers(db: &Database, args: &BenchArgs) -> Result<ResultLine, sqlx::Error> {
    if !(1..=MAX_VIEWERS).contains(&args.n) {
        return Err(failed(
            "viewers",
            &format!("--n is the number of viewers here: 1 to {MAX_VIEWERS}"),
        ));
    }
    load_demo(db).await?;
    let organization: Uuid =
        sqlx::query_scalar("select id from organizations where slug = 'northwind-lending'")
            .fetch_one(&db.worker)
            .await?;
    let console = InProcessConsole::start(db).await?;
    let http = client([127, 0, 0, 1].into());
    let cookie = console
        .sign_in(&http, VIEWER, demo_data::DEFAULT_DEMO_PASSWORD)
        .await?;
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(|_ctx| async { Outcome::Completed(None) }),
    );
    let worker = Worker::start(db.clone(), registry, bench_worker_config(args)).await?;

    let stop = CancellationToken::new();
    let gaps = Arc::new(Mutex::new(Vec::<f64>::new()));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tabs = tokio::task::JoinSet::new();
    for _ in 0..args.n {
        let socket = open_socket(&console.base, &cookie).await?;
        let tab = Tab {
            gaps: gaps.clone(),
            measuring: measuring.clone(),
        };
        tabs.spawn(tab.watch(socket, stop.clone()));
    }

    let producer = tokio::spawn(produce(db.clone(), organization, args.rate, stop.clone()));
    tokio::time::sleep(WARMUP).await;
    let before = activity(db).await?;
    let pages_read_before = console.hub.pages_read();
    measuring.store(true, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let after = activity(db).await?;
    let pages_read = console.hub.pages_read() - pages_read_before;
    let seconds = started.elapsed().as_secs_f64();
    measuring.store(false, std::sync::atomic::Ordering::Relaxed);
    stop.cancel();
    let enqueued = producer.await.unwrap_or(Ok(0))?;
    while tabs.join_next().await.is_some() {}
    worker.shutdown().await;

    let mut gaps = std::mem::take(&mut *gaps.lock().expect("gaps lock"));
    gaps.sort_by(|a, b| a.total_cmp(b));
    let per_second = |count: i64| round(count as f64 / seconds);
    let notes = format!(
            "{} viewers (websocket, Jobs tab's first page pushed) of one organization while jobs are enqueued at {}/s and run ({enqueued} enqueued); over {seconds:.1}s the database committed {} transactions/s and read {} rows/s; the hub read {} pages/s and the viewers received {} pages/s (p50..max = time between one viewer's pages); {}",
            args.n,
            args.rate,
            per_second(after.transactions - before.transactions),
            per_second(after.rows_read - before.rows_read),
            round(pages_read as f64 / seconds),
            round(gaps.len() as f64 / seconds),
            load()
        );
    Ok(ResultLine::throughput(
        "viewers",
        args.n,
        Some(args.concurrency),
        (after.completed - before.completed) as f64 / seconds,
        notes,
    )
    .at_rate(args.rate)
    .with_times(&gaps))
}

/// Live viewers of another workload (`bench --viewers`): the console served
/// in-process with its hub and feed listener, and a bank admin's tabs on
/// the Jobs tab's first page, receiving what is pushed.
pub(super) struct Watchers {
    console: InProcessConsole,
    stop: CancellationToken,
    tabs: tokio::task::JoinSet<()>,
    pages: Arc<Mutex<Vec<f64>>>,
    viewers: usize,
}

impl Watchers {
    /// Signs a bank admin in and opens `viewers` tabs.
    pub(super) async fn start(db: &Database, viewers: usize) -> Result<Watchers, sqlx::Error> {
        const EMAIL: &str = "bench.viewer@veriphy.example";
        let password = crate::server::auth::password::generate();
        let hash = crate::server::auth::password::hash(&password);
        let mut tx = db.begin(crate::server::db::Scope::bank()).await?;
        crate::server::repo::users::insert(
            &mut tx,
            &crate::server::repo::users::NewUser {
                email: EMAIL,
                full_name: "Benchmark viewer",
                role: crate::domain::Role::BankAdmin,
                organization_id: None,
                password_hash: &hash,
                must_change_password: false,
            },
        )
        .await?;
        tx.commit().await?;
        let console = InProcessConsole::start(db).await?;
        let cookie = console
            .sign_in(&client([127, 0, 0, 1].into()), EMAIL, &password)
            .await?;
        let stop = CancellationToken::new();
        let pages = Arc::new(Mutex::new(Vec::new()));
        let measuring = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mut tabs = tokio::task::JoinSet::new();
        for _ in 0..viewers {
            let socket = open_socket(&console.base, &cookie).await?;
            let tab = Tab {
                gaps: pages.clone(),
                measuring: measuring.clone(),
            };
            tabs.spawn(tab.watch(socket, stop.clone()));
        }
        Ok(Watchers {
            console,
            stop,
            tabs,
            pages,
            viewers,
        })
    }

    /// Closes the tabs; what they received, for the result's notes.
    pub(super) async fn stop(mut self) -> String {
        self.stop.cancel();
        while self.tabs.join_next().await.is_some() {}
        let later_pages = self.pages.lock().expect("pages lock").len();
        format!(
            "{} live viewers connected (bank admin, Jobs tab pushed): the hub read {} pages; the tabs received {later_pages} after their first",
            self.viewers,
            self.console.hub.pages_read()
        )
    }
}

/// One simulated browser tab on the Jobs tab.
struct Tab {
    gaps: Arc<Mutex<Vec<f64>>>,
    measuring: Arc<std::sync::atomic::AtomicBool>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Tab {
    /// Receives what the server sends and notes the time between pushed
    /// pages (what a person sees as the list's refresh rate).
    async fn watch(self, mut socket: Socket, stop: CancellationToken) {
        let mut last_page: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) if text.starts_with('{') => {
                        let now = Instant::now();
                        if let (Some(last), true) = (last_page, self.measuring.load(std::sync::atomic::Ordering::Relaxed)) {
                            let ms = now.duration_since(last).as_secs_f64() * 1000.0;
                            self.gaps.lock().expect("gaps lock").push(ms);
                        }
                        last_page = Some(now);
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                },
            }
        }
    }
}

/// A viewer's websocket on the Jobs topic, showing the Jobs tab's first page.
async fn open_socket(base: &str, cookie: &str) -> Result<Socket, sqlx::Error> {
    use futures_util::SinkExt;
    let url = format!("{}/ws?topics=jobs", base.replacen("http", "ws", 1));
    let mut request = url
        .into_client_request()
        .map_err(|e| failed("websocket request", &e))?;
    request.headers_mut().insert(
        "cookie",
        cookie.parse().map_err(|e| failed("cookie header", &e))?,
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| failed("websocket", &e))?;
    let wanted = json!({ "topics": ["jobs"], "view": { "list": "jobs", "query": {} } });
    socket
        .send(Message::Text(wanted.to_string().into()))
        .await
        .map_err(|e| failed("websocket", &e))?;
    Ok(socket)
}

/// Enqueues `rate` jobs per second (a statement every 10 ms) until stopped;
/// returns how many.
async fn produce(
    db: Database,
    organization: Uuid,
    rate: u32,
    stop: CancellationToken,
) -> Result<usize, sqlx::Error> {
    let per_tick = (rate as usize).div_ceil(100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut conn = db.worker.acquire().await?;
    let mut enqueued = 0;
    while !stop.is_cancelled() {
        tick.tick().await;
        let jobs: Vec<_> = (0..per_tick)
            .map(|i| noop_job(organization, json!({ "i": enqueued + i })))
            .collect();
        queue::enqueue_many(&mut conn, &jobs).await?;
        enqueued += per_tick;
    }
    Ok(enqueued)
}

/// What the database has done so far (this database's counters).
struct Activity {
    transactions: i64,
    rows_read: i64,
    completed: i64,
}

async fn activity(db: &Database) -> Result<Activity, sqlx::Error> {
    // the statistics collector reports with a short delay: ask it to flush
    let (transactions, rows_read): (i64, i64) = sqlx::query_as(
        "select (xact_commit + xact_rollback)::bigint, (tup_returned + tup_fetched)::bigint
         from pg_stat_database where datname = current_database()",
    )
    .fetch_one(&db.worker)
    .await?;
    let completed: i64 =
        sqlx::query_scalar("select coalesce(sum(completed), 0)::bigint from job_stats")
            .fetch_one(&db.worker)
            .await?;
    Ok(Activity {
        transactions,
        rows_read,
        completed,
    })
}
