//! Untrusted documents are analysed in a child process: the same binary,
//! started with the hidden first argument [`SUBCOMMAND`], with an empty
//! environment, the document on stdin and the findings as JSON on stdout.
//! The child limits its own address space, CPU time, open files and file
//! writes before it reads a byte, so a parser bug, a decompression bomb or
//! runaway recursion ends the child — never the server and worker that
//! started it. The parent bounds the wall-clock time and the output it reads.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The hidden first argument that makes the binary a document analyser.
pub const SUBCOMMAND: &str = "analyse-document";

/// The child's exit code when memory ran out where Rust reports it as an
/// error rather than aborting (reading the document).
const EXIT_OUT_OF_MEMORY: i32 = 7;

/// What one analysis may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The child's whole address space, in bytes.
    pub memory_bytes: u64,
    /// CPU time, in seconds (the kernel stops the child past it).
    pub cpu_seconds: u64,
    /// Wall-clock time before the parent kills the child.
    pub wall_time: Duration,
    /// Most bytes of output read (the findings are far smaller).
    pub output_bytes: usize,
    /// Most bytes of input the child accepts.
    pub input_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 768 * 1024 * 1024,
            cpu_seconds: 20,
            wall_time: Duration::from_secs(45),
            output_bytes: 1024 * 1024,
            input_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why an analysis gave no findings, in words for the job's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// The child could not be started (a deployment problem: worth a retry).
    #[error("the document analyser could not be started: {0}")]
    Spawn(String),
    /// The child ran out of memory.
    #[error("analysing the document needed more than {0} MiB of memory")]
    Memory(u64),
    /// The child used up its CPU time.
    #[error("analysing the document took more than {0} seconds of CPU time")]
    CpuTime(u64),
    /// The child ran past the wall-clock limit and was killed.
    #[error("analysing the document took longer than {0} seconds")]
    WallTime(u64),
    /// The child wrote more than the output limit.
    #[error("the document analyser produced more than {0} KiB of output")]
    Output(usize),
    /// The child crashed some other way (stack overflow, a parser panic).
    #[error("the document analyser crashed ({0})")]
    Crashed(String),
}

impl SandboxError {
    /// Whether trying the same document again could succeed: only a failure
    /// to start the child; every other outcome is the document's doing.
    pub fn is_transient(&self) -> bool {
        matches!(self, SandboxError::Spawn(_))
    }
}

/// Starts analyser children.
#[derive(Debug, Clone)]
pub struct Analyser {
    /// The binary to run (this one, normally).
    pub program: PathBuf,
    /// What each analysis may use.
    pub limits: Limits,
}

impl Analyser {
    /// Runs this very binary as the analyser.
    pub fn this_binary() -> Self {
        Analyser {
            program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("veriphy-jobs")),
            limits: Limits::default(),
        }
    }

    /// Analyses `content` in a child process; its findings as JSON.
    pub async fn analyse(&self, content: &[u8]) -> Result<Value, SandboxError> {
        let limits = self.limits;
        let mut child = tokio::process::Command::new(&self.program)
            .arg(SUBCOMMAND)
            .arg(limits.memory_bytes.to_string())
            .arg(limits.cpu_seconds.to_string())
            .arg(limits.input_bytes.to_string())
            // nothing of the server's environment (database URL, keys)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| SandboxError::Spawn(error.to_string()))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let input = content.to_vec();
        // Feeding, reading and waiting run together: a child that stops
        // reading (it died) must not block the writer, and one that writes
        // a lot must not fill its pipe while we wait.
        let feed = async move {
            // a child that exits early closes the pipe: its status says why
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let read_output = read_bounded(stdout, limits.output_bytes);
        let read_errors = read_bounded(stderr, 16 * 1024);
        let run = async {
            let ((), output, errors, status) =
                tokio::join!(feed, read_output, read_errors, child.wait());
            (output, errors, status)
        };
        let (output, errors, status) = match tokio::time::timeout(limits.wall_time, run).await {
            Ok(finished) => finished,
            Err(_) => {
                // kill_on_drop would do it too; waiting reaps the child now
                let _ = child.kill().await;
                return Err(SandboxError::WallTime(limits.wall_time.as_secs()));
            }
        };
        let status = status.map_err(|error| SandboxError::Crashed(error.to_string()))?;
        let (output, overflowed) = output;
        if overflowed {
            return Err(SandboxError::Output(limits.output_bytes / 1024));
        }
        let errors = String::from_utf8_lossy(&errors.0).into_owned();
        if !status.success() {
            return Err(classify_exit(&status, &errors, &limits));
        }
        serde_json::from_slice(&output)
            .map_err(|_| SandboxError::Crashed("it gave no readable findings".into()))
    }
}

/// Reads at most `limit` bytes; true when there was more.
async fn read_bounded(source: impl tokio::io::AsyncRead + Unpin, limit: usize) -> (Vec<u8>, bool) {
    let mut buffer = Vec::new();
    let mut limited = source.take(limit as u64 + 1);
    let _ = limited.read_to_end(&mut buffer).await;
    let overflowed = buffer.len() > limit;
    buffer.truncate(limit);
    (buffer, overflowed)
}

