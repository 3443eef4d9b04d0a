//! SSRF rules for callback URLs: a range table of IP classes a callback may never target, and the policy.
//!
//! Callback URLs come from API clients, so edgepay must not be turned into a
//! proxy into private networks. Checked when a callback is accepted and again
//! just before each delivery. Host names are not resolved here (Workers have
//! no DNS API); Cloudflare's outbound fetch does not reach private networks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why an address is special. Every class is refused in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpClass {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    UniqueLocal,
    Multicast,
    Documentation,
    Reserved,
}

impl IpClass {
    pub fn describe(self) -> &'static str {
        match self {
            IpClass::Unspecified => "an unspecified address",
            IpClass::Loopback => "a loopback address",
            IpClass::Private => "a private-network address",
            IpClass::LinkLocal => "a link-local address (including cloud metadata)",
            IpClass::SharedCgnat => "a carrier-grade NAT address",
            IpClass::UniqueLocal => "a unique-local IPv6 address",
            IpClass::Multicast => "a multicast address",
            IpClass::Documentation => "a documentation address",
            IpClass::Reserved => "a reserved address",
        }
    }

    /// Classes that `allow_insecure` (local development) lets through: the ones a developer's
    /// own receiver lives on. Link-local (metadata), multicast and the rest stay refused.
    fn allowed_in_development(self) -> bool {
        matches!(
            self,
            IpClass::Loopback | IpClass::Private | IpClass::SharedCgnat | IpClass::UniqueLocal
        )
    }
}

/// (network, prefix length, class); first match wins.
const V4_TABLE: &[([u8; 4], u8, IpClass)] = &[
    ([0, 0, 0, 0], 8, IpClass::Unspecified),
    ([10, 0, 0, 0], 8, IpClass::Private),
    ([100, 64, 0, 0], 10, IpClass::SharedCgnat),
    ([127, 0, 0, 0], 8, IpClass::Loopback),
    ([169, 254, 0, 0], 16, IpClass::LinkLocal),
    ([172, 16, 0, 0], 12, IpClass::Private),
    ([192, 0, 0, 0], 24, IpClass::Reserved),
    ([192, 0, 2, 0], 24, IpClass::Documentation),
    ([192, 88, 99, 0], 24, IpClass::Reserved),
    ([192, 168, 0, 0], 16, IpClass::Private),
    ([198, 18, 0, 0], 15, IpClass::Reserved),
    ([198, 51, 100, 0], 24, IpClass::Documentation),
    ([203, 0, 113, 0], 24, IpClass::Documentation),
    ([224, 0, 0, 0], 4, IpClass::Multicast),
    ([240, 0, 0, 0], 4, IpClass::Reserved),
];

const V6_TABLE: &[([u16; 8], u8, IpClass)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 128, IpClass::Unspecified),
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, IpClass::Loopback),
    ([0, 0, 0, 0, 0, 0, 0, 0], 96, IpClass::Reserved), // IPv4-compatible (deprecated)
    ([0x0064, 0xff9b, 0, 0, 0, 0, 0, 0], 96, IpClass::Reserved), // NAT64
    ([0x0064, 0xff9b, 1, 0, 0, 0, 0, 0], 48, IpClass::Reserved), // local NAT64
    ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, IpClass::Reserved), // discard-only
    (
        [0x2001, 0x0db8, 0, 0, 0, 0, 0, 0],
        32,
        IpClass::Documentation,
    ),
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, IpClass::Reserved), // IETF protocol assignments, Teredo
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, IpClass::Reserved), // 6to4
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, IpClass::Documentation),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, IpClass::UniqueLocal),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, IpClass::LinkLocal),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, IpClass::Reserved), // site-local (deprecated)
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, IpClass::Multicast),
];

fn prefix_matches(addr: u128, net: u128, len: u8, width: u32) -> bool {
    if len == 0 {
        return true;
    }
    let shift = width - u32::from(len);
    (addr >> shift) == (net >> shift)
}

pub fn classify_v4(ip: Ipv4Addr) -> Option<IpClass> {
    let addr = u128::from(u32::from(ip));
    V4_TABLE
        .iter()
        .find(|(net, len, _)| {
            prefix_matches(addr, u128::from(u32::from(Ipv4Addr::from(*net))), *len, 32)
        })
        .map(|(_, _, class)| *class)
}

pub fn classify_v6(ip: Ipv6Addr) -> Option<IpClass> {
    // IPv4-mapped addresses reach the IPv4 host they embed.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let addr = u128::from(ip);
    V6_TABLE
        .iter()
        .find(|(net, len, _)| prefix_matches(addr, u128::from(Ipv6Addr::from(*net)), *len, 128))
        .map(|(_, _, class)| *class)
}

pub fn classify(ip: IpAddr) -> Option<IpClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Which callback targets a deployment accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// Local development only: allow `http` and loopback / private hosts.
    pub allow_insecure: bool,
}

impl CallbackPolicy {
    pub const PRODUCTION: CallbackPolicy = CallbackPolicy {
        allow_insecure: false,
    };

