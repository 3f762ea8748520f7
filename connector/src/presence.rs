//! SwyxServer's presence documents: PIDF (RFC 3863) whose tuples carry, besides `<basic>`, the
//! vendor element `<userstatus xmlns="http://sip.lanphone.de/presence/">` with values such as
//! `logged on`, `logged off`, `active` (speaking), `away`, `donotdisturb`.
//!
//! This is observed behaviour (third-party SIP clients: Twinkle's Swyx support, a pjsip report on
//! SwyxWare 13), not vendor documentation. So the value → state mapping is configuration
//! ([`PresenceConfig`]) and values nobody mapped are reported, not guessed.

use crate::config::PresenceConfig;

pub const SWYX_NS: &str = "http://sip.lanphone.de/presence/";
pub const PIDF_NS: &str = "urn:ietf:params:xml:ns:pidf";
/// A presence document is a few hundred bytes; anything this big is not one.
const MAX_BODY: usize = 64 * 1024;

/// What the connector acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceState {
    Speaking,
    Available,
    Away,
    DoNotDisturb,
    LoggedOff,
    /// A `<userstatus>` value no setting maps; logged and counted, changes nothing.
    Unknown(String),
}

/// The parts of one PIDF document that matter here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pidf {
    pub entity: Option<String>,
    /// Every `<userstatus>` value (one per tuple), trimmed and lower-cased.
    pub userstatus: Vec<String>,
    /// Every `<basic>` value, lower-cased.
    pub basic: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PidfError {
    #[error("presence document larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("presence document is not XML: {0}")]
    NotXml(String),
    #[error("the root element is not a PIDF <presence>")]
    NotPidf,
}

pub fn parse_pidf(body: &[u8]) -> Result<Pidf, PidfError> {
    if body.len() > MAX_BODY {
        return Err(PidfError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|e| PidfError::NotXml(e.to_string()))?;
    // roxmltree refuses DTDs by default: no entity expansion, no external references.
    let doc = roxmltree::Document::parse(text).map_err(|e| PidfError::NotXml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "presence" || root.tag_name().namespace() != Some(PIDF_NS) {
        return Err(PidfError::NotPidf);
    }
    let mut pidf = Pidf {
        entity: root.attribute("entity").map(str::to_string),
        ..Pidf::default()
    };
    for node in root.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name();
        let value = || node.text().unwrap_or("").trim().to_lowercase();
        if name.name() == "userstatus" && name.namespace() == Some(SWYX_NS) {
            pidf.userstatus.push(value());
        } else if name.name() == "basic" && name.namespace() == Some(PIDF_NS) {
            pidf.basic.push(value());
        }
    }
    Ok(pidf)
}

/// The user's state: with several tuples (devices) the most telling one wins, speaking first; an
/// absent vendor element falls back to `<basic>` (open = available, closed = logged off).
pub fn classify(cfg: &PresenceConfig, pidf: &Pidf) -> PresenceState {
    let known: Vec<PresenceState> = pidf.userstatus.iter().map(|v| state_of(cfg, v)).collect();
    let rank = |s: &PresenceState| match s {
        PresenceState::Speaking => 0,
        PresenceState::DoNotDisturb => 1,
        PresenceState::Away => 2,
        PresenceState::Available => 3,
        PresenceState::LoggedOff => 4,
        PresenceState::Unknown(_) => 5,
    };
    if let Some(best) = known.iter().min_by_key(|s| rank(s)) {
        return best.clone();
    }
    if pidf.basic.iter().any(|b| b == "open") {
        PresenceState::Available
    } else if pidf.basic.iter().any(|b| b == "closed") {
        PresenceState::LoggedOff
    } else {
        PresenceState::Unknown(String::new())
    }
}

fn state_of(cfg: &PresenceConfig, value: &str) -> PresenceState {
    let has = |list: &[String]| list.iter().any(|v| v == value);
    if has(&cfg.speaking) {
        PresenceState::Speaking
    } else if has(&cfg.do_not_disturb) {
        PresenceState::DoNotDisturb
    } else if has(&cfg.away) {
        PresenceState::Away
    } else if has(&cfg.available) {
        PresenceState::Available
    } else if has(&cfg.logged_off) {
        PresenceState::LoggedOff
    } else {
        PresenceState::Unknown(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(tuples: &[&str]) -> String {
        let t: String = tuples
            .iter()
            .enumerate()
            .map(|(i, s)| format!(
                "<tuple id=\"t{i}\"><status><basic>open</basic><sw:userstatus>{s}</sw:userstatus></status></tuple>"
            ))
            .collect();
        format!(
            "<?xml version=\"1.0\"?><presence xmlns=\"{PIDF_NS}\" xmlns:sw=\"{SWYX_NS}\" entity=\"sip:1001@swyx.local\">{t}</presence>"
        )
    }

    #[test]
    fn the_vendor_element_maps_with_the_defaults() {
        let cfg = PresenceConfig::default();
        for (wire, want) in [
            ("active", PresenceState::Speaking),
            (" Logged On ", PresenceState::Available),
            ("away", PresenceState::Away),
            ("donotdisturb", PresenceState::DoNotDisturb),
            ("logged off", PresenceState::LoggedOff),
            ("ringing", PresenceState::Unknown("ringing".into())),
        ] {
            let p = parse_pidf(doc(&[wire]).as_bytes()).unwrap();
            assert_eq!(classify(&cfg, &p), want, "{wire}");
            assert_eq!(p.entity.as_deref(), Some("sip:1001@swyx.local"));
        }
    }

    #[test]
    fn speaking_on_any_device_wins_and_basic_is_the_fallback() {
        let cfg = PresenceConfig::default();
        let p = parse_pidf(doc(&["logged on", "active"]).as_bytes()).unwrap();
        assert_eq!(classify(&cfg, &p), PresenceState::Speaking);
        let plain = format!(
            "<presence xmlns=\"{PIDF_NS}\" entity=\"sip:a@b\"><tuple id=\"x\"><status><basic>closed</basic></status></tuple></presence>"
        );
        assert_eq!(
            classify(&cfg, &parse_pidf(plain.as_bytes()).unwrap()),
            PresenceState::LoggedOff
        );
    }

    #[test]
    fn a_configured_value_is_honoured() {
        let cfg = PresenceConfig {
            speaking: vec!["active".into(), "ringing".into()],
            ..PresenceConfig::default()
        };
        let p = parse_pidf(doc(&["ringing"]).as_bytes()).unwrap();
        assert_eq!(classify(&cfg, &p), PresenceState::Speaking);
    }

    #[test]
    fn non_pidf_and_entity_tricks_are_refused() {
        assert_eq!(parse_pidf(b"<a/>"), Err(PidfError::NotPidf));
        assert!(matches!(parse_pidf(b"not xml"), Err(PidfError::NotXml(_))));
        let bomb = format!(
            "<!DOCTYPE p [<!ENTITY a \"aaaa\">]><presence xmlns=\"{PIDF_NS}\">&a;</presence>"
        );
        assert!(matches!(
            parse_pidf(bomb.as_bytes()),
            Err(PidfError::NotXml(_))
        ));
        assert_eq!(parse_pidf(&vec![b' '; 70_000]), Err(PidfError::TooLarge));
    }
}
