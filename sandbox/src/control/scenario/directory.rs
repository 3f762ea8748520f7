//! Scenario steps for the directories and Graph's own behaviour: Teams users' addresses and
//! state, groups, Swyx users' addresses and groups, `status.changed` on or off, late
//! subscription answers. Parsed before the presence steps, which they would otherwise look like.

use std::time::Duration;

use super::super::client::ScenarioClient;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectoryStep {
    TeamsMail {
        user: String,
        address: String,
    },
    TeamsAlias {
        user: String,
        address: String,
    },
    TeamsEnabled {
        user: String,
        enabled: bool,
    },
    TeamsDelete {
        user: String,
        forever: bool,
    },
    TeamsRestore {
        id: String,
    },
    TeamsGroup {
        group: String,
        members: Vec<String>,
    },
    SwyxEmail {
        user: String,
        address: Option<String>,
    },
    SwyxGroups {
        user: String,
        groups: Vec<String>,
    },
    SwyxRemove {
        user: String,
    },
    SwyxStatusEvents {
        on: bool,
    },
    GraphLate {
        seconds: Option<u64>,
    },
}

impl std::fmt::Display for DirectoryStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TeamsMail { user, address } => write!(f, "teams {user} mail {address}"),
            Self::TeamsAlias { user, address } => write!(f, "teams {user} alias {address}"),
            Self::TeamsEnabled { user, enabled } => {
                write!(
                    f,
                    "teams {user} {}",
                    if *enabled { "enable" } else { "disable" }
                )
            }
            Self::TeamsDelete { user, forever } => {
                write!(
                    f,
                    "teams {user} delete{}",
                    if *forever { " forever" } else { "" }
                )
            }
            Self::TeamsRestore { id } => write!(f, "teams {id} restore"),
            Self::TeamsGroup { group, members } => {
                write!(f, "teams group {group}")?;
                members.iter().try_for_each(|m| write!(f, " {m}"))
            }
            Self::SwyxEmail { user, address } => {
                write!(
                    f,
                    "swyx {user} email {}",
                    address.as_deref().unwrap_or("none")
                )
            }
            Self::SwyxGroups { user, groups } => {
                write!(f, "swyx {user} groups")?;
                groups.iter().try_for_each(|g| write!(f, " {g}"))
            }
            Self::SwyxRemove { user } => write!(f, "swyx {user} remove"),
            Self::SwyxStatusEvents { on } => {
                write!(f, "swyx events {}", if *on { "on" } else { "off" })
            }
            Self::GraphLate { seconds: Some(s) } => write!(f, "graph late {s}"),
            Self::GraphLate { seconds: None } => f.write_str("graph late off"),
        }
    }
}

/// `Some` if the words (`l` lower-cased, `w` as typed) are one of these steps.
pub(super) fn parse(l: &[&str], w: &[&str]) -> Option<Result<DirectoryStep, String>> {
    let s = |x: &str| x.to_string();
    let rest = |from: usize| w[from..].iter().map(|x| s(x)).collect::<Vec<_>>();
    Some(Ok(match l {
        ["teams", "group", _, ..] => DirectoryStep::TeamsGroup {
            group: s(w[2]),
            members: rest(3),
        },
        ["teams", _, "mail", _] => DirectoryStep::TeamsMail {
            user: s(w[1]),
            address: s(w[3]),
        },
        ["teams", _, "alias", _] => DirectoryStep::TeamsAlias {
            user: s(w[1]),
            address: s(w[3]),
        },
        ["teams", _, v @ ("disable" | "enable")] => DirectoryStep::TeamsEnabled {
            user: s(w[1]),
            enabled: *v == "enable",
        },
        ["teams", _, "delete"] => DirectoryStep::TeamsDelete {
            user: s(w[1]),
            forever: false,
        },
        ["teams", _, "delete", "forever"] => DirectoryStep::TeamsDelete {
            user: s(w[1]),
            forever: true,
        },
        ["teams", _, "restore"] => DirectoryStep::TeamsRestore { id: s(w[1]) },
        ["swyx", "events", v @ ("on" | "off")] => {
            DirectoryStep::SwyxStatusEvents { on: *v == "on" }
        }
        ["swyx", _, "email", "none"] => DirectoryStep::SwyxEmail {
            user: s(w[1]),
            address: None,
        },
        ["swyx", _, "email", _] => DirectoryStep::SwyxEmail {
            user: s(w[1]),
            address: Some(s(w[3])),
        },
        ["swyx", _, "groups", ..] => DirectoryStep::SwyxGroups {
            user: s(w[1]),
            groups: rest(3),
        },
        ["swyx", _, "remove"] => DirectoryStep::SwyxRemove { user: s(w[1]) },
        ["graph", "late", "off"] => DirectoryStep::GraphLate { seconds: None },
        ["graph", "late", n] => match n.trim_end_matches('s').parse::<u64>() {
            Ok(secs) if secs <= 3600 => DirectoryStep::GraphLate {
                seconds: Some(secs).filter(|s| *s > 0),
            },
            _ => {
                return Some(Err(format!(
                    "graph late {n:?}: write whole seconds up to 3600, or off"
                )));
            }
        },
        _ => return None,
    }))
}

/// Runs one step; the line to print.
pub(super) async fn run(c: &ScenarioClient, step: &DirectoryStep) -> anyhow::Result<String> {
    match step {
        DirectoryStep::TeamsMail { user, address } => c.teams_set_mail(user, address).await?,
        DirectoryStep::TeamsAlias { user, address } => c.teams_add_alias(user, address).await?,
        DirectoryStep::TeamsEnabled { user, enabled } => {
            c.teams_set_enabled(user, *enabled).await?
        }
        DirectoryStep::TeamsDelete { user, forever } => c.teams_delete_user(user, *forever).await?,
        DirectoryStep::TeamsRestore { id } => c.teams_restore_user(id).await?,
        DirectoryStep::TeamsGroup { group, members } => {
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            c.teams_put_group(group, group, &members).await?
        }
        DirectoryStep::SwyxEmail { user, address } => {
            c.swyx_update_user(user, Some(address.as_deref()), None)
                .await?
        }
        DirectoryStep::SwyxGroups { user, groups } => {
            let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
            c.swyx_update_user(user, None, Some(&groups)).await?
        }
        DirectoryStep::SwyxRemove { user } => c.swyx_remove_user(user).await?,
        DirectoryStep::SwyxStatusEvents { on } => c.swyx_status_events(*on).await?,
        DirectoryStep::GraphLate { seconds } => {
            c.graph_late_answers(seconds.map(Duration::from_secs))
                .await?
        }
    }
    Ok(step.to_string())
}
