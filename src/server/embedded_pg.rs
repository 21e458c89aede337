//! The "embedded default": a private PostgreSQL cluster under the data
//! directory, made from the machine's PostgreSQL binaries, started with the
//! server and stopped with it.
//!
//! Layout of the data directory:
//! - `veriphy.lock`   held (flock) by the one process using the directory
//! - `pg/`            the cluster (PGDATA)
//! - `run/`           its Unix socket (no TCP listener at all)
//! - `superuser.password`  generated at initdb, mode 0600
//! - `postgres.log`   the server's own log
//!
//! PostgreSQL refuses to run as root. When we are root, the cluster belongs to
//! the `postgres` system user and the server process is started as that user.
//! That user must be able to reach the cluster: when a parent of the data
//! directory is private (root's usual clone under `/root`), everything but the
//! lock lives in `/var/lib/veriphy-jobs/<hash of the data directory>` instead
//! (owned by `postgres`, mode 0700), and `cluster-location` in the data
//! directory names it, so `make clean-data` removes both.
//! The server is a child of a dedicated supervisor thread and gets SIGINT (a
//! clean "fast" shutdown) if that thread ends, so a killed Veriphy process never
//! leaves an orphaned PostgreSQL behind for long.

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Name of the superuser and of the application database in the cluster.
pub const CLUSTER_USER: &str = "veriphy";
/// The database the application uses inside the embedded cluster.
pub const APP_DATABASE: &str = "veriphy";

