//! SIP messages (RFC 3261 §7): parsing with `ezk-sip-types` (start line, header lines with compact
//! forms and folding, typed headers), framing by `Content-Length` for stream transports (§18.3),
//! and the few requests and responses the connector writes, as text.

use bytes::Bytes;
use ezk_sip_types::header::typed::{AuthChallenge, ContentLength};
use ezk_sip_types::msg::{Line, MessageLine, PullParser};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::{Headers, Name};

/// A stream message larger than this is refused (a presence document is a few hundred bytes).
pub const MAX_MESSAGE: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct Message {
    pub line: MessageLine,
    pub headers: Headers,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("incomplete SIP message")]
    Incomplete,
    #[error("malformed SIP message: {0}")]
    Malformed(String),
    #[error("SIP message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
}

impl Message {
    /// One complete message (a UDP datagram, or a frame cut by [`frame_len`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let buffer = Bytes::copy_from_slice(bytes);
        let mut parser = PullParser::new(&buffer, 0);
        let mut line = None;
        let mut headers = Headers::new();
        for item in &mut parser {
            let raw = item.map_err(|_| ParseError::Incomplete)?;
            let text = std::str::from_utf8(raw)
                .map_err(|_| ParseError::Malformed("header line is not UTF-8".into()))?;
            if line.is_none() {
                let (_, l) = MessageLine::parse(&buffer)(text).map_err(|_| {
                    ParseError::Malformed(format!("bad start line {:?}", clip(text)))
                })?;
                line = Some(l);
            } else {
                let (_, l) = Line::parse(&buffer, text).map_err(|_| {
                    ParseError::Malformed(format!("bad header line {:?}", clip(text)))
                })?;
                headers.insert(l.name, l.value);
            }
        }
        let line = line.ok_or_else(|| ParseError::Malformed("empty message".into()))?;
        let head_end = parser.head_end();
        let body = match headers.get_named::<ContentLength>() {
            Ok(ContentLength(0)) => Bytes::new(),
            // Refused before any arithmetic: the length comes from the wire.
            Ok(ContentLength(n)) if n > MAX_MESSAGE => return Err(ParseError::TooLarge),
            Ok(ContentLength(n)) => match head_end.checked_add(n) {
                Some(end) if end <= buffer.len() => buffer.slice(head_end..end),
                _ => return Err(ParseError::Incomplete),
            },
            // UDP may omit Content-Length (§18.3): the body is the rest of the datagram.
            Err(_) => buffer.slice(head_end.min(buffer.len())..),
        };
        Ok(Self {
            line,
            headers,
            body,
        })
    }

    pub fn code(&self) -> Option<u16> {
        match &self.line {
            MessageLine::Response(s) => Some(s.code.into_u16()),
            MessageLine::Request(_) => None,
        }
    }

    pub fn method(&self) -> Option<String> {
        match &self.line {
            MessageLine::Request(r) => Some(r.method.to_string()),
            MessageLine::Response(_) => None,
        }
    }

    /// The first value of a header, as received.
    pub fn header(&self, name: &Name) -> Option<&str> {
        self.headers.get_raw(name).next().map(|v| &**v)
    }

    pub fn all(&self, name: &Name) -> Vec<&str> {
        self.headers.get_raw(name).map(|v| &**v).collect()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header(&Name::CALL_ID).map(str::trim)
    }

    /// The top Via's branch: the transaction key (§17.1.3, §17.2.3).
    pub fn branch(&self) -> Option<String> {
        let via = self.header(&Name::VIA)?;
        // Several Vias may share one header line; the first is the top one.
        let top = via.split(',').next()?;
        param(top, "branch")
    }

    pub fn cseq(&self) -> Option<(u32, String)> {
        let v = self.header(&Name::CSEQ)?;
        let mut it = v.split_whitespace();
        Some((it.next()?.parse().ok()?, it.next()?.to_ascii_uppercase()))
    }

    pub fn from_tag(&self) -> Option<String> {
        param(self.header(&Name::FROM)?, "tag")
    }

    pub fn to_tag(&self) -> Option<String> {
        param(self.header(&Name::TO)?, "tag")
    }

    /// `Expires` as seconds.
    pub fn expires(&self) -> Option<u32> {
        self.header(&Name::EXPIRES)?.trim().parse().ok()
    }

    /// The URI inside the first Contact (`<sip:…>` or bare), without parameters.
    pub fn contact_uri(&self) -> Option<String> {
        let c = self.header(&Name::CONTACT)?;
        angle_uri(c)
    }

    pub fn digest_challenges(&self) -> Vec<AuthChallenge> {
        let mut out = Vec::new();
        for name in [Name::WWW_AUTHENTICATE, Name::PROXY_AUTHENTICATE] {
            if let Ok(list) = self.headers.get::<Vec<AuthChallenge>>(name) {
                out.extend(list);
            }
        }
        out
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// `;name=value` from a header value (case-insensitive name, quotes removed).
pub fn param(value: &str, name: &str) -> Option<String> {
    // Parameters follow the URI's closing '>' if there is one, so a URI parameter is not taken.
    let tail = value.rsplit_once('>').map_or(value, |(_, t)| t);
    tail.split(';')
        .skip(if value.contains('>') { 0 } else { 1 })
        .find_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().trim_matches('"').to_string())
        })
}

/// The URI in `"Name" <sip:a@b;x=y>;p=q` or `sip:a@b;p=q`.
pub fn angle_uri(value: &str) -> Option<String> {
    if let (Some(a), Some(b)) = (value.find('<'), value.find('>')) {
        return (a < b).then(|| value[a + 1..b].trim().to_string());
    }
    let v = value.trim();
    Some(v.split(';').next().unwrap_or(v).trim().to_string()).filter(|s| !s.is_empty())
}

