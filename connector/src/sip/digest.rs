//! Digest authentication of the monitor user (RFC 3261 §22.4, computed as RFC 2617 §3.2.2 for
//! MD5 and RFC 7616 / RFC 8760 for SHA-256): the answer to a 401/407 challenge. MD5 comes from the
//! `md-5` crate (aws-lc-rs, our one crypto provider, does not offer MD5 for new use); SHA-256 from
//! aws-lc-rs.

use ezk_sip_types::header::typed::{AlgorithmValue, AuthChallenge, DigestChallenge, QopOption};
use md5::Digest as _;

#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Copy)]
enum Algo {
    Md5,
    Sha256,
}

impl Algo {
    fn hash(self, s: &str) -> String {
        match self {
            Algo::Md5 => hex(&md5::Md5::digest(s.as_bytes())),
            Algo::Sha256 => {
                hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes()).as_ref())
            }
        }
    }
}

/// The `Authorization` (for 401) or `Proxy-Authorization` (407) header value answering the first
/// challenge we can meet, or why none can be met.
pub fn authorize(
    challenges: &[AuthChallenge],
    creds: &Credentials,
    method: &str,
    uri: &str,
    nc: u32,
) -> Result<String, String> {
    let mut seen = Vec::new();
    for c in challenges {
        let AuthChallenge::Digest(d) = c else {
            continue;
        };
        let algo = match &d.algorithm {
            ezk_sip_types::header::typed::Algorithm::AlgorithmValue(AlgorithmValue::MD5) => {
                Algo::Md5
            }
            ezk_sip_types::header::typed::Algorithm::AlgorithmValue(AlgorithmValue::SHA256) => {
                Algo::Sha256
            }
            other => {
                seen.push(other.to_string());
                continue;
            }
        };
        return Ok(answer(d, algo, creds, method, uri, nc));
    }
    Err(if seen.is_empty() {
        "the server asked for authentication without a Digest challenge".into()
    } else {
        format!(
            "no supported digest algorithm offered ({})",
            seen.join(", ")
        )
    })
}

fn answer(
    d: &DigestChallenge,
    algo: Algo,
    creds: &Credentials,
    method: &str,
    uri: &str,
    nc: u32,
) -> String {
    let realm: &str = &d.realm;
    let nonce: &str = &d.nonce;
    let ha1 = algo.hash(&format!("{}:{realm}:{}", creds.username, creds.password));
    let ha2 = algo.hash(&format!("{method}:{uri}"));
    let algo_name = match algo {
        Algo::Md5 => "MD5",
        Algo::Sha256 => "SHA-256",
    };
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm={algo_name}",
        creds.username
    );
    if d.qop.contains(&QopOption::Auth) {
        let cnonce = format!("{:016x}", rand::random::<u64>());
        let nc = format!("{nc:08x}");
        let response = algo.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        v.push_str(&format!(
            ", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""
        ));
    } else {
        let response = algo.hash(&format!("{ha1}:{nonce}:{ha2}"));
        v.push_str(&format!(", response=\"{response}\""));
    }
    if let Some(opaque) = &d.opaque {
        v.push_str(&format!(", opaque=\"{}\"", &**opaque));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use ezk_sip_types::{Headers, Name};

    fn challenge(text: &'static str) -> Vec<AuthChallenge> {
        let mut h = Headers::new();
        h.insert(Name::WWW_AUTHENTICATE, text);
        h.get::<Vec<AuthChallenge>>(Name::WWW_AUTHENTICATE).unwrap()
    }

    #[test]
    fn rfc2617_example_response() {
        // RFC 2617 §3.5: Mufasa / Circle Of Life, GET /dir/index.html; its published response
        // is 6629fae49393a05397450978507c4ef1 with cnonce 0a4f113b — our cnonce is random, so
        // check the qop-less form, whose answer is fixed by the inputs alone.
        let c = challenge(
            "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        );
        let creds = Credentials {
            username: "Mufasa".into(),
            password: "Circle Of Life".into(),
        };
        let v = authorize(&c, &creds, "GET", "/dir/index.html", 1).unwrap();
        let ha1 = Algo::Md5.hash("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = Algo::Md5.hash("GET:/dir/index.html");
        let want = Algo::Md5.hash(&format!("{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{ha2}"));
        assert!(v.contains(&format!("response=\"{want}\"")), "{v}");
        assert!(v.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
        assert_eq!(Algo::Md5.hash(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn qop_auth_and_unsupported_algorithms() {
        let creds = Credentials {
            username: "m".into(),
            password: "p".into(),
        };
        let v = authorize(
            &challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth\""),
            &creds,
            "REGISTER",
            "sip:r",
            1,
        )
        .unwrap();
        assert!(v.contains("qop=auth") && v.contains("nc=00000001"), "{v}");
        let e = authorize(
            &challenge("Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5"),
            &creds,
            "REGISTER",
            "sip:r",
            1,
        )
        .unwrap_err();
        assert!(e.contains("AKAv1-MD5"), "{e}");
        assert_eq!(format!("{creds:?}"), "Credentials(m, ***)");
    }
}