    /// Checks a parsed, absolute URL. The error is a sentence for the client.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure => {}
            "http" => return Err("must use https".to_owned()),
            other => return Err(format!("scheme `{other}` is not allowed; use https")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".to_owned());
        }
        let class = match url.host() {
            None => return Err("must name a host".to_owned()),
            Some(Host::Domain(domain)) => {
                let domain = domain.trim_end_matches('.').to_ascii_lowercase();
                if domain == "localhost" || domain.ends_with(".localhost") {
                    Some(IpClass::Loopback)
                } else {
                    None
                }
            }
            Some(Host::Ipv4(v4)) => classify_v4(v4),
            Some(Host::Ipv6(v6)) => classify_v6(v6),
        };
        match class {
            Some(class) if !(self.allow_insecure && class.allowed_in_development()) => {
                Err(format!("must not target {}", class.describe()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<IpClass> {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_range_table() {
        let cases = [
            ("0.0.0.0", Some(IpClass::Unspecified)),
            ("10.1.2.3", Some(IpClass::Private)),
            ("100.64.0.1", Some(IpClass::SharedCgnat)),
            ("100.127.255.255", Some(IpClass::SharedCgnat)),
            ("100.128.0.0", None),
            ("127.0.0.1", Some(IpClass::Loopback)),
            ("169.254.169.254", Some(IpClass::LinkLocal)),
            ("172.15.255.255", None),
            ("172.16.0.0", Some(IpClass::Private)),
            ("172.31.255.255", Some(IpClass::Private)),
            ("172.32.0.0", None),
            ("192.0.0.8", Some(IpClass::Reserved)),
            ("192.0.2.1", Some(IpClass::Documentation)),
            ("192.88.99.1", Some(IpClass::Reserved)),
            ("192.168.1.1", Some(IpClass::Private)),
            ("198.18.0.1", Some(IpClass::Reserved)),
            ("198.19.255.255", Some(IpClass::Reserved)),
            ("198.51.100.7", Some(IpClass::Documentation)),
            ("203.0.113.9", Some(IpClass::Documentation)),
            ("224.0.0.1", Some(IpClass::Multicast)),
            ("239.255.255.255", Some(IpClass::Multicast)),
            ("240.0.0.1", Some(IpClass::Reserved)),
            ("255.255.255.255", Some(IpClass::Reserved)),
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("104.16.0.1", None),
        ];
        for (ip, class) in cases {
            assert_eq!(v4(ip), class, "{ip}");
        }
    }

    #[test]
    fn ipv6_range_table() {
        let cases = [
            ("::", Some(IpClass::Unspecified)),
            ("::1", Some(IpClass::Loopback)),
            ("::ffff:127.0.0.1", Some(IpClass::Loopback)),
            ("::ffff:169.254.169.254", Some(IpClass::LinkLocal)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(IpClass::Reserved)),
            ("64:ff9b::a00:1", Some(IpClass::Reserved)),
            ("100::1", Some(IpClass::Reserved)),
            ("2001:db8::1", Some(IpClass::Documentation)),
            ("2001::1", Some(IpClass::Reserved)),
            ("2002:7f00:1::", Some(IpClass::Reserved)),
            ("3fff::1", Some(IpClass::Documentation)),
            ("fc00::1", Some(IpClass::UniqueLocal)),
            ("fd12:3456::1", Some(IpClass::UniqueLocal)),
            ("fe80::1", Some(IpClass::LinkLocal)),
            ("fec0::1", Some(IpClass::Reserved)),
            ("ff02::1", Some(IpClass::Multicast)),
            ("2606:4700:4700::1111", None),
            ("2a00:1450::1", None),
        ];
        for (ip, class) in cases {
            assert_eq!(v4(ip), class, "{ip}");
        }
    }

    fn check(policy: CallbackPolicy, url: &str) -> Result<(), String> {
        policy.check(&Url::parse(url).unwrap())
    }

    #[test]
    fn production_policy() {
        let p = CallbackPolicy::PRODUCTION;
        assert!(check(p, "https://merchant.example.com/hooks/1").is_ok());
        assert!(check(p, "https://8.8.8.8/x").is_ok());
        for url in [
            "http://merchant.example.com/",
            "ftp://merchant.example.com/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
            "https://127.0.0.1/",
            "https://127.1/",
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/",
            "https://100.64.1.1/",
            "https://[fd00::1]/",
            "https://224.0.0.1/",
            "https://192.0.2.1/",
            "https://240.0.0.1/",
            "https://user:pw@merchant.example.com/",
        ] {
            assert!(check(p, url).is_err(), "{url} must be refused");
        }
    }

    #[test]
    fn development_policy_allows_http_and_local_only() {
        let p = CallbackPolicy {
            allow_insecure: true,
        };
        assert!(check(p, "http://127.0.0.1:9000/cb").is_ok());
        assert!(check(p, "http://localhost:9000/cb").is_ok());
        assert!(check(p, "http://192.168.0.10/cb").is_ok());
        assert!(check(p, "http://169.254.169.254/").is_err());
        assert!(check(p, "http://224.0.0.1/").is_err());
        assert!(check(p, "gopher://127.0.0.1/").is_err());
    }
}
