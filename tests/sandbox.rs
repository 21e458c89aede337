//! The document analyser child process: what it reports when a limit stops
//! it, and that its findings come back when none does.

use std::time::Duration;
use veriphy_jobs::server::sandbox::{Analyser, Limits, SandboxError};

fn analyser(limits: Limits) -> Analyser {
    Analyser {
        program: env!("CARGO_BIN_EXE_veriphy-jobs").into(),
        limits,
    }
}

/// Eight megabytes of text: work enough for every limit below to bite.
fn large_text() -> Vec<u8> {
    b"account,amount,currency\n".repeat(350_000)
}

#[tokio::test]
async fn findings_come_back_as_json_from_the_child() {
    let findings = analyser(Limits::default())
        .analyse(b"account,amount\n42,10.00\n")
        .await
        .unwrap();

    assert_eq!(findings["detected_content_type"], "text/csv");
    assert_eq!(findings["line_count"], 2);
}

#[tokio::test]
async fn a_child_that_needs_more_memory_than_allowed_is_stopped_and_named() {
    let limits = Limits {
        memory_bytes: 1024 * 1024,
        ..Limits::default()
    };

    let refused = analyser(limits).analyse(&large_text()).await;

    assert_eq!(refused, Err(SandboxError::Memory(1)));
}

#[tokio::test]
async fn a_child_past_its_cpu_time_is_stopped_and_named() {
    let limits = Limits {
        cpu_seconds: 0,
        ..Limits::default()
    };

    let refused = analyser(limits).analyse(&large_text()).await;

    assert_eq!(refused, Err(SandboxError::CpuTime(0)));
}

#[tokio::test]
async fn a_child_past_the_wall_clock_is_killed() {
    let limits = Limits {
        wall_time: Duration::from_millis(1),
        ..Limits::default()
    };

    let refused = analyser(limits).analyse(&large_text()).await;

    assert_eq!(refused, Err(SandboxError::WallTime(0)));
}

#[tokio::test]
async fn more_output_than_allowed_is_refused() {
    let limits = Limits {
        output_bytes: 1024,
        ..Limits::default()
    };

    let refused = analyser(limits).analyse(&large_text()).await;

    assert_eq!(refused, Err(SandboxError::Output(1)));
}

#[tokio::test]
async fn a_missing_analyser_is_a_transient_failure() {
    let missing = Analyser {
        program: "/nonexistent/veriphy-jobs".into(),
        limits: Limits::default(),
    };

    let refused = missing.analyse(b"text").await.unwrap_err();

    assert!(refused.is_transient(), "{refused}");
}