/// Names what ended a child that did not succeed.
fn classify_exit(status: &std::process::ExitStatus, errors: &str, limits: &Limits) -> SandboxError {
    use std::os::unix::process::ExitStatusExt;
    let memory_mib = limits.memory_bytes / (1024 * 1024);
    // Rust reports an allocation it could not make, then aborts
    if errors.contains("memory allocation of") || status.code() == Some(EXIT_OUT_OF_MEMORY) {
        return SandboxError::Memory(memory_mib);
    }
    match status.signal() {
        Some(libc::SIGXCPU) | Some(libc::SIGKILL) => SandboxError::CpuTime(limits.cpu_seconds),
        Some(signal) => {
            let what = if errors.contains("overflowed its stack") {
                "its stack overflowed: the document nests too deeply".to_string()
            } else {
                format!("signal {signal}")
            };
            SandboxError::Crashed(what)
        }
        None => SandboxError::Crashed(format!("exit status {}", status.code().unwrap_or_default())),
    }
}

/// The child's side: `args` are what follows [`SUBCOMMAND`] (memory bytes,
/// CPU seconds, input bytes). Limits itself, reads the document from stdin,
/// writes the findings to stdout; returns the exit code.
pub fn child_main(args: &[String]) -> i32 {
    let number = |index: usize| args.get(index).and_then(|a| a.parse::<u64>().ok());
    let (Some(memory), Some(cpu), Some(input_limit)) = (number(0), number(1), number(2)) else {
        eprintln!("usage: veriphy-jobs {SUBCOMMAND} MEMORY_BYTES CPU_SECONDS INPUT_BYTES");
        return 2;
    };
    if let Err(error) = limit_self(memory, cpu) {
        eprintln!("could not apply the resource limits: {error}");
        return 3;
    }
    let mut content = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(input_limit + 1)
        .read_to_end(&mut content);
    match read {
        Err(error) if error.kind() == std::io::ErrorKind::OutOfMemory => return EXIT_OUT_OF_MEMORY,
        Err(error) => {
            eprintln!("the document could not be read: {error}");
            return 4;
        }
        Ok(_) if content.len() as u64 > input_limit => {
            eprintln!("the document is larger than {input_limit} bytes");
            return 4;
        }
        Ok(_) => {}
    }
    let findings = crate::server::worker::handlers::document::analyse(&content);
    let mut stdout = std::io::stdout().lock();
    if serde_json::to_writer(&mut stdout, &findings).is_err() || stdout.flush().is_err() {
        return 5;
    }
    0
}

/// Applies the child's limits to the calling process.
fn limit_self(memory_bytes: u64, cpu_seconds: u64) -> std::io::Result<()> {
    set_limit(libc::RLIMIT_AS, memory_bytes, memory_bytes)?;
    // SIGXCPU at the soft limit; the kernel kills at the hard one
    set_limit(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)?;
    // no files written, no core dumps, no descriptors beyond the pipes
    set_limit(libc::RLIMIT_FSIZE, 0, 0)?;
    set_limit(libc::RLIMIT_CORE, 0, 0)?;
    set_limit(libc::RLIMIT_NOFILE, 16, 16)?;
    Ok(())
}

fn set_limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass by pointer for the duration
    // of the call only; `limit` is a fully initialised local that outlives it.
    let result = unsafe { libc::setrlimit(resource, &limit) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn killed_by(signal: i32) -> std::process::ExitStatus {
        std::process::ExitStatus::from_raw(signal)
    }

    #[test]
    fn an_allocation_failure_is_reported_as_memory() {
        let limits = Limits::default();
        assert_eq!(
            classify_exit(
                &killed_by(libc::SIGABRT),
                "memory allocation of 4294967296 bytes failed\n",
                &limits
            ),
            SandboxError::Memory(768)
        );
    }

    #[test]
    fn the_cpu_limit_signals_are_reported_as_cpu_time() {
        let limits = Limits::default();
        for signal in [libc::SIGXCPU, libc::SIGKILL] {
            assert_eq!(
                classify_exit(&killed_by(signal), "", &limits),
                SandboxError::CpuTime(20)
            );
        }
    }

    #[test]
    fn a_stack_overflow_names_deep_nesting() {
        let error = classify_exit(
            &killed_by(libc::SIGABRT),
            "thread 'main' has overflowed its stack\nfatal runtime error: stack overflow",
            &Limits::default(),
        );
        assert!(error.to_string().contains("nests too deeply"), "{error}");
    }

    #[test]
    fn only_a_failure_to_start_is_worth_retrying() {
        assert!(SandboxError::Spawn("no such file".into()).is_transient());
        assert!(!SandboxError::Memory(768).is_transient());
        assert!(!SandboxError::WallTime(45).is_transient());
    }
}
