//! The LDAP directory source against a real OpenLDAP `slapd` (Debian's package, started here on a
//! free loopback port with a temporary configuration and a small directory, then stopped). The
//! attribute names are the configurable ones an Active Directory site would change.

use crate::support::*;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";

struct Slapd {
    child: Child,
    port: u16,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn need(path: &str) {
    assert!(
        std::path::Path::new(path).exists(),
        "{path} is missing: run scripts/install-system-deps.sh (Debian packages slapd, ldap-utils)"
    );
}

fn start_slapd(dir: &std::path::Path) -> Slapd {
    need(SLAPD);
    need(SLAPADD);
    let db = dir.join("db");
    std::fs::create_dir_all(&db).unwrap();
    let conf = dir.join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {pid}\n\
             database mdb\nmaxsize 10485760\nsuffix \"dc=example,dc=test\"\nrootdn \"cn=admin,dc=example,dc=test\"\nrootpw reader-secret\ndirectory {db}\n",
            pid = dir.join("slapd.pid").display(),
            db = db.display()
        ),
    )
    .unwrap();
    let ldif = dir.join("users.ldif");
    std::fs::write(
        &ldif,
        "dn: dc=example,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: ou=people,dc=example,dc=test\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: uid=alice,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Example\nsn: Example\n\
         displayName: Alice Example\nmail: alice@example.com\nemployeeNumber: 1001\nlabeledURI: sip:alice@swyx.test\n\
         departmentNumber: Sales\ndepartmentNumber: Berlin\n\n\
         dn: uid=bob,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob Example\nsn: Example\n\
         employeeNumber: 1002\n\n\
         dn: uid=svc,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: svc\ncn: Service\nsn: Service\n\n",
    )
    .unwrap();
    let out = Command::new(SLAPADD)
        .arg("-f")
        .arg(&conf)
        .arg("-l")
        .arg(&ldif)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "slapadd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(SLAPD)
        .arg("-f")
        .arg(&conf)
        .arg("-h")
        .arg(format!("ldap://127.0.0.1:{port}/"))
        .args(["-d", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let slapd = Slapd { child, port };
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "slapd did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    slapd
}

fn ldap_section(port: u16, password: &str) -> String {
    format!(
        "[directory]\nsource = \"ldap\"\n[directory.ldap]\nurl = \"ldap://127.0.0.1:{port}\"\nbind_dn = \"cn=admin,dc=example,dc=test\"\nbind_password = \"{password}\"\n\
         base_dn = \"ou=people,dc=example,dc=test\"\nfilter = \"(objectClass=inetOrgPerson)\"\nattr_id = \"employeeNumber\"\nattr_name = \"displayName\"\n\
         attr_email = \"mail\"\nattr_sip_uri = \"labeledURI\"\nattr_groups = \"departmentNumber\"\n"
    )
}

fn ldap_config(dir: &std::path::Path, port: u16, password: &str) -> swyx_connector::Config {
    let text = format!(
        "[store]\npath = \"c.db\"\n[bridge]\nevents_url = \"http://127.0.0.1:9/swyx/events\"\ninbound_secrets = [\"{INBOUND}\"]\noutbound_secret = \"{OUTBOUND}\"\n\
         [sip]\nenabled = false\n[writer]\nkind = \"log\"\n{}",
        ldap_section(port, password)
    );
    swyx_connector::Config::parse(&text, dir).unwrap()
}

#[tokio::test]
async fn users_come_from_ldap_with_configured_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let slapd = start_slapd(dir.path());
    let cfg = ldap_config(dir.path(), slapd.port, "reader-secret");
    let mut users = swyx_connector::directory::load(&cfg.directory)
        .await
        .unwrap();
    users.sort_by(|a, b| a.swyx_user_id.cmp(&b.swyx_user_id));
    assert_eq!(
        users.len(),
        2,
        "the entry without an id is skipped: {users:?}"
    );
    assert_eq!(users[0].swyx_user_id, "1001");
    assert_eq!(users[0].name, "Alice Example");
    assert_eq!(users[0].email.as_deref(), Some("alice@example.com"));
    assert_eq!(users[0].sip_uri.as_deref(), Some("sip:alice@swyx.test"));
    assert_eq!(users[0].groups, ["Sales", "Berlin"]);
    assert_eq!(
        (users[1].name.as_str(), users[1].email.as_deref()),
        ("1002", None)
    );

    let wrong = ldap_config(dir.path(), slapd.port, "not-the-password");
    let e = swyx_connector::directory::load(&wrong.directory)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bind as cn=admin,dc=example,dc=test") && !e.contains("not-the-password"),
        "{e}"
    );
}
