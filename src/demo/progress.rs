//! The demo's progress on stderr: on a terminal one status line redrawn in place; anywhere else
//! (a CI log, a file) one line per step, which reads well where `\r` does not work.

use std::io::{IsTerminal, Write};

const BAR_WIDTH: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Nothing is shown.
    Off,
    /// One status line, redrawn in place (a terminal).
    Redraw,
    /// One line per step (a pipe or a file).
    Lines,
}

impl Style {
    /// `Redraw` when stderr is a terminal, `Lines` otherwise; `Off` when not `enabled`.
    pub fn for_stderr(enabled: bool) -> Self {
        match (enabled, std::io::stderr().is_terminal()) {
            (false, _) => Style::Off,
            (true, true) => Style::Redraw,
            (true, false) => Style::Lines,
        }
    }
}

/// Counts the demo's steps and shows each as it starts.
pub struct Progress<W: Write> {
    out: W,
    style: Style,
    done: usize,
    total: usize,
}

impl Progress<std::io::Stderr> {
    pub fn on_stderr(enabled: bool, total: usize) -> Self {
        Self::new(std::io::stderr(), Style::for_stderr(enabled), total)
    }
}

impl<W: Write> Progress<W> {
    pub fn new(out: W, style: Style, total: usize) -> Self {
        Self {
            out,
            style,
            done: 0,
            total,
        }
    }

    /// A step begins (`what` says what it does).
    pub fn step(&mut self, what: &str) {
        self.show(what);
        self.done = (self.done + 1).min(self.total);
    }

    /// Every step is done: the status line ends with a newline, so what follows starts clean.
    pub fn finish(&mut self, what: &str) {
        self.done = self.total;
        self.show(what);
        if self.style == Style::Redraw {
            let _ = writeln!(self.out);
        }
        let _ = self.out.flush();
    }

    /// The status line may be half drawn: end it before an error is printed.
    pub fn interrupt(&mut self) {
        if self.style == Style::Redraw && self.done > 0 && self.done < self.total {
            let _ = writeln!(self.out);
            let _ = self.out.flush();
        }
    }

    fn show(&mut self, what: &str) {
        let percent = (self.done * 100).checked_div(self.total).unwrap_or(100);
        // A progress line that cannot be written is not worth failing the demo over.
        let _ = match self.style {
            Style::Off => return,
            Style::Lines => writeln!(self.out, "[{:>3}%] {what}", percent),
            Style::Redraw => {
                let filled = (self.done * BAR_WIDTH)
                    .checked_div(self.total)
                    .unwrap_or(BAR_WIDTH)
                    .min(BAR_WIDTH);
                // \r back to the start, ESC[2K clears the line: a shorter text leaves no tail.
                write!(
                    self.out,
                    "\r\x1b[2K[{}{}] {percent:>3}%  {what}",
                    "#".repeat(filled),
                    ".".repeat(BAR_WIDTH - filled),
                )
            }
        };
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn played(style: Style) -> String {
        let mut out = Vec::new();
        let mut p = Progress::new(&mut out, style, 2);
        p.step("starting");
        p.step("checking");
        p.finish("done");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn without_a_terminal_each_step_is_one_line() {
        assert_eq!(
            played(Style::Lines),
            "[  0%] starting\n[ 50%] checking\n[100%] done\n"
        );
    }

    #[test]
    fn on_a_terminal_one_line_is_redrawn_and_ended_once() {
        let text = played(Style::Redraw);
        assert_eq!(text.matches('\r').count(), 3, "{text:?}");
        assert_eq!(text.matches('\n').count(), 1, "{text:?}");
        assert!(text.ends_with("[##############################] 100%  done\n"));
    }

    #[test]
    fn off_shows_nothing() {
        assert_eq!(played(Style::Off), "");
    }
}