/// Why the embedded cluster could not be used; each renders as one line.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPgError {
    /// Another process holds the data directory.
    #[error("another Veriphy Jobs process{pid} is already using the data directory {dir}; stop it, or give this one its own VERIPHY_DATA_DIR")]
    InUse {
        /// The directory.
        dir: String,
        /// " (pid N)" when known.
        pid: String,
    },
    /// No PostgreSQL server binaries on this machine.
    #[error("PostgreSQL server binaries (initdb, postgres) were not found; install PostgreSQL (Debian: apt-get install postgresql), set VERIPHY_PG_BINDIR, or set DATABASE_URL to use an existing server")]
    NotInstalled,
    /// Running as root without a `postgres` user to own the cluster.
    #[error("running as root, the embedded PostgreSQL must run as the 'postgres' system user, which does not exist; install PostgreSQL (it creates that user) or set DATABASE_URL")]
    NoPostgresUser,
    /// A file-system step failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// initdb or the server itself failed; the message quotes its log.
    #[error("{0}")]
    Server(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedPgError {
    let context = context.into();
    move |source| EmbeddedPgError::Io { context, source }
}

/// The OS identity the cluster runs as.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// A running embedded cluster. Stop it with [`EmbeddedPostgres::stop`]; if it
/// is merely dropped, the supervisor thread's end (at process exit) stops it.
pub struct EmbeddedPostgres {
    /// The data directory (holds the lock).
    root: PathBuf,
    /// Where the cluster's files live: `root`, or a private home the
    /// `postgres` user can reach.
    cluster_home: PathBuf,
    socket_dir: PathBuf,
    password: String,
    /// The running postmaster's pid (a restart changes it).
    server_pid: Arc<AtomicI32>,
    /// Set before a deliberate stop, so the supervisor does not restart it.
    stopping: Arc<AtomicBool>,
    supervisor: Option<std::thread::JoinHandle<()>>,
    _lock: File,
}

impl EmbeddedPostgres {
    /// Starts (initializing on first use) the cluster under `root`, with the
    /// PostgreSQL programs of `bindir` (or the newest installed ones).
    pub fn start(root: &Path, bindir: Option<&Path>) -> Result<Self, EmbeddedPgError> {
        fs::create_dir_all(root).map_err(io_err(format!(
            "cannot create data directory {}",
            root.display()
        )))?;
        let root = root.canonicalize().map_err(io_err(format!(
            "cannot resolve data directory {}",
            root.display()
        )))?;
        let lock = acquire_lock(&root)?;
        let bindir = find_bindir(bindir)?;
        let run_as = run_as()?;
        let cluster_home = match run_as {
            Some(run_as) if !reachable(&root, run_as) => {
                let home = private_cluster_home(&root, Path::new(PRIVATE_CLUSTER_BASE), run_as)?;
                tracing::info!(
                    data_dir = %root.display(),
                    cluster = %home.display(),
                    "the postgres user cannot reach the data directory, so the embedded cluster lives elsewhere"
                );
                home
            }
            _ => {
                // searchable by the postgres user, nothing else
                fs::set_permissions(&root, fs::Permissions::from_mode(0o711))
                    .map_err(io_err("cannot set data directory permissions"))?;
                root.clone()
            }
        };

        let pgdata = cluster_home.join("pg");
        let socket_dir = socket_dir_for(&cluster_home);
        prepare_dir(&socket_dir, run_as, 0o700)?;

        let password_file = cluster_home.join("superuser.password");
        if !pgdata.join("PG_VERSION").exists() {
            tracing::info!(dir = %pgdata.display(), "initializing the embedded PostgreSQL cluster (first start)");
            init_cluster(&bindir, &cluster_home, &pgdata, &password_file, run_as)?;
        }
        let password = fs::read_to_string(&password_file)
            .map_err(io_err(format!("cannot read {}", password_file.display())))?
            .trim()
            .to_string();

        clear_stale_server(&pgdata)?;
        let log_path = cluster_home.join("postgres.log");
        let server_pid = Arc::new(AtomicI32::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let supervisor = spawn_server(
            &bindir,
            &pgdata,
            &socket_dir,
            &log_path,
            run_as,
            Supervision {
                pid: server_pid.clone(),
                stopping: stopping.clone(),
            },
        )?;
        let cluster = EmbeddedPostgres {
            root,
            cluster_home,
            socket_dir,
            password,
            server_pid,
            stopping,
            supervisor: Some(supervisor),
            _lock: lock,
        };
        cluster.wait_until_ready(&log_path)?;
        Ok(cluster)
    }

    /// Connection options for `database` as the cluster's superuser.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(CLUSTER_USER)
            .password(&self.password)
            .database(database)
            .log_statements(tracing::log::LevelFilter::Debug)
    }

    /// A `DATABASE_URL` for `database` (for child processes such as workers).
    pub fn url(&self, database: &str) -> String {
        let password = crate::domain::percent_encode(&self.password);
        format!(
            "postgres://{CLUSTER_USER}:{password}@localhost/{database}?host={}",
            self.socket_dir.display()
        )
    }

    /// The data directory this cluster belongs to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the cluster's own files are: the data directory, or the private
    /// home used when the `postgres` user cannot reach it.
    pub fn cluster_home(&self) -> &Path {
        &self.cluster_home
    }

    /// Creates `database` if it does not exist yet.
    pub async fn ensure_database(&self, database: &str) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&self.connect_options("postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(database)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            let statement = format!("create database \"{}\"", database.replace('"', "\"\""));
            sqlx::query(&statement).execute(&mut conn).await?;
        }
        conn.close().await
    }

    /// The running postmaster's process id; it changes when the server is
    /// restarted after an unexpected exit (fault tests kill it).
    pub fn server_pid(&self) -> i32 {
        self.server_pid.load(Ordering::SeqCst)
    }

    /// Asks the server for a fast shutdown and waits for it to exit.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            self.stopping.store(true, Ordering::SeqCst);
            let pid = self.server_pid();
            // SIGINT = "fast" shutdown: roll back open transactions, checkpoint, exit.
            // SAFETY: kill only sends a signal; the pid is our own child, still
            // unreaped (the supervisor thread has not returned from wait).
            unsafe { libc::kill(pid, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while !supervisor.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if supervisor.is_finished() {
                let _ = supervisor.join();
            } else {
                // SAFETY: as above; the child is still unreaped.
                unsafe { libc::kill(pid, libc::SIGQUIT) };
            }
        }
    }

    fn wait_until_ready(&self, log_path: &Path) -> Result<(), EmbeddedPgError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let socket = self.socket_dir.join(".s.PGSQL.5432");
        loop {
            let exited = self.supervisor.as_ref().is_none_or(|s| s.is_finished());
            if exited {
                return Err(EmbeddedPgError::Server(format!(
                    "the embedded PostgreSQL exited during startup: {}",
                    last_log_line(log_path)
                )));
            }
            let pid_file = self.cluster_home.join("pg/postmaster.pid");
            if socket.exists() && pid_file.exists() {
                let ready = read_postmaster_status(&pid_file);
                if ready.as_deref() == Some("ready") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(EmbeddedPgError::Server(format!(
                    "the embedded PostgreSQL did not become ready within 60 s: {}",
                    last_log_line(log_path)
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The 8th line of postmaster.pid is the server's state ("starting", "ready", ...).
fn read_postmaster_status(pid_file: &Path) -> Option<String> {
    let text = fs::read_to_string(pid_file).ok()?;
    text.lines().nth(7).map(|line| line.trim().to_string())
}

fn last_log_line(log_path: &Path) -> String {
    let text = fs::read_to_string(log_path).unwrap_or_default();
    text.lines()
        .rev()
        .find(|line| line.contains("FATAL") || line.contains("ERROR"))
        .or_else(|| text.lines().last())
        .map(str::to_string)
        .unwrap_or_else(|| format!("see {}", log_path.display()))
}

fn acquire_lock(root: &Path) -> Result<File, EmbeddedPgError> {
    let path = root.join("veriphy.lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(format!("cannot open {}", path.display())))?;
    // SAFETY: the descriptor belongs to `file`, which is open for this call.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !locked {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let pid = holder.trim();
        return Err(EmbeddedPgError::InUse {
            dir: root.display().to_string(),
            pid: if pid.is_empty() {
                String::new()
            } else {
                format!(" (pid {pid})")
            },
        });
    }
    // A pid left by a dead process is harmless: the flock, not the text, decides.
    file.set_len(0)
        .map_err(io_err("cannot write the lock file"))?;
    file.rewind()
        .map_err(io_err("cannot write the lock file"))?;
    writeln!(file, "{}", std::process::id()).map_err(io_err("cannot write the lock file"))?;
    Ok(file)
}

/// Finds the directory holding `initdb` and `postgres`: the one given, or the
/// newest `/usr/lib/postgresql/*/bin`, then `PATH`.
fn find_bindir(given: Option<&Path>) -> Result<PathBuf, EmbeddedPgError> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = given {
        return if has_server(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(EmbeddedPgError::NotInstalled)
        };
    }
    let mut candidates: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    // newest major version first
    candidates.sort_by_key(|path| {
        std::cmp::Reverse(
            path.parent()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    candidates.extend(crate::server::config::program_search_path());
    candidates
        .into_iter()
        .find(|dir| has_server(dir))
        .ok_or(EmbeddedPgError::NotInstalled)
}

fn run_as() -> Result<Option<RunAs>, EmbeddedPgError> {
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new("postgres").expect("static name");
    // SAFETY: `name` is a valid NUL-terminated string for the call's duration;
    // the result is checked for NULL before use.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(EmbeddedPgError::NoPostgresUser);
    }
    // SAFETY: `entry` is non-null and points to libc's static passwd record,
    // read at once before any other getpw* call could overwrite it.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some(RunAs { uid, gid }))
}

/// Whether every ancestor of the data directory is searchable by the postgres user.
fn reachable(root: &Path, run_as: RunAs) -> bool {
    use std::os::unix::fs::MetadataExt;
    root.ancestors().skip(1).all(|dir| {
        let Ok(meta) = fs::metadata(dir) else {
            return true;
        };
        let mode = meta.mode();
        mode & 0o001 != 0
            || (meta.uid() == run_as.uid && mode & 0o100 != 0)
            || (meta.gid() == run_as.gid && mode & 0o010 != 0)
    })
}

/// Where clusters of data directories the postgres user cannot reach live.
pub const PRIVATE_CLUSTER_BASE: &str = "/var/lib/veriphy-jobs";

/// The file in a data directory that names its cluster's private home.
pub const CLUSTER_LOCATION_FILE: &str = "cluster-location";

/// Makes `<base>/<hash of root>`, owned by the postgres user (mode 0700), and
/// records it in the data directory.
fn private_cluster_home(
    root: &Path,
    base: &Path,
    run_as: RunAs,
) -> Result<PathBuf, EmbeddedPgError> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(root.as_os_str().as_encoded_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let home = base.join(name);
    fs::create_dir_all(base).map_err(io_err(format!("cannot create {}", base.display())))?;
    fs::set_permissions(base, fs::Permissions::from_mode(0o755)).map_err(io_err(format!(
        "cannot set permissions of {}",
        base.display()
    )))?;
    prepare_dir(&home, Some(run_as), 0o700)?;
    write_private(
        &root.join(CLUSTER_LOCATION_FILE),
        &format!("{}\n", home.display()),
    )?;
    Ok(home)
}

/// Unix socket paths are limited to about 100 bytes; deep checkouts get a
/// short private directory under /tmp instead of `<root>/run`.
fn socket_dir_for(root: &Path) -> PathBuf {
    let preferred = root.join("run");
    if preferred.as_os_str().len() + ".s.PGSQL.5432".len() + 1 < 100 {
        return preferred;
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut hasher);
    PathBuf::from(format!("/tmp/veriphy-pg-{:016x}", hasher.finish()))
}

fn prepare_dir(dir: &Path, run_as: Option<RunAs>, mode: u32) -> Result<(), EmbeddedPgError> {
    fs::create_dir_all(dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(io_err(format!(
        "cannot set permissions of {}",
        dir.display()
    )))?;
    if let Some(run_as) = run_as {
        std::os::unix::fs::chown(dir, Some(run_as.uid), Some(run_as.gid)).map_err(io_err(
            format!("cannot hand {} to the postgres user", dir.display()),
        ))?;
    }
    Ok(())
}

fn command_as(program: PathBuf, run_as: Option<RunAs>) -> Command {
    let mut command = Command::new(program);
    if let Some(run_as) = run_as {
        // std also drops root's supplementary groups when switching uid
        command.uid(run_as.uid).gid(run_as.gid);
    }
    command.env_remove("PGDATA").env("LC_ALL", "C.UTF-8");
    command
}

fn init_cluster(
    bindir: &Path,
    root: &Path,
    pgdata: &Path,
    password_file: &Path,
    run_as: Option<RunAs>,
) -> Result<(), EmbeddedPgError> {
    use rand::Rng;
    let password: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    // initdb reads the password from a file the cluster's owner can read.
    let pwfile = root.join("initdb.pw");
    write_private(&pwfile, &password)?;
    if let Some(run_as) = run_as {
        std::os::unix::fs::chown(&pwfile, Some(run_as.uid), Some(run_as.gid))
            .map_err(io_err("cannot hand the initdb password file to postgres"))?;
    }
    if pgdata.exists() {
        // a previous initdb died half-way; start over
        fs::remove_dir_all(pgdata).map_err(io_err("cannot remove a half-initialized cluster"))?;
    }
    prepare_dir(pgdata, run_as, 0o700)?;
    let output = command_as(bindir.join("initdb"), run_as)
        .arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            CLUSTER_USER,
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .stdin(Stdio::null())
        .output()
        .map_err(io_err("cannot run initdb"));
    let _ = fs::remove_file(&pwfile);
    let output = output?;
    if !output.status.success() {
        let _ = fs::remove_dir_all(pgdata);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(EmbeddedPgError::Server(format!("initdb failed: {reason}")));
    }
    write_private(password_file, &password)
}

fn write_private(path: &Path, contents: &str) -> Result<(), EmbeddedPgError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("cannot write {}", path.display())))?;
    file.write_all(contents.as_bytes())
        .map_err(io_err(format!("cannot write {}", path.display())))
}

/// We hold the directory lock, so a postmaster.pid here is left from an
/// earlier run: either its server is still shutting down (wait for it) or the
/// file is stale (remove it, since its pid may now belong to anything).
fn clear_stale_server(pgdata: &Path) -> Result<(), EmbeddedPgError> {
    let pid_file = pgdata.join("postmaster.pid");
    let Ok(text) = fs::read_to_string(&pid_file) else {
        return Ok(());
    };
    let pid: i32 = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let is_postgres = pid > 0
        && fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|comm| comm.trim() == "postgres")
            .unwrap_or(false);
    if is_postgres {
        tracing::warn!(
            pid,
            "a PostgreSQL from an earlier run is still up; shutting it down"
        );
        // SAFETY: kill only sends a signal; /proc just showed `pid` is a postgres.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            return Err(EmbeddedPgError::Server(format!(
                "a PostgreSQL (pid {pid}) from an earlier run still uses {}; stop it and retry",
                pgdata.display()
            )));
        }
    }
    if pid_file.exists() {
        tracing::warn!(file = %pid_file.display(), "removing a stale PostgreSQL pid file");
        fs::remove_file(&pid_file).map_err(io_err("cannot remove the stale postmaster.pid"))?;
    }
    Ok(())
}

