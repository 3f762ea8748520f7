//! Graph's judgement of one notification endpoint
//! (<https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks#throttling>):
//! every answer goes into a sliding window on the sandbox clock; too many slow answers delay new
//! notifications for a penalty, too many timeouts drop them for a penalty; when a penalty ends
//! the window is judged again. Pure bookkeeping: the delivery worker measures and reports.

use std::collections::VecDeque;

use super::super::types::{EndpointState, EndpointStats, SlowEndpointRules};

struct Answer {
    at_ms: i64,
    slow: bool,
    timed_out: bool,
}

#[derive(Default)]
pub(crate) struct EndpointHealth {
    window: VecDeque<Answer>,
    stats: EndpointStats,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl EndpointHealth {
    /// One answer (or timeout) to a POST, `slow` if over the delivery timeout, `timed_out` if it
    /// reached the retry timeout. May start a delay or a drop.
    pub fn record(&mut self, now_ms: i64, slow: bool, timed_out: bool, rules: &SlowEndpointRules) {
        self.stats.answers += 1;
        self.stats.slow_answers += u64::from(slow);
        self.stats.timeouts += u64::from(timed_out);
        self.window.push_back(Answer {
            at_ms: now_ms,
            slow,
            timed_out,
        });
        self.slide(now_ms, rules);
        let verdict = self.verdict(rules);
        let escalates = match (self.stats.state, verdict) {
            (EndpointState::Normal, v) => v != EndpointState::Normal,
            (EndpointState::Delayed, EndpointState::Dropping) => true,
            _ => false,
        };
        if escalates {
            self.stats.state = verdict;
            self.stats.state_until_ms = Some(now_ms.saturating_add(ms(rules.penalty)));
        }
    }

    /// The state at `now_ms`: a penalty that has run out is judged again on the current window.
    pub fn state_at(&mut self, now_ms: i64, rules: &SlowEndpointRules) -> EndpointState {
        self.slide(now_ms, rules);
        if self.stats.state_until_ms.is_some_and(|u| u <= now_ms) {
            let verdict = self.verdict(rules);
            self.stats.state = verdict;
            self.stats.state_until_ms = (verdict != EndpointState::Normal)
                .then(|| now_ms.saturating_add(ms(rules.penalty)));
        }
        self.stats.state
    }

    pub fn count_delayed(&mut self, n: u64) {
        self.stats.notifications_delayed += n;
    }

    pub fn count_dropped(&mut self, n: u64) {
        self.stats.notifications_dropped += n;
    }

    pub fn view(&self) -> EndpointStats {
        self.stats.clone()
    }

    fn slide(&mut self, now_ms: i64, rules: &SlowEndpointRules) {
        let oldest = now_ms.saturating_sub(ms(rules.window));
        while self.window.front().is_some_and(|a| a.at_ms <= oldest) {
            self.window.pop_front();
        }
        let n = self.window.len() as u64;
        let per_mille = |k: u64| (k * 1000).checked_div(n).unwrap_or(0) as u32;
        let slow = self.window.iter().filter(|a| a.slow).count() as u64;
        let timed_out = self.window.iter().filter(|a| a.timed_out).count() as u64;
        self.stats.window_answers = n;
        self.stats.slow_per_mille = per_mille(slow);
        self.stats.timeout_per_mille = per_mille(timed_out);
    }

    /// What the window calls for (after [`Self::slide`]).
    fn verdict(&self, rules: &SlowEndpointRules) -> EndpointState {
        let n = self.stats.window_answers;
        if n == 0 || n < rules.min_answers {
            return EndpointState::Normal;
        }
        let share = |per_mille: u32| f64::from(per_mille) / 1000.0;
        if share(self.stats.timeout_per_mille) > rules.timeout_share {
            EndpointState::Dropping
        } else if share(self.stats.slow_per_mille) > rules.slow_share {
            EndpointState::Delayed
        } else {
            EndpointState::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SlowEndpointRules {
        SlowEndpointRules {
            min_answers: 10,
            ..SlowEndpointRules::default()
        }
    }

    #[test]
    fn more_than_ten_percent_slow_delays_and_the_penalty_is_judged_again() {
        let (r, mut h) = (rules(), EndpointHealth::default());
        for i in 0..9 {
            h.record(i, false, false, &r);
        }
        h.record(9, true, false, &r);
        assert_eq!(
            h.view().state,
            EndpointState::Normal,
            "10 % is not more than 10 %"
        );
        h.record(10, true, false, &r);
        assert_eq!(h.view().state, EndpointState::Delayed);
        assert_eq!(h.view().slow_per_mille, 181);
        // Ten minutes on the window has slid past every answer: back to normal.
        assert_eq!(h.state_at(600_010, &r), EndpointState::Normal);
        assert_eq!(h.view().window_answers, 0);
    }

    #[test]
    fn more_than_fifteen_percent_timeouts_drop_and_a_bad_window_renews_the_penalty() {
        let (r, mut h) = (rules(), EndpointHealth::default());
        for i in 0..8 {
            h.record(i, false, false, &r);
        }
        for i in 8..10 {
            h.record(i, true, true, &r);
        }
        assert_eq!(h.view().state, EndpointState::Dropping);
        let until = h.view().state_until_ms.unwrap();
        assert_eq!(until, 9 + 600_000);
        // Still bad when the penalty ends (answers kept coming slowly): another ten minutes.
        for i in 0..10 {
            h.record(until - 100 + i, true, true, &r);
        }
        assert_eq!(h.state_at(until, &r), EndpointState::Dropping);
        assert_eq!(h.view().state_until_ms, Some(until + 600_000));
        assert_eq!(h.view().timeouts, 12);
    }

    #[test]
    fn too_few_answers_are_not_judged() {
        let (r, mut h) = (rules(), EndpointHealth::default());
        for i in 0..9 {
            h.record(i, true, true, &r);
        }
        assert_eq!(h.view().state, EndpointState::Normal);
    }
}
