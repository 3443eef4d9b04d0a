//! Fuzzes the callback URL policy: any URL text, and any address in any class.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use edgepay_core::callback::ssrf_rules::{classify, CallbackPolicy};
use libfuzzer_sys::fuzz_target;
use url::{Host, Url};

fuzz_target!(|data: &[u8]| {
    if let Ok(bytes) = <[u8; 16]>::try_from(data.get(..16).unwrap_or_default()) {
        let _ = classify(IpAddr::V6(Ipv6Addr::from(bytes)));
    }
    if let Ok(bytes) = <[u8; 4]>::try_from(data.get(..4).unwrap_or_default()) {
        let v4 = Ipv4Addr::from(bytes);
        let refused = CallbackPolicy::PRODUCTION
            .check(&Url::parse(&format!("https://{v4}/")).unwrap_or_else(|e| panic!("{e}")))
            .is_err();
        assert_eq!(refused, classify(IpAddr::V4(v4)).is_some());
        if v4.is_private()
            || v4.is_loopback()
            || v4.is_link_local()
            || v4.is_unspecified()
            || v4.is_multicast()
        {
            assert!(refused, "{v4} allowed");
        }
    }
    let text = String::from_utf8_lossy(data);
    let Ok(url) = Url::parse(&text) else { return };
    let prod = CallbackPolicy::PRODUCTION.check(&url);
    let dev = CallbackPolicy {
        allow_insecure: true,
    }
    .check(&url);
    // Production is never looser than development.
    assert!(prod.is_err() || dev.is_ok(), "{text:?}");
    if prod.is_ok() {
        let special = match url.host() {
            Some(Host::Ipv4(ip)) => classify(IpAddr::V4(ip)).is_some(),
            Some(Host::Ipv6(ip)) => classify(IpAddr::V6(ip)).is_some(),
            _ => false,
        };
        assert!(!special && url.scheme() == "https", "{text:?}");
    }
});
