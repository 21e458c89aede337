//! The binary's start-up paths: the embedded default, persistence, and the
//! one-line errors for every way starting can fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use veriphy_jobs::server::embedded_pg::EmbeddedPostgres;

fn data_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("launcher-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_veriphy-jobs"));
    command
        .args(args)
        .env("VERIPHY_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run the binary")
}

/// Exactly one `error:` line, no panic, exit status 1; returns the line.
fn single_error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    errors[0].to_string()
}

#[test]
fn help_lists_every_subcommand() {
    let output = Command::new(env!("CARGO_BIN_EXE_veriphy-jobs"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "worker", "migrate", "load-demo"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
    let serve = Command::new(env!("CARGO_BIN_EXE_veriphy-jobs"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&serve.stdout).contains("--demo"));
}

#[test]
fn embedded_default_migrates_seeds_and_keeps_data_across_restarts() {
    let dir = data_dir("persist");
    let first = run(&dir, &["load-demo"], &[]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("viewer@northwind.example"), "{stderr}");
    assert!(dir.join("pg/PG_VERSION").exists());

    let second = run(&dir, &["load-demo"], &[]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(
        stderr.contains("already loaded"),
        "data did not survive the restart: {stderr}"
    );
    // the server was stopped with the process
    assert!(
        !dir.join("pg/postmaster.pid").exists(),
        "PostgreSQL still running after exit"
    );
}

#[test]
fn a_second_instance_on_the_same_data_dir_is_refused() {
    let dir = data_dir("second");
    let held = EmbeddedPostgres::start(&dir, None).expect("first instance");
    let line = single_error_line(&run(&dir, &["migrate"], &[]));
    assert!(line.contains("already using the data directory"), "{line}");
    assert!(line.contains(&std::process::id().to_string()), "{line}");
    held.stop();
}

#[test]
fn stale_pid_files_do_not_block_a_start() {
    let dir = data_dir("stale");
    let cluster = EmbeddedPostgres::start(&dir, None).expect("init");
    cluster.stop();
    // pid 1 is alive but is not our PostgreSQL; 999999 is not alive at all
    std::fs::write(dir.join("pg/postmaster.pid"), "1\n/elsewhere\n").unwrap();
    std::fs::write(dir.join("veriphy.lock"), "999999\n").unwrap();
    let output = run(&dir, &["migrate"], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn missing_postgresql_install_is_one_clear_line() {
    let dir = data_dir("missing");
    let line = single_error_line(&run(
        &dir,
        &["migrate"],
        &[("VERIPHY_PG_BINDIR", "/nonexistent/bin")],
    ));
    assert!(line.contains("PostgreSQL server binaries"), "{line}");
}

#[test]
fn wrong_database_url_is_one_clear_line() {
    let dir = data_dir("wrong-url");
    let line = single_error_line(&run(
        &dir,
        &["migrate"],
        &[(
            "DATABASE_URL",
            "postgres://nobody:secret@127.0.0.1:1/nothing",
        )],
    ));
    assert!(
        line.contains("cannot connect to PostgreSQL at 127.0.0.1:1"),
        "{line}"
    );
    assert!(
        !line.contains("secret"),
        "the password must not be printed: {line}"
    );

    let line = single_error_line(&run(
        &dir,
        &["migrate"],
        &[("DATABASE_URL", "this is not a url")],
    ));
    assert!(
        line.contains("DATABASE_URL is not a valid PostgreSQL URL"),
        "{line}"
    );
}

#[test]
fn database_url_mode_migrates_an_existing_server() {
    let dir = data_dir("external");
    let cluster = EmbeddedPostgres::start(&dir, None).expect("server");
    let options = cluster.connect_options("postgres");
    let socket = dir.canonicalize().unwrap().join("run");
    let password = std::fs::read_to_string(dir.join("superuser.password")).unwrap();
    let url = format!(
        "postgres://veriphy:{}@localhost/postgres?host={}",
        password.trim(),
        socket.display()
    );
    let _ = options;
    let output = run(
        &data_dir("external-unused"),
        &["migrate"],
        &[("DATABASE_URL", &url)],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("migrations applied"));
    cluster.stop();
}

#[test]
fn as_root_a_data_directory_the_postgres_user_cannot_reach_keeps_its_cluster_elsewhere() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        eprintln!("not root: the cluster runs as this user and can always reach its data");
        return;
    }
    let parent = data_dir("private-parent");
    std::fs::create_dir_all(&parent).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = parent.join("data");

    let first = run(&dir, &["migrate"], &[("RUST_LOG", "info")]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    let home = std::fs::read_to_string(dir.join("cluster-location")).unwrap();
    let home = PathBuf::from(home.trim());
    assert!(
        home.starts_with("/var/lib/veriphy-jobs/"),
        "{}",
        home.display()
    );
    assert!(
        stderr.contains(home.to_str().unwrap()),
        "the start-up log says where: {stderr}"
    );
    assert!(home.join("pg/PG_VERSION").exists());
    let postgres_uid = Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .unwrap();
    let postgres_uid: u32 = String::from_utf8_lossy(&postgres_uid.stdout)
        .trim()
        .parse()
        .unwrap();
    let meta = std::fs::metadata(&home).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (postgres_uid, 0o700));
    assert!(
        !dir.join("pg").exists(),
        "nothing but the lock and the pointer in ./data"
    );

    let again = run(&dir, &["migrate"], &[]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let clean = Command::new("make")
        .args(["-s", "clean-data"])
        .env("VERIPHY_DATA_DIR", &dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(
        !home.exists() && !dir.exists(),
        "make clean-data removes both"
    );
    std::fs::remove_dir_all(&parent).unwrap();
}

/// (variable, flag) of every setting a help text lists.
fn settings_in_help(help: &str) -> Vec<(String, String)> {
    let mut settings = Vec::new();
    let mut flag = String::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        if let Some(long) = trimmed
            .split_whitespace()
            .find(|word| word.starts_with("--"))
            .filter(|_| trimmed.starts_with('-'))
        {
            flag = long.trim_end_matches(',').to_string();
        }
        if let Some((_, rest)) = line.split_once("[env: ") {
            let variable: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            settings.push((variable, flag.clone()));
        }
    }
    settings.sort();
    settings
}

#[test]
fn the_readme_configuration_table_and_every_help_agree() {
    let readme = include_str!("../README.md");
    let section = readme
        .split("### Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n#").next())
        .expect("a configuration section");
    let mut documented: Vec<(String, String)> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line
                .split('|')
                .map(|c| c.trim().trim_matches('`'))
                .collect();
            (cells[1].to_string(), cells[2].to_string())
        })
        .collect();
    documented.sort();
    assert!(documented.len() >= 17, "{documented:?}");

    for command in [
        &[][..],
        &["serve"],
        &["worker"],
        &["migrate"],
        &["load-demo"],
        &["rotate-key"],
        &["bench"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_veriphy-jobs"))
            .args(command)
            .arg("--help")
            .env_remove("DATABASE_URL")
            .env_remove("VERIPHY_ADMIN_PASSWORD")
            .output()
            .unwrap();
        assert!(output.status.success(), "{command:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            settings_in_help(&help),
            documented,
            "{command:?} --help:\n{help}"
        );
    }
}

#[test]
fn a_bad_setting_stops_the_start_with_one_line() {
    let dir = data_dir("bad-setting");
    let line = single_error_line(&run(
        &dir,
        &["migrate"],
        &[("VERIPHY_WORKER_POLL_MS", "soon")],
    ));
    assert_eq!(
        line,
        "error: VERIPHY_WORKER_POLL_MS must be a positive number of milliseconds, got \"soon\" (flag --worker-poll-ms)"
    );
    assert!(!dir.exists(), "nothing was started");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = data_dir("json-logs");
    let output = run(
        &dir,
        &["migrate"],
        &[("VERIPHY_LOG_FORMAT", "json"), ("RUST_LOG", "info")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let up = events
        .iter()
        .find(|event| event["fields"]["message"] == "embedded PostgreSQL is up")
        .unwrap_or_else(|| panic!("no start-up event in:\n{stderr}"));
    assert_eq!(up["level"], "INFO");
}
