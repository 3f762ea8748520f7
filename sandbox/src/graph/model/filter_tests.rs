use super::super::filter_parse::parse;
use super::*;

const USER_PROPS: &[Prop] = &[
    Prop::Id,
    Prop::DisplayName,
    Prop::Mail,
    Prop::UserPrincipalName,
    Prop::AccountEnabled,
];

struct U {
    mail: Option<&'static str>,
    upn: &'static str,
    enabled: bool,
    proxies: Vec<String>,
}

impl Fields for U {
    fn text(&self, prop: Prop) -> Option<&str> {
        match prop {
            Prop::Mail => self.mail,
            Prop::UserPrincipalName | Prop::Id | Prop::DisplayName => Some(self.upn),
            Prop::AccountEnabled => None,
        }
    }
    fn flag(&self, prop: Prop) -> Option<bool> {
        (prop == Prop::AccountEnabled).then_some(self.enabled)
    }
    fn proxies(&self) -> &[String] {
        &self.proxies
    }
}

fn anna() -> U {
    U {
        mail: Some("Anna@Contoso.example"),
        upn: "anna@contoso.example",
        enabled: true,
        proxies: vec![
            "SMTP:Anna@Contoso.example".into(),
            "smtp:a.k@contoso.example".into(),
        ],
    }
}

fn check(filter: &str) -> bool {
    parse(filter, "User", USER_PROPS).unwrap().matches(&anna())
}

#[test]
fn addresses_match_ignoring_case_and_combine_with_and_or() {
    assert!(check("mail eq 'anna@contoso.EXAMPLE'"));
    assert!(check(
        "proxyAddresses/any(p:p eq 'SMTP:A.K@contoso.example')"
    ));
    assert!(check(
        "userPrincipalName in ('x@y.z', 'ANNA@contoso.example')"
    ));
    assert!(check(
        "accountEnabled eq true and (mail eq 'x@y.z' or mail in ('anna@contoso.example'))"
    ));
    assert!(!check("accountEnabled eq false or mail eq null"));
    assert!(check("not(mail eq 'x@y.z') and mail ne null"));
    assert!(check("proxyAddresses/any(x:startsWith(x, 'smtp:a.'))"));
    assert!(check("endsWith(mail,'@contoso.example')"));
    assert!(
        check("mail eq 'it''s' or id eq 'anna@contoso.example'"),
        "'' escapes a quote"
    );
}

#[test]
fn the_limits_and_advanced_operators_are_measured() {
    let e = parse(
        "id in ('1','2','3') or mail eq 'a@b.c' or not (accountEnabled eq true)",
        "User",
        USER_PROPS,
    )
    .unwrap();
    assert_eq!((e.expressions(), e.or_clauses(), e.uses_in()), (5, 3, true));
    assert_eq!(e.advanced_operator(), Some("not"));
    let e = parse(
        "proxyAddresses/any(p:endsWith(p,'.example'))",
        "User",
        USER_PROPS,
    )
    .unwrap();
    assert_eq!(e.advanced_operator(), Some("endsWith"));
    assert_eq!(
        parse("mail eq 'x'", "User", USER_PROPS)
            .unwrap()
            .advanced_operator(),
        None
    );
}

#[test]
fn bad_filters_say_what_is_wrong() {
    let e = parse("jobTitle eq 'x'", "User", USER_PROPS).unwrap_err();
    assert!(e.unsupported && e.message.contains("'jobTitle'") && e.message.contains("'User'"));
    for bad in [
        "mail eq",
        "mail eq 'x",
        "(mail eq 'x'",
        "mail lt 'x'",
        "mail eq 'x' garbage",
        "",
    ] {
        let e = parse(bad, "User", USER_PROPS).unwrap_err();
        assert!(
            !e.unsupported && e.message.starts_with("Invalid filter clause"),
            "{bad}: {e:?}"
        );
    }
    let e = parse("mail eq 'x'", "Group", &[Prop::Id, Prop::DisplayName]).unwrap_err();
    assert!(e.unsupported, "groups do not filter on mail here");
}
