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
    for command in ["serve", "worker", "migrate", "seed-demo"] {
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
    let first = run(&dir, &["seed-demo"], &[]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("viewer@northwind.example"), "{stderr}");
    assert!(dir.join("pg/PG_VERSION").exists());

    let second = run(&dir, &["seed-demo"], &[]);
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
    let held = EmbeddedPostgres::start(&dir).expect("first instance");
    let line = single_error_line(&run(&dir, &["migrate"], &[]));
    assert!(line.contains("already using the data directory"), "{line}");
    assert!(line.contains(&std::process::id().to_string()), "{line}");
    held.stop();
}

#[test]
fn stale_pid_files_do_not_block_a_start() {
    let dir = data_dir("stale");
    let cluster = EmbeddedPostgres::start(&dir).expect("init");
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
    let cluster = EmbeddedPostgres::start(&dir).expect("server");
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