/// For stream transports: the length of the first complete message in `buf`, `Ok(None)` when
/// more bytes are needed. Leading CRLFs (keep-alives, RFC 5626 §3.5.1) are counted as a frame.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let crlf = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if crlf > 0 {
        return Ok(Some(crlf));
    }
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) else {
        return if buf.len() > MAX_MESSAGE {
            Err(ParseError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut len = 0usize;
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-length") || k == "l" {
                len = v
                    .trim()
                    .parse()
                    .map_err(|_| ParseError::Malformed("bad Content-Length".into()))?;
            }
        }
    }
    let total = head_end
        .checked_add(len)
        .filter(|t| *t <= MAX_MESSAGE)
        .ok_or(ParseError::TooLarge)?;
    Ok((buf.len() >= total).then_some(total))
}

/// A request the connector sends. Headers are written in this order; `Content-Length` last.
pub struct Outgoing {
    pub method: &'static str,
    pub uri: String,
    pub via: String,
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: u32,
    pub contact: String,
    pub extra: Vec<(String, String)>,
}

impl Outgoing {
    pub fn render(&self) -> Vec<u8> {
        let mut s = format!(
            "{} {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {}\r\nContact: {}\r\n",
            self.method,
            self.uri,
            self.via,
            self.from,
            self.to,
            self.call_id,
            self.cseq,
            self.method,
            self.contact
        );
        for (k, v) in &self.extra {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str(concat!(
            "User-Agent: swyx-connector/",
            env!("CARGO_PKG_VERSION"),
            "\r\nContent-Length: 0\r\n\r\n"
        ));
        s.into_bytes()
    }
}

/// A response to `req` (§8.2.6): Via, From, Call-ID and CSeq copied, our tag added to To.
pub fn response(req: &Message, code: u16, reason: &str, to_tag: &str) -> Vec<u8> {
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    for v in req.all(&Name::VIA) {
        s.push_str(&format!("Via: {v}\r\n"));
    }
    let to = req.header(&Name::TO).unwrap_or("");
    let to = if param(to, "tag").is_some() {
        to.to_string()
    } else {
        format!("{to};tag={to_tag}")
    };
    s.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        req.header(&Name::FROM).unwrap_or(""),
        req.call_id().unwrap_or(""),
        req.header(&Name::CSEQ).unwrap_or(""),
    ));
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTIFY: &[u8] = b"NOTIFY sip:monitor@10.0.0.9:5070 SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKabc;rport\r\n\
f: <sip:1001@swyx.local>;tag=srv1\r\n\
t: <sip:monitor@swyx.local>;tag=mon1\r\n\
i: call-1@10.0.0.9\r\n\
CSeq: 2 NOTIFY\r\n\
o: presence\r\n\
Subscription-State: active;expires=598\r\n\
Content-Type: application/pidf+xml\r\n\
l: 5\r\n\r\nhello";

    #[test]
    fn parses_compact_headers_and_the_body() {
        let m = Message::parse(NOTIFY).unwrap();
        assert_eq!(m.method().as_deref(), Some("NOTIFY"));
        assert_eq!(m.branch().as_deref(), Some("z9hG4bKabc"));
        assert_eq!(m.call_id(), Some("call-1@10.0.0.9"));
        assert_eq!(m.cseq(), Some((2, "NOTIFY".into())));
        assert_eq!(
            (m.from_tag().as_deref(), m.to_tag().as_deref()),
            (Some("srv1"), Some("mon1"))
        );
        assert_eq!(&m.body[..], b"hello");
        let r = Message::parse(&response(&m, 200, "OK", "x")).unwrap();
        assert_eq!(r.code(), Some(200));
        assert_eq!(r.branch().as_deref(), Some("z9hG4bKabc"));
        assert_eq!(r.to_tag().as_deref(), Some("mon1"));
    }

    #[test]
    fn frames_a_stream_and_refuses_garbage() {
        let mut two = NOTIFY.to_vec();
        two.extend_from_slice(NOTIFY);
        assert_eq!(frame_len(&two).unwrap(), Some(NOTIFY.len()));
        assert_eq!(frame_len(&NOTIFY[..NOTIFY.len() - 1]).unwrap(), None);
        assert_eq!(frame_len(b"\r\n\r\nINVITE").unwrap(), Some(4));
        assert!(Message::parse(b"HELLO\r\n\r\n").is_err());
        assert_eq!(
            param("<sip:a@b;transport=tcp>;expires=60", "transport"),
            None
        );
        assert_eq!(
            param("<sip:a@b>;expires=60", "expires").as_deref(),
            Some("60")
        );
        assert_eq!(param("active;expires=30", "expires").as_deref(), Some("30"));
    }

    #[test]
    fn a_content_length_beyond_the_limit_is_refused_not_a_panic() {
        for len in [
            usize::MAX.to_string(),
            (usize::MAX - 10).to_string(),
            (MAX_MESSAGE + 1).to_string(),
        ] {
            let msg = format!(
                "NOTIFY sip:m@h SIP/2.0\r\nCall-ID: c\r\nContent-Length: {len}\r\n\r\nhello"
            );
            assert_eq!(
                frame_len(msg.as_bytes()),
                Err(ParseError::TooLarge),
                "{len}"
            );
            assert_eq!(
                Message::parse(msg.as_bytes()).err(),
                Some(ParseError::TooLarge),
                "{len}"
            );
        }
        // A length the datagram does not hold is still just incomplete.
        let short = b"NOTIFY sip:m@h SIP/2.0\r\nCall-ID: c\r\nContent-Length: 9\r\n\r\nhello";
        assert_eq!(Message::parse(short).err(), Some(ParseError::Incomplete));
    }
}
