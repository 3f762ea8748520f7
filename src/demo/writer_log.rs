//! The `command` writer the demo gives the real connector: a small shell script that appends
//! `<swyx-user-id> <status> <revision>` to a file, and the demo's reading of that file. What the
//! writer was handed is the Swyx side's truth in this mode (a real site's script would set the
//! status in SwyxServer), so the demo judges Swyx by it.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// One change the connector handed to its writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterLine {
    pub swyx_id: String,
    /// `Available`, `Away`, `DoNotDisturb`, `Speaking`, or `none` (withdrawn).
    pub status: String,
}

/// The writer's output file.
#[derive(Debug, Clone)]
pub struct WriterLog {
    path: PathBuf,
}

impl WriterLog {
    /// Writes the writer script into `dir` (executable); the log it appends to is in `dir` too
    /// and is the script's first argument (the connector's `writer.command.args`).
    pub fn create(dir: &Path) -> anyhow::Result<(Self, PathBuf)> {
        let path = dir.join("writer.log");
        std::fs::write(&path, "").context("writer log")?;
        let script = dir.join("set-swyx-status.sh");
        // Started directly by the connector (no shell in between), arguments quoted: the
        // connector's writer contract (connector/README.md, "command").
        std::fs::write(
            &script,
            "#!/bin/sh\n# The demo's writer: records each change the connector hands it.\n\
             printf '%s %s %s\\n' \"$2\" \"$3\" \"$4\" >> \"$1\"\n",
        )
        .context("writer script")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .context("making the writer script executable")?;
        }
        Ok((Self { path }, script))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every change written so far, in order. A line still being written is skipped.
    pub fn lines(&self) -> Vec<WriterLine> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        text.lines().filter_map(parse).collect()
    }

    /// The status last written for `swyx_id`; `None` when nothing was, or it was withdrawn.
    pub fn status_of(lines: &[WriterLine], swyx_id: &str) -> Option<String> {
        lines
            .iter()
            .rev()
            .find(|l| l.swyx_id == swyx_id)
            .filter(|l| l.status != "none")
            .map(|l| l.status.clone())
    }
}

fn parse(line: &str) -> Option<WriterLine> {
    let mut parts = line.split(' ');
    let (id, status, revision) = (parts.next()?, parts.next()?, parts.next()?);
    // A complete line ends with the revision the connector passed (a number).
    if parts.next().is_some() || revision.parse::<u64>().is_err() {
        return None;
    }
    Some(WriterLine {
        swyx_id: id.to_string(),
        status: status.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_status_of_a_user_counts_and_none_withdraws_it() {
        let lines: Vec<WriterLine> = [
            "1000 Away 5",
            "1001 Available 6",
            "1000 none 9",
            "1001 Away",
        ]
        .iter()
        .filter_map(|l| parse(l))
        .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(WriterLog::status_of(&lines, "1000"), None);
        assert_eq!(
            WriterLog::status_of(&lines, "1001").as_deref(),
            Some("Available")
        );
        assert_eq!(WriterLog::status_of(&lines, "1002"), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_script_appends_what_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let (log, script) = WriterLog::create(dir.path()).unwrap();
        for (id, status, rev) in [("1000", "Away", "7"), ("1000", "Speaking", "8")] {
            let ok = std::process::Command::new(&script)
                .arg(log.path())
                .args([id, status, rev])
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let lines = log.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].status, "Speaking");
    }
}
