//! The `command` writer: runs the operator's program once per change, e.g. a PowerShell script
//! on the SwyxServer host that uses Swyx's administration tools.
//!
//! The program is started directly, never through a shell: the user id, status and revision are
//! separate arguments (after the configured ones) and environment variables, so no value can be
//! read as shell syntax. Exit codes:
//!
//! | exit | meaning | answer to the bridge |
//! |---|---|---|
//! | 0 | applied | 200 |
//! | 3 | SwyxServer has no such user | 404 |
//! | 4 | superseded: a newer status is in place | 409 |
//! | 75 (EX_TEMPFAIL) | try again later, do not retry now | 503 |
//! | anything else, a crash, a timeout | failed: retried here, then 503 | 503 |

use super::{StatusChange, WriteOutcome, backoff};
use crate::config::CommandWriterConfig;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

pub const EXIT_APPLIED: i32 = 0;
pub const EXIT_UNKNOWN_USER: i32 = 3;
pub const EXIT_SUPERSEDED: i32 = 4;
pub const EXIT_TEMPFAIL: i32 = 75;

/// Stderr quoted in errors: enough for a message, not a dump.
const STDERR_QUOTE: usize = 300;

pub struct CommandWriter {
    cfg: CommandWriterConfig,
}

enum Run {
    Exit(i32, String),
    Failed(String),
}

impl CommandWriter {
    pub fn new(cfg: CommandWriterConfig) -> Self {
        Self { cfg }
    }

    pub async fn apply(&self, change: &StatusChange) -> WriteOutcome {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reason = match self.run_once(change).await {
                Run::Exit(EXIT_APPLIED, _) => return WriteOutcome::Applied,
                Run::Exit(EXIT_UNKNOWN_USER, _) => return WriteOutcome::UnknownUser,
                Run::Exit(EXIT_SUPERSEDED, _) => return WriteOutcome::Superseded,
                Run::Exit(EXIT_TEMPFAIL, err) => {
                    return WriteOutcome::RetryLater {
                        after: Duration::from_secs(5),
                        reason: format!("the writer program asked to retry later (exit 75){err}"),
                    };
                }
                Run::Exit(code, err) => format!("the writer program exited with {code}{err}"),
                Run::Failed(why) => why,
            };
            tracing::warn!(swyx_user_id = %change.swyx_user_id, revision = change.revision, attempt, %reason, "command writer failed");
            if attempt > self.cfg.retries {
                return WriteOutcome::RetryLater {
                    after: Duration::from_secs(5),
                    reason,
                };
            }
            tokio::time::sleep(backoff(self.cfg.retry_backoff, attempt)).await;
        }
    }

    async fn run_once(&self, change: &StatusChange) -> Run {
        let mut cmd = Command::new(&self.cfg.program);
        cmd.args(&self.cfg.args)
            .arg(&change.swyx_user_id)
            .arg(change.status_word())
            .arg(change.revision.to_string())
            .env("SWYX_USER_ID", &change.swyx_user_id)
            .env("SWYX_STATUS", change.status_word())
            .env("SWYX_REVISION", change.revision.to_string())
            .env("SWYX_USER_EMAIL", change.email.as_deref().unwrap_or(""))
            .env("SWYX_SIP_URI", change.sip_uri.as_deref().unwrap_or(""))
            .env("TEAMS_AVAILABILITY", &change.teams.availability)
            .env("TEAMS_ACTIVITY", &change.teams.activity)
            .env(
                "TEAMS_OUT_OF_OFFICE",
                change.teams.out_of_office.to_string(),
            )
            .env("TEAMS_OBSERVED_AT", &change.observed_at)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // A timed-out program must not linger and apply a stale status later.
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Run::Failed(format!("cannot start {}: {e}", self.cfg.program.display()));
            }
        };
        let mut stderr = child.stderr.take();
        let read_err = async move {
            let mut buf = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(64 * 1024).read_to_end(&mut buf).await;
            }
            buf
        };
        let waited = tokio::time::timeout(self.cfg.timeout, async {
            let (status, err) = tokio::join!(child.wait(), read_err);
            (status, err)
        })
        .await;
        match waited {
            Err(_) => {
                let _ = child.kill().await;
                Run::Failed(format!(
                    "the writer program did not finish within {:?} (killed)",
                    self.cfg.timeout
                ))
            }
            Ok((Err(e), _)) => Run::Failed(format!("waiting for the writer program: {e}")),
            Ok((Ok(status), err)) => {
                let text = String::from_utf8_lossy(&err);
                let last = text.trim().lines().last().unwrap_or("").trim();
                let quoted = if last.is_empty() {
                    String::new()
                } else {
                    format!(": {}", last.chars().take(STDERR_QUOTE).collect::<String>())
                };
                match status.code() {
                    Some(code) => Run::Exit(code, quoted),
                    None => {
                        Run::Failed(format!("the writer program was killed by a signal{quoted}"))
                    }
                }
            }
        }
    }
}
