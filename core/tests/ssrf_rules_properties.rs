//! Property tests for the SSRF rules: random addresses in every refused range, in every spelling.

mod support;

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use url::Url;

use edgepay_core::callback::ssrf_rules::{
    classify, classify_v4, classify_v6, CallbackPolicy, IpClass,
};

const PROD: CallbackPolicy = CallbackPolicy::PRODUCTION;
const DEV: CallbackPolicy = CallbackPolicy {
    allow_insecure: true,
};

/// Ranges written out independently of the table, with the class each must get.
const V4_RANGES: &[(Ipv4Addr, u8, IpClass)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, IpClass::Unspecified),
    (Ipv4Addr::new(10, 0, 0, 0), 8, IpClass::Private),
    (Ipv4Addr::new(172, 16, 0, 0), 12, IpClass::Private),
    (Ipv4Addr::new(192, 168, 0, 0), 16, IpClass::Private),
    (Ipv4Addr::new(127, 0, 0, 0), 8, IpClass::Loopback),
    (Ipv4Addr::new(169, 254, 0, 0), 16, IpClass::LinkLocal),
    (Ipv4Addr::new(100, 64, 0, 0), 10, IpClass::SharedCgnat),
    (Ipv4Addr::new(224, 0, 0, 0), 4, IpClass::Multicast),
    (Ipv4Addr::new(240, 0, 0, 0), 4, IpClass::Reserved),
    (Ipv4Addr::new(198, 18, 0, 0), 15, IpClass::Reserved),
    (Ipv4Addr::new(192, 0, 2, 0), 24, IpClass::Documentation),
    (Ipv4Addr::new(198, 51, 100, 0), 24, IpClass::Documentation),
    (Ipv4Addr::new(203, 0, 113, 0), 24, IpClass::Documentation),
];

const V6_RANGES: &[(Ipv6Addr, u8, IpClass)] = &[
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        IpClass::UniqueLocal,
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        IpClass::LinkLocal,
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        IpClass::Multicast,
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        IpClass::Documentation,
    ),
    (
        Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),
        16,
        IpClass::Reserved,
    ),
];

fn in_v4_range() -> impl Strategy<Value = (Ipv4Addr, IpClass)> {
    (proptest::sample::select(V4_RANGES), any::<u32>()).prop_map(|((net, len, class), bits)| {
        let host_mask = u32::MAX >> len;
        (Ipv4Addr::from(u32::from(net) | (bits & host_mask)), class)
    })
}

fn in_v6_range() -> impl Strategy<Value = (Ipv6Addr, IpClass)> {
    (proptest::sample::select(V6_RANGES), any::<u128>()).prop_map(|((net, len, class), bits)| {
        let host_mask = u128::MAX >> len;
        (Ipv6Addr::from(u128::from(net) | (bits & host_mask)), class)
    })
}

/// IPv4 addresses whose first octet lies in no special range at all.
fn public_v4() -> impl Strategy<Value = Ipv4Addr> {
    let first = prop_oneof![
        1u8..=9,
        11u8..=99,
        101u8..=126,
        128u8..=168,
        170u8..=171,
        173u8..=191,
        193u8..=197,
        199u8..=202,
        204u8..=223
    ];
    (first, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d))
}

/// Every way a URL host can spell the same IPv4 address.
fn spellings(ip: Ipv4Addr) -> Vec<String> {
    let [a, b, c, d] = ip.octets();
    let n = u32::from(ip);
    vec![
        ip.to_string(),
        n.to_string(),
        format!("0x{n:x}"),
        format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"),
        format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
        format!("{a}.{}", n & 0x00ff_ffff),
        format!("[::ffff:{ip}]"),
    ]
}

fn check(policy: CallbackPolicy, url: &str) -> Result<(), String> {
    let url = Url::parse(url).map_err(|e| e.to_string())?;
    policy.check(&url)
}

proptest! {
    #![proptest_config(crate::support::cases(256))]

    #[test]
    fn every_special_v4_address_is_classified_and_refused_in_every_spelling(
        (ip, class) in in_v4_range(),
        port in proptest::option::of(any::<u16>()),
    ) {
        prop_assert_eq!(classify_v4(ip), Some(class), "{}", ip);
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        for host in spellings(ip) {
            let url = format!("https://{host}{port}/cb");
            prop_assert!(check(PROD, &url).is_err(), "{} accepted in production", url);
        }
    }

    #[test]
    fn every_special_v6_address_is_classified_and_refused((ip, class) in in_v6_range()) {
        prop_assert_eq!(classify_v6(ip), Some(class), "{}", ip);
        prop_assert!(check(PROD, &format!("https://[{ip}]/cb")).is_err(), "{}", ip);
    }

    #[test]
    fn public_addresses_are_allowed_in_every_spelling(ip in public_v4()) {
        prop_assert_eq!(classify_v4(ip), None, "{}", ip);
        for host in spellings(ip) {
            let url = format!("https://{host}/cb");
            prop_assert_eq!(check(PROD, &url), Ok(()), "{}", url);
        }
    }

    #[test]
    fn development_allows_local_networks_but_never_link_local_or_multicast((ip, class) in in_v4_range()) {
        let allowed = matches!(class, IpClass::Loopback | IpClass::Private | IpClass::SharedCgnat);
        let url = format!("http://{ip}:8080/cb");
        prop_assert_eq!(check(DEV, &url).is_ok(), allowed, "{} ({:?})", url, class);
        prop_assert!(check(PROD, &url).is_err());
    }

    #[test]
    fn localhost_names_are_loopback(sub in "([a-z0-9-]{1,8}\\.){0,2}", mask in any::<u64>(), dot in any::<bool>()) {
        let host = crate::support::random_case(&format!("{sub}localhost"), mask);
        let url = format!("https://{host}{}/", if dot { "." } else { "" });
        prop_assert!(check(PROD, &url).is_err(), "{}", url);
    }

    #[test]
    fn classify_is_total(bits in any::<u128>(), v4 in any::<u32>()) {
        let _ = classify(Ipv6Addr::from(bits).into());
        let _ = classify(Ipv4Addr::from(v4).into());
    }

    #[test]
    fn the_policy_never_panics_on_any_url(raw in "[a-z]{1,6}://[ -~]{0,40}", insecure in any::<bool>()) {
        if let Ok(url) = Url::parse(&raw) {
            let _ = CallbackPolicy { allow_insecure: insecure }.check(&url);
        }
    }
}
