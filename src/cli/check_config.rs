//! `presence-bridge check-config`: validates a configuration file and its rules files, naming the
//! first problem, without starting anything.

use crate::domain::MappingRules;
use std::path::Path;

/// `Ok` with the line to print when the file (and its rules file) can be used.
pub fn run(path: &Path) -> anyhow::Result<String> {
    let cfg = super::config(path)?;
    if let Some(rules) = &cfg.rules_file {
        MappingRules::load(rules)?;
    }
    crate::app::load_overrides(&cfg)?;
    Ok(format!("{}: OK", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_override_rules_file_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("night.toml");
        std::fs::write(
            &rules,
            "[[rule]]\navailability = \"*\"\nactivity = \"*\"\nstatus = \"Speeking\"\n",
        )
        .unwrap();
        let config = dir.path().join("c.toml");
        let text = format!(
            r#"
[graph]
tenant_id = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93"
client_id = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0"
[[graph.encryption_keys]]
id = "k"
private_key = "file:/nonexistent.pem"
[connector]
url = "https://connector.example/"
signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
[[mapping.override]]
users = ["1001"]
file = "{}"
"#,
            rules.display()
        );
        std::fs::write(&config, text).unwrap();
        let e = format!("{:#}", run(&config).unwrap_err());
        assert!(
            e.contains("mapping.override")
                && e.contains("night.toml: line 4")
                && e.contains("Speeking"),
            "{e}"
        );
        std::fs::write(&rules, MappingRules::default_text()).unwrap();
        assert!(run(&config).is_ok());
    }
}
