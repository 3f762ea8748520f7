//! SIP text as this stand-in reads and writes it: a deliberately small parser of its own (start
//! line, headers with compact forms, body by Content-Length), independent of the connector's SIP
//! code so that each side checks the other.

use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Msg {
    /// `REGISTER sip:x SIP/2.0` or `SIP/2.0 200 OK`.
    pub start: String,
    /// Lower-cased full names (compact forms expanded) → values in order.
    pub headers: HashMap<String, Vec<String>>,
    pub body: Vec<u8>,
}

fn full_name(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    match n.as_str() {
        "v" => "via",
        "f" => "from",
        "t" => "to",
        "i" => "call-id",
        "m" => "contact",
        "l" => "content-length",
        "c" => "content-type",
        "o" => "event",
        "u" => "allow-events",
        _ => return n,
    }
    .to_string()
}

impl Msg {
    pub fn parse(bytes: &[u8]) -> Option<Msg> {
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&bytes[..split]).ok()?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?.to_string();
        let mut headers: HashMap<String, Vec<String>> = HashMap::new();
        let mut last: Option<String> = None;
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                // folded continuation of the previous header
                if let Some(v) = last
                    .as_ref()
                    .and_then(|k| headers.get_mut(k))
                    .and_then(|v| v.last_mut())
                {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            let (k, v) = line.split_once(':')?;
            let k = full_name(k);
            headers
                .entry(k.clone())
                .or_default()
                .push(v.trim().to_string());
            last = Some(k);
        }
        let rest = &bytes[split + 4..];
        let len = headers
            .get("content-length")
            .and_then(|v| v.first())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(rest.len());
        if rest.len() < len {
            return None;
        }
        Some(Msg {
            start,
            headers,
            body: rest[..len].to_vec(),
        })
    }

    pub fn is_request(&self) -> bool {
        !self.start.starts_with("SIP/2.0")
    }

    pub fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or("")
    }

    pub fn uri(&self) -> &str {
        self.start.split(' ').nth(1).unwrap_or("")
    }

    pub fn code(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub fn call_id(&self) -> &str {
        self.get("call-id").unwrap_or("")
    }

    pub fn tag(&self, header: &str) -> Option<String> {
        param(self.get(header)?, "tag")
    }

    pub fn branch(&self) -> Option<String> {
        param(self.get("via")?.split(',').next()?, "branch")
    }
}

/// `;name=value` after the URI of a header value.
pub fn param(value: &str, name: &str) -> Option<String> {
    let tail = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value.split_once(';').map_or("", |(_, t)| t),
    };
    tail.split(';').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The user part of `sip:user@host`, `<sip:user@host>` or `"N" <sip:user@host;x>`.
pub fn user_of(uri: &str) -> String {
    let inner = match (uri.find('<'), uri.find('>')) {
        (Some(a), Some(b)) if a < b => &uri[a + 1..b],
        _ => uri,
    };
    let no_scheme = inner
        .trim()
        .trim_start_matches("sips:")
        .trim_start_matches("sip:");
    no_scheme.split(['@', ';']).next().unwrap_or("").to_string()
}

pub fn response(
    req: &Msg,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra: &[(&str, String)],
) -> Vec<u8> {
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    for v in req.all("via") {
        s.push_str(&format!("Via: {v}\r\n"));
    }
    let to = req.get("to").unwrap_or("");
    let to = match to_tag {
        Some(t) if param(to, "tag").is_none() => format!("{to};tag={t}"),
        _ => to.to_string(),
    };
    s.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n",
        req.get("from").unwrap_or(""),
        req.call_id(),
        req.get("cseq").unwrap_or("")
    ));
    for (k, v) in extra {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("Server: presence-sandbox\r\nContent-Length: 0\r\n\r\n");
    s.into_bytes()
}
