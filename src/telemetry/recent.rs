//! The last warnings and errors this process logged, kept in memory for the admin page: what went
//! wrong recently, not only what is failing right now (the store keeps the last error of each
//! account and delivery, not a history). A bounded ring: the oldest entry goes first.

use crate::domain::Timestamp;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Entries kept; older ones are dropped.
pub const CAPACITY: usize = 100;
/// One entry's text is cut here (a log line is never this long unless something went badly).
const MAX_TEXT: usize = 1_000;

/// One warning or error as logged: its time, level, module and message with its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentEvent {
    pub at: Timestamp,
    pub level: Level,
    pub target: String,
    pub text: String,
}

/// The ring of recent warnings and errors; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct RecentEvents(Arc<Mutex<VecDeque<RecentEvent>>>);

impl RecentEvents {
    /// Newest first.
    pub fn newest_first(&self) -> Vec<RecentEvent> {
        let ring = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ring.iter().rev().cloned().collect()
    }

    fn push(&self, event: RecentEvent) {
        let mut ring = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.len() == CAPACITY {
            ring.pop_front();
        }
        ring.push_back(event);
    }

    /// A layer that records this process's warnings and errors into the ring.
    pub fn layer(&self) -> RecentLayer {
        RecentLayer(self.clone())
    }
}

/// The process's ring, which `telemetry::init` fills and the admin page reads.
pub fn global() -> &'static RecentEvents {
    static RECENT: OnceLock<RecentEvents> = OnceLock::new();
    RECENT.get_or_init(RecentEvents::default)
}

pub struct RecentLayer(RecentEvents);

impl<S: Subscriber> Layer<S> for RecentLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::WARN {
            return; // INFO, DEBUG, TRACE: the log has them
        }
        let mut text = Text::default();
        event.record(&mut text);
        let mut text = text.0;
        if text.len() > MAX_TEXT {
            let mut cut = MAX_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        self.0.push(RecentEvent {
            at: Timestamp::now(),
            level,
            target: event.metadata().target().to_string(),
            text,
        });
    }
}

/// The message, then `field=value` for the other fields, as the text log shows them.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}");
            if !rest.is_empty() {
                self.0.push(' ');
                self.0.push_str(&rest);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Strings without Debug's quotes and escapes, as the text log prints them.
        self.record_debug(field, &format_args!("{value}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn warnings_and_errors_are_kept_newest_first_and_the_ring_is_bounded() {
        let recent = RecentEvents::default();
        let subscriber = tracing_subscriber::registry().with(recent.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not kept");
            tracing::warn!(swyx_user = "1001", attempts = 3, "delivery failed");
            tracing::error!(error = "connection refused", "connector unreachable");
        });
        let kept = recent.newest_first();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].level, Level::ERROR);
        assert_eq!(
            kept[0].text,
            "connector unreachable error=connection refused"
        );
        assert_eq!(kept[1].text, "delivery failed swyx_user=1001 attempts=3");

        let subscriber = tracing_subscriber::registry().with(recent.layer());
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..CAPACITY + 5 {
                tracing::warn!(i, "again");
            }
        });
        let kept = recent.newest_first();
        assert_eq!(kept.len(), CAPACITY);
        assert_eq!(kept[0].text, format!("again i={}", CAPACITY + 4));
    }

    #[test]
    fn a_huge_message_is_cut_on_a_character_boundary() {
        let recent = RecentEvents::default();
        let subscriber = tracing_subscriber::registry().with(recent.layer());
        let long = "é".repeat(MAX_TEXT);
        tracing::subscriber::with_default(subscriber, || tracing::warn!("{long}"));
        let text = &recent.newest_first()[0].text;
        assert!(text.len() <= MAX_TEXT + '…'.len_utf8());
        assert!(text.ends_with('…'));
    }
}
