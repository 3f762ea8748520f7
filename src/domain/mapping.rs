//! The Teams → Swyx mapping: an ordered list of rules, first match wins, no match is "no sync".
//! The default is the table of Swyx's own help page (`default_rules.toml`,
//! docs/architecture.md#default-status-mapping); an operator's file replaces it and is validated
//! when it is loaded, with errors that name the line.

use super::{MappedStatus, TeamsPresence};
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

const DEFAULT_RULES: &str = include_str!("default_rules.toml");

/// A field pattern: `"*"` matches anything, otherwise any of the listed values (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    OneOf(Vec<String>),
}

impl Pattern {
    fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::OneOf(values) => values.iter().any(|v| v.eq_ignore_ascii_case(value)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    availability: Pattern,
    activity: Pattern,
    out_of_office: Option<bool>,
    pub status: MappedStatus,
    /// 1-based line of the rule's `[[rule]]` header in its file.
    pub line: usize,
}

impl Rule {
    fn matches(&self, p: &TeamsPresence) -> bool {
        self.availability.matches(p.availability.as_str())
            && self.activity.matches(p.activity.as_str())
            && self.out_of_office.is_none_or(|oof| oof == p.out_of_office)
    }

    fn matches_everything(&self) -> bool {
        self.availability == Pattern::Any
            && self.activity == Pattern::Any
            && self.out_of_office.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRules {
    rules: Vec<Rule>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RulesError {
    #[error("{source_name}: line {line}: {problem}")]
    Invalid {
        source_name: String,
        line: usize,
        problem: String,
    },
    #[error("{source_name}: cannot read the rules file: {problem}")]
    Unreadable {
        source_name: String,
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    availability: Option<Spanned<RawPattern>>,
    activity: Option<Spanned<RawPattern>>,
    out_of_office: Option<bool>,
    status: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPattern {
    One(String),
    Many(Vec<String>),
}

impl Default for MappingRules {
    fn default() -> Self {
        // The embedded default is checked by a unit test; failing here would be a build defect.
        Self::parse(DEFAULT_RULES, "default rules").unwrap_or(Self { rules: Vec::new() })
    }
}

impl MappingRules {
    /// Maps one presence: the first matching rule decides; none matching is "no sync".
    pub fn map(&self, presence: &TeamsPresence) -> MappedStatus {
        self.rules
            .iter()
            .find(|r| r.matches(presence))
            .map_or(MappedStatus::NoSync, |r| r.status)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn default_text() -> &'static str {
        DEFAULT_RULES
    }

    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RulesError::Unreadable {
            source_name: name.clone(),
            problem: e.to_string(),
        })?;
        Self::parse(&text, &name)
    }

    pub fn parse(text: &str, source_name: &str) -> Result<Self, RulesError> {
        let invalid = |offset: usize, problem: String| RulesError::Invalid {
            source_name: source_name.to_string(),
            line: line_of(text, offset),
            problem,
        };
        let file: RulesFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            invalid(offset, e.message().trim().to_string())
        })?;
        if file.rule.is_empty() {
            return Err(invalid(
                0,
                "no [[rule]] tables: a rules file needs at least one rule".to_string(),
            ));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(file.rule.len());
        for spanned in file.rule {
            let rule_offset = spanned.span().start;
            let raw = spanned.into_inner();
            let line = line_of(text, rule_offset);
            let pattern = |field: &str, p: Option<Spanned<RawPattern>>| match p {
                None => Err(invalid(
                    rule_offset,
                    format!("rule has no `{field}` (use \"*\" to match any value)"),
                )),
                Some(p) => {
                    let offset = p.span().start;
                    let values = match p.into_inner() {
                        RawPattern::One(v) => vec![v],
                        RawPattern::Many(v) => v,
                    };
                    if values.is_empty() {
                        return Err(invalid(offset, format!("`{field}` is an empty list")));
                    }
                    if values.iter().any(|v| v.trim().is_empty()) {
                        return Err(invalid(offset, format!("`{field}` has an empty value")));
                    }
                    if values.iter().any(|v| v == "*") {
                        if values.len() > 1 {
                            return Err(invalid(
                                offset,
                                format!("`{field}` mixes \"*\" with other values"),
                            ));
                        }
                        return Ok(Pattern::Any);
                    }
                    Ok(Pattern::OneOf(
                        values.into_iter().map(|v| v.trim().to_string()).collect(),
                    ))
                }
            };
            let availability = pattern("availability", raw.availability)?;
            let activity = pattern("activity", raw.activity)?;
            let status = match raw.status {
                None => return Err(invalid(rule_offset, "rule has no `status`".to_string())),
                Some(s) => {
                    let offset = s.span().start;
                    s.into_inner()
                        .parse::<MappedStatus>()
                        .map_err(|e| invalid(offset, e))?
                }
            };
            let rule = Rule {
                availability,
                activity,
                out_of_office: raw.out_of_office,
                status,
                line,
            };
            if let Some(catch_all) = rules.iter().find(|r| r.matches_everything()) {
                return Err(invalid(
                    rule_offset,
                    format!(
                        "rule can never match: the rule at line {} matches every presence first",
                        catch_all.line
                    ),
                ));
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod graph_samples;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SwyxStatus::*;

    fn map(av: &str, act: &str, oof: bool) -> MappedStatus {
        MappingRules::default().map(&TeamsPresence::new(av, act).with_out_of_office(oof))
    }

    #[test]
    fn default_rules_parse() {
        let rules = MappingRules::parse(DEFAULT_RULES, "default").expect("default rules are valid");
        assert_eq!(rules.rules().len(), 14);
    }

    /// Every row of the default table (docs/architecture.md#default-status-mapping).
    #[test]
    fn default_table() {
        use MappedStatus::{NoSync, Swyx};
        let rows: &[(&str, &str, bool, MappedStatus)] = &[
            ("Available", "Available", false, Swyx(Available)),
            ("Available", "OutOfOffice", false, Swyx(Available)),
            ("Available", "Available", true, Swyx(Available)),
            ("Busy", "Busy", false, Swyx(Away)),
            ("Busy", "InACall", false, Swyx(Speaking)),
            ("Busy", "InAConferenceCall", false, Swyx(Speaking)),
            ("Busy", "InAMeeting", false, Swyx(Away)),
            ("Busy", "InACall", true, Swyx(Speaking)),
            ("DoNotDisturb", "DoNotDisturb", false, Swyx(DoNotDisturb)),
            ("DoNotDisturb", "Presenting", false, Swyx(Speaking)),
            ("DoNotDisturb", "Focusing", false, Swyx(DoNotDisturb)),
            (
                "DoNotDisturb",
                "UrgentInterruptionsOnly",
                false,
                Swyx(DoNotDisturb),
            ),
            ("Away", "Away", false, Swyx(Away)),
            ("AvailableIdle", "Available", false, Swyx(Away)),
            ("BusyIdle", "Busy", false, Swyx(Away)),
            ("Away", "Inactive", false, Swyx(Away)),
            ("BeRightBack", "BeRightBack", false, Swyx(Away)),
            ("Away", "BeRightBack", false, Swyx(Away)),
            ("Available", "AvailableInactive", false, Swyx(Away)),
            ("Offline", "OffWork", false, Swyx(Away)),
            ("Offline", "Offline", false, NoSync),
            ("PresenceUnknown", "PresenceUnknown", false, NoSync),
            ("Offline", "OutOfOffice", false, NoSync),
            ("OutOfOffice", "OutOfOffice", false, NoSync),
            ("SomethingNew", "Available", false, NoSync),
            ("Busy", "SomethingNew", false, NoSync),
        ];
        for (av, act, oof, want) in rows {
            assert_eq!(map(av, act, *oof), *want, "{av}/{act} oof={oof}");
        }
    }

    #[test]
    fn casing_does_not_matter() {
        assert_eq!(map("busy", "inACall", false), MappedStatus::Swyx(Speaking));
        assert_eq!(
            map("DONOTDISTURB", "presenting", false),
            MappedStatus::Swyx(Speaking)
        );
    }

    #[test]
    fn operator_rules_replace_the_default() {
        let text = "[[rule]]\navailability = \"Offline\"\nactivity = \"*\"\nstatus = \"Away\"\n\n[[rule]]\navailability = \"*\"\nactivity = \"*\"\nout_of_office = true\nstatus = \"dnd\"\n";
        let rules = MappingRules::parse(text, "ops.toml").unwrap();
        assert_eq!(
            rules.map(&TeamsPresence::new("Offline", "Offline")),
            MappedStatus::Swyx(Away)
        );
        assert_eq!(
            rules.map(&TeamsPresence::new("Available", "Available").with_out_of_office(true)),
            MappedStatus::Swyx(DoNotDisturb)
        );
        assert_eq!(
            rules.map(&TeamsPresence::new("Available", "Available")),
            MappedStatus::NoSync
        );
    }

    fn err(text: &str) -> (usize, String) {
        match MappingRules::parse(text, "ops.toml") {
            Err(RulesError::Invalid { line, problem, .. }) => (line, problem),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn bad_files_name_the_line_and_the_problem() {
        let (line, problem) =
            err("[[rule]]\navailability = \"Busy\"\nactivity = \"*\"\nstatus = \"Speeking\"\n");
        assert_eq!(line, 4);
        assert!(problem.contains("Speeking"), "{problem}");

        let (line, problem) = err(
            "[[rule]]\navailability = \"Busy\"\nactivity = \"*\"\nstatus = \"Away\"\ncolour = \"red\"\n",
        );
        assert_eq!(line, 5);
        assert!(problem.contains("colour"), "{problem}");

        let (line, problem) = err("\n\n[[rule]]\navailability = \"Busy\"\nstatus = \"Away\"\n");
        assert_eq!(line, 3);
        assert!(problem.contains("activity"), "{problem}");

        let (line, problem) =
            err("[[rule]]\navailability = []\nactivity = \"*\"\nstatus = \"Away\"\n");
        assert_eq!(line, 2);
        assert!(problem.contains("empty"), "{problem}");

        let (line, problem) =
            err("[[rule]]\navailability = \"Busy\"\nactivity = \"*\"\nstatus = \"Away\"\n[[rule\n");
        assert_eq!(line, 5);
        assert!(!problem.is_empty());

        let (line, problem) = err(
            "[[rule]]\navailability = \"*\"\nactivity = \"*\"\nstatus = \"Away\"\n[[rule]]\navailability = \"Busy\"\nactivity = \"*\"\nstatus = \"Away\"\n",
        );
        assert_eq!(line, 5);
        assert!(
            problem.contains("never match") && problem.contains("line 1"),
            "{problem}"
        );

        let (_, problem) = err("# nothing here\n");
        assert!(problem.contains("at least one rule"));
    }
}