/// What the supervisor shares with the cluster handle.
struct Supervision {
    pid: Arc<AtomicI32>,
    stopping: Arc<AtomicBool>,
}

/// How long to wait before restart number `failures` of a server that keeps
/// exiting: half a second, doubling, at most 30 s.
fn restart_delay(failures: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << failures.clamp(1, 7).saturating_sub(1)))
        .min(Duration::from_secs(30))
}

/// A server that ran this long before exiting starts the backoff over.
const STABLE_RUN: Duration = Duration::from_secs(60);

/// Starts the server under a supervisor thread that restarts it (with
/// backoff, logged) whenever it exits without having been asked to stop.
fn spawn_server(
    bindir: &Path,
    pgdata: &Path,
    socket_dir: &Path,
    log_path: &Path,
    run_as: Option<RunAs>,
    supervision: Supervision,
) -> Result<std::thread::JoinHandle<()>, EmbeddedPgError> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log_path)
        .map_err(io_err(format!("cannot open {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(io_err("cannot open the PostgreSQL log"))?;
    let mut command = command_as(bindir.join("postgres"), run_as);
    command
        .arg("-D")
        .arg(pgdata)
        .arg("-k")
        .arg(socket_dir)
        .args([
            "-c",
            "listen_addresses=",
            "-c",
            "unix_socket_permissions=0700",
        ])
        .args(["-c", "max_connections=200", "-c", "shared_buffers=256MB"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // its own process group: a terminal's Ctrl-C reaches us, and we stop it cleanly
        .process_group(0);
    // SAFETY: the closure runs between fork and exec and only calls prctl,
    // which is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            // runs after the uid switch, so the death signal survives it
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT);
            Ok(())
        });
    }

    let pgdata = pgdata.to_path_buf();
    let (sender, receiver) = std::sync::mpsc::channel();
    let supervisor = std::thread::Builder::new()
        .name("embedded-postgres".into())
        .spawn(move || {
            let Supervision { pid, stopping } = supervision;
            let mut started_once = false;
            let mut failures = 0u32;
            loop {
                let started = Instant::now();
                match command.spawn() {
                    Ok(mut child) => {
                        pid.store(child.id() as i32, Ordering::SeqCst);
                        if !started_once {
                            started_once = true;
                            let _ = sender.send(Ok(()));
                        }
                        let status = child.wait();
                        if stopping.load(Ordering::SeqCst) {
                            return;
                        }
                        if started.elapsed() >= STABLE_RUN {
                            failures = 0;
                        }
                        failures += 1;
                        let delay = restart_delay(failures);
                        tracing::error!(
                            status = ?status,
                            restart_in_ms = delay.as_millis() as u64,
                            "the embedded PostgreSQL exited unexpectedly; restarting it"
                        );
                        if !sleep_unless_stopping(delay, &stopping) {
                            return;
                        }
                        if let Err(error) = clear_stale_server(&pgdata) {
                            tracing::warn!(%error, "could not clear the stopped server's pid file");
                        }
                    }
                    Err(error) if !started_once => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                    Err(error) => {
                        failures += 1;
                        let delay = restart_delay(failures);
                        tracing::error!(%error, restart_in_ms = delay.as_millis() as u64, "could not restart the embedded PostgreSQL");
                        if !sleep_unless_stopping(delay, &stopping) {
                            return;
                        }
                    }
                }
            }
        })
        .map_err(io_err("cannot start the PostgreSQL supervisor thread"))?;
    receiver
        .recv()
        .map_err(|_| EmbeddedPgError::Server("the PostgreSQL supervisor thread died".into()))?
        .map_err(io_err("cannot start postgres"))?;
    Ok(supervisor)
}

/// Sleeps `delay` in short steps; false as soon as a stop is asked for.
fn sleep_unless_stopping(delay: Duration, stopping: &AtomicBool) -> bool {
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if stopping.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !stopping.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_private_home_is_stable_per_data_directory_and_named_in_it() {
        let dir = std::env::temp_dir().join(format!("veriphy-home-{}", std::process::id()));
        let (first, second) = (dir.join("first"), dir.join("second"));
        fs::create_dir_all(&first).unwrap();
        fs::create_dir_all(&second).unwrap();
        let me = RunAs {
            // SAFETY: getuid/getgid only read the process's credentials.
            uid: unsafe { libc::getuid() },
            gid: unsafe { libc::getgid() },
        };
        let base = dir.join("base");
        let home = private_cluster_home(&first, &base, me).unwrap();
        assert_eq!(home, private_cluster_home(&first, &base, me).unwrap());
        assert_ne!(home, private_cluster_home(&second, &base, me).unwrap());
        assert!(home.starts_with(&base));
        let recorded = fs::read_to_string(first.join(CLUSTER_LOCATION_FILE)).unwrap();
        assert_eq!(recorded.trim(), home.to_str().unwrap());
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::metadata(&home).unwrap().mode() & 0o777, 0o700);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn long_roots_get_a_short_socket_directory() {
        let short = socket_dir_for(Path::new("/srv/data"));
        assert_eq!(short, PathBuf::from("/srv/data/run"));
        let deep = PathBuf::from(format!("/{}", "d".repeat(120)));
        let dir = socket_dir_for(&deep);
        assert!(
            dir.to_string_lossy().starts_with("/tmp/veriphy-pg-"),
            "{}",
            dir.display()
        );
        assert_eq!(dir, socket_dir_for(&deep), "stable for the same root");
    }

    #[test]
    fn restarts_back_off_from_half_a_second_to_thirty() {
        assert_eq!(restart_delay(1), Duration::from_millis(500));
        assert_eq!(restart_delay(2), Duration::from_secs(1));
        assert_eq!(restart_delay(4), Duration::from_secs(4));
        assert_eq!(restart_delay(7), Duration::from_secs(30));
        assert_eq!(restart_delay(70), Duration::from_secs(30));
    }

    #[test]
    fn postmaster_status_is_the_eighth_line() {
        let dir = std::env::temp_dir().join(format!("veriphy-pm-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("postmaster.pid");
        fs::write(&file, "1\n/x\n0\n5432\n/tmp\n\n  1 2\nready   \n").unwrap();
        assert_eq!(read_postmaster_status(&file).as_deref(), Some("ready"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_held_lock_names_its_holder() {
        let dir = std::env::temp_dir().join(format!("veriphy-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let _held = acquire_lock(&dir).unwrap();
        // flock locks belong to open file descriptions: a second open conflicts
        let err = acquire_lock(&dir).unwrap_err().to_string();
        assert!(err.contains("already using"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
