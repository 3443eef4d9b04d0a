//! Client tokens: short-lived JWTs that a tenant's server hands to one app or page, verified at the edge with no storage.
//!
//! A token comes from an issuer the tenant configured (its own server, or a
//! ServiceStack `JwtAuthProvider`), or from edgepay's own `POST /client-tokens`,
//! signed with a key edgepay holds per tenant. Parsing and signatures are the
//! `jwt-compact` crate's; each issuer allows exactly one algorithm, so `none`
//! and algorithm confusion are refused before any key is used. HS256 is
//! verified here; RS256, ES256 and EdDSA signatures are verified by the
//! runtime's WebCrypto (the edge, `token_crypto`), which costs no wasm, and
//! their claims are then checked here. Time is passed in, and every lifetime
//! rule is checked here, with the issuer's leeway.
//!
//! Which tenant a token is for is decided by its tenants' own issuers, never
//! by the first issuer of any tenant: every tenant whose issuer has the token's
//! `iss` and `alg` is a candidate, and the token is the one candidate tenant's
//! whose key verifies its signature and whose audience (if the issuer has
//! one) its `aud` names. A token two tenants would both accept (one IdP and
//! one key, without audiences that tell them apart) is refused as ambiguous,
//! so two tenants may trust one identity provider without either acting as
//! the other. Tokens edgepay mints name their tenant in `iss`.
//!
//! What a token may do is its grant: the operations (`scope`, or ServiceStack's
//! `perms`), optionally the one item or `paymentId` it may pay and the one
//! callback URL it may ask for. Its payments belong to its principal (issuer
//! and subject), and only that principal can read them with a token.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims as JwtClaims, Header, UntrustedToken};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::http::request_body::json_object_duplicate;
use crate::ids::ItemId;

/// Longest token read; anything longer is refused before it is parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Default and hard cap of a token's remaining lifetime, per issuer unless configured.
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 15 * 60;
/// Default clock skew allowed either way.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;
/// The audience of tokens edgepay mints.
pub const MINTED_AUDIENCE: &str = "edgepay";
/// The scope values a token may carry; unknown ones are ignored.
pub const SCOPE_PAY: &str = "payments:create";
pub const SCOPE_READ: &str = "payments:read";

/// Why a token was refused. Only the log line says which; the caller sees RFC 6750's
/// `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    TooLarge,
    Malformed,
    UnknownIssuer,
    WrongAlgorithm,
    BadSignature,
    WrongAudience,
    Expired,
    NotYetValid,
    LifetimeTooLong,
    BadClaims,
    /// Signed and addressed for more than one tenant: no tenant may act on it.
    AmbiguousTenant,
}

impl TokenError {
    /// The log line's error code.
    pub fn log_code(self) -> &'static str {
        match self {
            TokenError::TooLarge => "token_too_large",
            TokenError::Malformed => "token_malformed",
            TokenError::UnknownIssuer => "token_unknown_issuer",
            TokenError::WrongAlgorithm => "token_wrong_algorithm",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::WrongAudience => "token_wrong_audience",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::LifetimeTooLong => "token_lifetime_too_long",
            TokenError::BadClaims => "token_bad_claims",
            TokenError::AmbiguousTenant => "token_ambiguous_tenant",
        }
    }
}

/// What a verified token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub tenant: String,
    /// `iss` and `sub`: whose payments these are.
    pub principal: String,
    pub can_pay: bool,
    pub can_read: bool,
    /// The one Zai item it may pay, if bound.
    pub item: Option<String>,
    /// The one ServiceStack `paymentId` it may pay, if bound.
    pub payment_id: Option<Uuid>,
    /// The one callback template it may ask for; without it, no callback.
    pub callback: Option<String>,
    pub expires_at: u64,
}

impl TokenGrant {
    /// Whether this grant may pay Zai item `item`.
    pub fn may_pay_item(&self, item: &str) -> bool {
        self.can_pay && self.payment_id.is_none() && self.item.as_deref().is_none_or(|i| i == item)
    }

    /// Whether this grant may pay ServiceStack `paymentId`.
    pub fn may_pay_payment_id(&self, payment_id: &Uuid) -> bool {
        self.can_pay && self.item.is_none() && self.payment_id.is_none_or(|p| p == *payment_id)
    }

    /// A callback is allowed only when the token names exactly that template.
    pub fn may_use_callback(&self, callback: Option<&str>) -> bool {
        match callback {
            None => true,
            Some(given) => self.callback.as_deref() == Some(given),
        }
    }
}

/// `aud`: one audience or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(a) => a == wanted,
            Audience::Many(all) => all.iter().any(|a| a == wanted),
        }
    }
}

/// The claims edgepay reads (beside `exp`, `nbf` and `iat`, which the crate reads).
/// ServiceStack's other claims (`name`, `roles`, …) are ignored.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    /// Space-separated (OAuth); `payments:create`, `payments:read`.
    #[serde(default)]
    scope: Option<String>,
    /// ServiceStack `JwtAuthProvider` permissions, read like scope values.
    #[serde(default)]
    perms: Option<Vec<String>>,
    #[serde(default)]
    item: Option<String>,
    #[serde(default)]
    payment_id: Option<String>,
    #[serde(default)]
    callback: Option<String>,
}

/// How an issuer's signatures are checked.
#[derive(Clone)]
pub enum IssuerKey {
    /// HS256, verified here.
    Hmac(Vec<u8>),
    /// RS256, ES256 or EdDSA: the public key as a JWK, verified by the runtime's WebCrypto.
    PublicJwk(Value),
}

/// The asymmetric algorithms an issuer may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Hs256,
    Rs256,
    Es256,
    EdDsa,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Hs256 => "HS256",
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Alg::Hs256, Alg::Rs256, Alg::Es256, Alg::EdDsa]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// The JWK key type this algorithm verifies with.
    fn key_type(self) -> (&'static str, Option<&'static str>) {
        match self {
            Alg::Hs256 => ("oct", None),
            Alg::Rs256 => ("RSA", None),
            Alg::Es256 => ("EC", Some("P-256")),
            Alg::EdDsa => ("OKP", Some("Ed25519")),
        }
    }
}

/// One trusted issuer of client tokens for a tenant.
#[derive(Clone)]
pub struct Issuer {
    pub tenant: String,
    pub iss: String,
    pub audience: Option<String>,
    pub alg: Alg,
    pub key: IssuerKey,
    pub leeway_secs: u64,
    pub max_lifetime_secs: u64,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("tenant", &self.tenant)
            .field("iss", &self.iss)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The key edgepay signs a tenant's minted tokens with (HS256).
#[derive(Clone)]
pub struct Minter {
    pub tenant: String,
    key: Vec<u8>,
    pub max_lifetime_secs: u64,
}

impl fmt::Debug for Minter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minter")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// `edgepay:<tenant>`: the issuer of the tokens edgepay mints for a tenant.
pub fn minted_issuer(tenant: &str) -> String {
    format!("edgepay:{tenant}")
}

/// An issuer as configured in `TENANTS[].client_tokens.issuers[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    iss: String,
    #[serde(default)]
    aud: Option<String>,
    alg: String,
    /// HS256: the shared secret, as text or (ServiceStack's `AuthKeyBase64`) as base64.
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    secret_base64: Option<String>,
    /// RS256 / ES256 / EdDSA: the issuer's public key as a JWK.
    #[serde(default)]
    jwk: Option<Value>,
    #[serde(default)]
    leeway_secs: Option<u64>,
    #[serde(default)]
    max_lifetime_secs: Option<u64>,
}

const MIN_HMAC_SECRET_BYTES: usize = 32;

fn hmac_secret(bytes: Vec<u8>) -> Result<IssuerKey, String> {
    if bytes.len() < MIN_HMAC_SECRET_BYTES {
        return Err("an HS256 secret must be at least 32 bytes".to_owned());
    }
    Ok(IssuerKey::Hmac(bytes))
}

/// A public JWK for `alg`: its key type (and curve) must match, and it must hold no private part.
fn public_jwk(alg: Alg, jwk: Value) -> Result<IssuerKey, String> {
    let (kty, crv) = alg.key_type();
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("kty") != Some(kty) || crv.is_some_and(|c| text("crv") != Some(c)) {
        return Err(format!("the jwk must be a {kty} key for {}", alg.name()));
    }
    let needed: &[&str] = match alg {
        Alg::Rs256 => &["n", "e"],
        Alg::Es256 => &["x", "y"],
        _ => &["x"],
    };
    if needed
        .iter()
        .any(|n| text(n).is_none_or(|v| B64URL.decode(v).is_err()))
    {
        return Err("the jwk lacks its public key parameters".to_owned());
    }
    if jwk.get("d").is_some() {
        return Err("the jwk holds a private key; configure the public key only".to_owned());
    }
    Ok(IssuerKey::PublicJwk(jwk))
}

impl IssuerConfig {
    /// Checks the issuer and builds its key; errors never echo key material.
    pub fn build(self, tenant: &str) -> Result<Issuer, String> {
        let alg = Alg::parse(&self.alg)
            .ok_or_else(|| "alg must be HS256, RS256, ES256 or EdDSA".to_owned())?;
        if self.iss.is_empty() || self.iss.starts_with("edgepay:") {
            return Err("iss must be set and must not start with edgepay:".to_owned());
        }
        let key = match (alg, self.secret, self.secret_base64, self.jwk) {
            (Alg::Hs256, Some(secret), None, None) => hmac_secret(secret.into_bytes())?,
            (Alg::Hs256, None, Some(encoded), None) => hmac_secret(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| "secret_base64 is not base64".to_owned())?,
            )?,
            (Alg::Hs256, _, _, _) => {
                return Err("HS256 takes exactly one of secret or secret_base64".to_owned())
            }
            (_, None, None, Some(jwk)) => public_jwk(alg, jwk)?,
            _ => return Err("RS256, ES256 and EdDSA take a public key as jwk only".to_owned()),
        };
        Ok(Issuer {
            tenant: tenant.to_owned(),
            iss: self.iss,
            audience: self.aud,
            alg,
            key,
            leeway_secs: self.leeway_secs.unwrap_or(DEFAULT_LEEWAY_SECS),
            max_lifetime_secs: self.max_lifetime_secs.unwrap_or(DEFAULT_MAX_LIFETIME_SECS),
        })
    }
}

/// Every issuer and minting key of the deployment.
#[derive(Debug, Clone, Default)]
pub struct TokenAuthority {
    issuers: Vec<Issuer>,
    minters: Vec<Minter>,
}

/// What `POST /client-tokens` asks for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// Who the token is for (the app user); a random id when absent.
    #[serde(default)]
    pub sub: Option<String>,
    /// `payments:create`, `payments:read`; both when absent.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub item: Option<String>,
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(default)]
    pub callback: Option<String>,
    /// Lifetime in seconds, at most the tenant's cap (default 15 min).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    iss: String,
    aud: &'static str,
    sub: &'a str,
    jti: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback: Option<&'a str>,
}

/// Why a mint request was refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintError {
    pub field: &'static str,
    pub message: &'static str,
}

fn mint_error(field: &'static str, message: &'static str) -> MintError {
    MintError { field, message }
}

fn valid_sub(sub: &str) -> bool {
    (1..=255).contains(&sub.len()) && !sub.chars().any(char::is_control)
}

fn parse_scope(scope: Option<&str>, perms: Option<&[String]>) -> (bool, bool) {
    if scope.is_none() && perms.is_none() {
        // A token that says nothing of operations may do what every client token may.
        return (true, true);
    }
    let values: Vec<&str> = scope
        .into_iter()
        .flat_map(str::split_whitespace)
        .chain(perms.into_iter().flatten().map(String::as_str))
        .collect();
    (values.contains(&SCOPE_PAY), values.contains(&SCOPE_READ))
}

fn timestamp(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<u64> {
    t.map(|t| u64::try_from(t.timestamp()).unwrap_or(0))
}

/// A token and one issuer that may have signed it (its `iss` and algorithm are the issuer's),
/// waiting for its signature to be checked with that issuer's key.
pub struct PendingToken<'a> {
    issuer: &'a Issuer,
    token: UntrustedToken<'a>,
    raw: &'a str,
}

/// A token and every tenant's issuer with its `iss` and algorithm: the issuers that may have
/// signed it, of one tenant or several. [`TokenCandidates::finish`] picks its tenant once each
/// candidate's signature is checked.
pub struct TokenCandidates<'a> {
    candidates: Vec<PendingToken<'a>>,
    /// The token's `aud`, read (unverified) with its `iss`.
    audience: Option<Audience>,
}

impl<'a> TokenCandidates<'a> {
    /// Each issuer that may have signed the token, in the order [`Self::finish`] asks about
    /// them.
    pub fn candidates(&self) -> &[PendingToken<'a>] {
        &self.candidates
    }

    /// Whether `issuer`'s audience, if it has one, is among the token's `aud`.
    fn addressed_to(&self, issuer: &Issuer) -> bool {
        issuer.audience.as_ref().is_none_or(|wanted| {
            self.audience
                .as_ref()
                .is_some_and(|aud| aud.contains(wanted))
        })
    }

    /// The grant at `now`, once `signature_ok` has said, for each candidate in the order of
    /// [`Self::candidates`] (asked once each), whether its issuer's key verifies the signature.
    ///
    /// The token is the tenant's whose issuer both verifies its signature and is addressed by
    /// its `aud`: exactly one tenant, or it is refused (`AmbiguousTenant` for several,
    /// `WrongAudience` when a key verified it but no audience matched, `BadSignature` when no
    /// key did). Then that issuer's rules for lifetime and claims apply.
    pub fn finish(
        self,
        mut signature_ok: impl FnMut(&PendingToken<'a>) -> bool,
        now: u64,
    ) -> Result<TokenGrant, TokenError> {
        let mut chosen: Option<PendingToken<'a>> = None;
        let mut signed = false;
        let mut ambiguous = false;
        let audience_ok: Vec<bool> = self
            .candidates
            .iter()
            .map(|c| self.addressed_to(c.issuer))
            .collect();
        for (candidate, addressed) in self.candidates.into_iter().zip(audience_ok) {
            // Every candidate is asked, whatever the answers before it: the edge checks them
            // all ahead of this call and hands the answers back in order.
            if !signature_ok(&candidate) {
                continue;
            }
            signed = true;
            if !addressed {
                continue;
            }
            match &chosen {
                None => chosen = Some(candidate),
                // Two issuers of one tenant (a key being rotated): the tenant is the same.
                Some(first) if first.issuer.tenant == candidate.issuer.tenant => {}
                Some(_) => ambiguous = true,
            }
        }
        if ambiguous {
            return Err(TokenError::AmbiguousTenant);
        }
        match chosen {
            Some(candidate) => candidate.grant(now),
            None if signed => Err(TokenError::WrongAudience),
            None => Err(TokenError::BadSignature),
        }
    }
}

impl<'a> PendingToken<'a> {
    pub fn issuer(&self) -> &'a Issuer {
        self.issuer
    }

    /// `header.payload`, the bytes the signature covers.
    pub fn signing_input(&self) -> &'a str {
        self.raw
            .rsplit_once('.')
            .map_or(self.raw, |(input, _)| input)
    }

    pub fn signature(&self) -> &[u8] {
        self.token.signature_bytes()
    }

    /// Checks an HS256 signature here; `None` for the algorithms WebCrypto checks.
    pub fn verify_hmac(&self) -> Option<bool> {
        match &self.issuer.key {
            IssuerKey::Hmac(secret) => Some(
                Hs256
                    .validator::<Value>(&Hs256Key::new(secret))
                    .validate(&self.token)
                    .is_ok(),
            ),
            IssuerKey::PublicJwk(_) => None,
        }
    }

    /// The grant at `now`, once the signature is known to be this issuer's.
    fn grant(self, now: u64) -> Result<TokenGrant, TokenError> {
        let issuer = self.issuer;
        let claims: JwtClaims<Claims> = self
            .token
            .deserialize_claims_unchecked()
            .map_err(|_| TokenError::BadClaims)?;
        let leeway = issuer.leeway_secs;
        let exp = timestamp(claims.expiration).ok_or(TokenError::BadClaims)?;
        if exp.saturating_add(leeway) <= now {
            return Err(TokenError::Expired);
        }
        if timestamp(claims.not_before).is_some_and(|nbf| nbf > now.saturating_add(leeway))
            || timestamp(claims.issued_at).is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(TokenError::NotYetValid);
        }
        if exp.saturating_sub(now) > issuer.max_lifetime_secs.saturating_add(leeway) {
            return Err(TokenError::LifetimeTooLong);
        }
        let custom = claims.custom;
        if let Some(wanted) = &issuer.audience {
            if !custom.aud.as_ref().is_some_and(|a| a.contains(wanted)) {
                return Err(TokenError::WrongAudience);
            }
        }
        let sub = custom
            .sub
            .filter(|s| valid_sub(s))
            .ok_or(TokenError::BadClaims)?;
        if custom.iss.as_deref() != Some(issuer.iss.as_str()) {
            return Err(TokenError::UnknownIssuer);
        }
        let item = match custom.item {
            Some(item) => Some(
                ItemId::parse(&item)
                    .map_err(|_| TokenError::BadClaims)?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let payment_id = match custom.payment_id {
            Some(id) => Some(Uuid::try_parse(id.trim()).map_err(|_| TokenError::BadClaims)?),
            None => None,
        };
        if item.is_some() && payment_id.is_some() {
            return Err(TokenError::BadClaims);
        }
        let (can_pay, can_read) = parse_scope(custom.scope.as_deref(), custom.perms.as_deref());
        Ok(TokenGrant {
            tenant: issuer.tenant.clone(),
            principal: format!("{}\u{1f}{sub}", issuer.iss),
            can_pay,
            can_read,
            item,
            payment_id,
            callback: custom.callback,
            expires_at: exp,
        })
    }
}

/// `iss` and `aud`, read before the signature is checked to find the token's tenant.
#[derive(Deserialize)]
struct Addressing {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
}

impl TokenAuthority {
    pub fn new(issuers: Vec<Issuer>, minters: Vec<Minter>) -> Self {
        Self { issuers, minters }
    }

    /// A minting key for `tenant` (at least 32 bytes of secret).
    pub fn minter(tenant: &str, secret: &str, max_lifetime_secs: u64) -> Result<Minter, String> {
        if secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err("mint_secret must be at least 32 bytes".to_owned());
        }
        Ok(Minter {
            tenant: tenant.to_owned(),
            key: secret.as_bytes().to_vec(),
            max_lifetime_secs,
        })
    }

    /// The minted tokens' issuer entry, verified like any other issuer.
    pub fn minted_issuer_for(
        tenant: &str,
        secret: &str,
        max_lifetime_secs: u64,
    ) -> Result<Issuer, String> {
        Ok(Issuer {
            tenant: tenant.to_owned(),
            iss: minted_issuer(tenant),
            audience: Some(MINTED_AUDIENCE.to_owned()),
            alg: Alg::Hs256,
            key: hmac_secret(secret.as_bytes().to_vec())?,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            max_lifetime_secs,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Parses `token` and finds every tenant's issuer with its `iss` and algorithm; each
    /// candidate's signature is checked next ([`PendingToken::verify_hmac`] or WebCrypto),
    /// then [`TokenCandidates::finish`] picks the token's tenant.
    pub fn prepare<'a>(&'a self, token: &'a str) -> Result<TokenCandidates<'a>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
        // The crate keeps the last of a claim given twice; such a token is ambiguous.
        let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
        let payload = B64URL.decode(payload).map_err(|_| TokenError::Malformed)?;
        let payload = std::str::from_utf8(&payload).map_err(|_| TokenError::Malformed)?;
        if json_object_duplicate(payload)
            .map_err(|_| TokenError::Malformed)?
            .is_some()
        {
            return Err(TokenError::BadClaims);
        }
        let unverified: JwtClaims<Addressing> = untrusted
            .deserialize_claims_unchecked()
            .map_err(|_| TokenError::Malformed)?;
        let Addressing { iss, aud } = unverified.custom;
        let iss = iss.ok_or(TokenError::UnknownIssuer)?;
        let mut same_iss = self.issuers.iter().filter(|i| i.iss == iss).peekable();
        if same_iss.peek().is_none() {
            return Err(TokenError::UnknownIssuer);
        }
        // Every tenant's issuer of this `iss`, not the first: tenants may share an IdP. Only
        // the issuer's algorithm: `none`, and HS256 keyed with a public key, never match.
        let candidates: Vec<PendingToken<'a>> = same_iss
            .filter(|i| i.alg.name() == untrusted.algorithm())
            .map(|issuer| PendingToken {
                issuer,
                token: untrusted.clone(),
                raw: token,
            })
            .collect();
        if candidates.is_empty() {
            return Err(TokenError::WrongAlgorithm);
        }
        Ok(TokenCandidates {
            candidates,
            audience: aud,
        })
    }

    /// Verifies an HS256 token completely (the host and tests; the edge also handles the
    /// WebCrypto algorithms).
    pub fn verify_hmac_token(&self, token: &str, now: u64) -> Result<TokenGrant, TokenError> {
        let candidates = self.prepare(token)?;
        // The candidates share one algorithm: all HS256, or all checked by WebCrypto.
        if candidates
            .candidates()
            .iter()
            .any(|c| matches!(c.issuer.key, IssuerKey::PublicJwk(_)))
        {
            return Err(TokenError::WrongAlgorithm);
        }
        candidates.finish(|c| c.verify_hmac() == Some(true), now)
    }

    /// Mints a token for `tenant`; `jti` and the default `sub` come from `random_id`.
    pub fn mint(
        &self,
        tenant: &str,
        request: &MintRequest,
        now_secs: u64,
        random_id: &str,
    ) -> Result<(String, u64), MintError> {
        let minter = self
            .minters
            .iter()
            .find(|m| m.tenant == tenant)
            .ok_or_else(|| {
                mint_error(
                    "tenant",
                    "this tenant has no mint_secret configured for client tokens",
                )
            })?;
        let ttl = request.ttl_secs.unwrap_or(minter.max_lifetime_secs);
        if ttl == 0 || ttl > minter.max_lifetime_secs {
            return Err(mint_error(
                "ttl_secs",
                "`ttl_secs` must be between 1 and the tenant's maximum token lifetime",
            ));
        }
        let default_sub = format!("client_{random_id}");
        let sub = request.sub.as_deref().unwrap_or(&default_sub);
        if !valid_sub(sub) {
            return Err(mint_error(
                "sub",
                "`sub` must be 1-255 characters without control characters",
            ));
        }
        let scope = request
            .scope
            .as_deref()
            .unwrap_or("payments:create payments:read");
        let (pay, read) = parse_scope(Some(scope), None);
        if !pay && !read
            || scope
                .split_whitespace()
                .any(|s| s != SCOPE_PAY && s != SCOPE_READ)
        {
            return Err(mint_error(
                "scope",
                "`scope` takes payments:create and/or payments:read",
            ));
        }
        if let Some(item) = &request.item {
            ItemId::parse(item)
                .map_err(|_| mint_error("item", "`item` must be 1-128 of [A-Za-z0-9._~-]"))?;
        }
        if let Some(id) = &request.payment_id {
            Uuid::try_parse(id.trim())
                .map_err(|_| mint_error("payment_id", "`payment_id` must be a GUID"))?;
        }
        if request.item.is_some() && request.payment_id.is_some() {
            return Err(mint_error(
                "payment_id",
                "a token pays one subject: give `item` or `payment_id`, not both",
            ));
        }
        if request
            .callback
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 2048)
        {
            return Err(mint_error(
                "callback",
                "`callback` must be 1-2048 characters",
            ));
        }
        let exp = now_secs.saturating_add(ttl);
        let moment = |secs: u64| {
            chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), 0)
        };
        let mut claims = JwtClaims::new(MintedClaims {
            iss: minted_issuer(tenant),
            aud: MINTED_AUDIENCE,
            sub,
            jti: random_id,
            scope,
            item: request.item.as_deref(),
            payment_id: request.payment_id.as_deref().map(str::trim),
            callback: request.callback.as_deref(),
        });
        claims.issued_at = moment(now_secs);
        claims.expiration = moment(exp);
        let token = Hs256
            .token(
                &Header::empty().with_token_type("JWT"),
                &claims,
                &Hs256Key::new(&minter.key),
            )
            .map_err(|_| mint_error("tenant", "the token could not be signed"))?;
        Ok((token, exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const SECRET: &str = "an-hs256-issuer-secret-of-32-bytes!!";
    const MINT: &str = "edgepay-mint-secret-for-tenant-a-0123";

    fn authority() -> TokenAuthority {
        let own: IssuerConfig = serde_json::from_value(json!({
            "iss": "https://shop.example.com", "aud": "edgepay", "alg": "HS256", "secret": SECRET
        }))
        .unwrap();
        TokenAuthority::new(
            vec![
                own.build("tenant-a").unwrap(),
                TokenAuthority::minted_issuer_for("tenant-a", MINT, 900).unwrap(),
            ],
            vec![TokenAuthority::minter("tenant-a", MINT, 900).unwrap()],
        )
    }

    fn sign(header: Value, claims: Value, secret: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        let h = B64URL.encode(header.to_string());
        let c = B64URL.encode(claims.to_string());
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{}", B64URL.encode(mac.finalize().into_bytes()))
    }

    fn claims() -> Value {
        json!({"iss": "https://shop.example.com", "aud": "edgepay", "sub": "user-1",
               "iat": NOW, "exp": NOW + 600, "item": "order-1"})
    }

    fn hs256(claims: Value) -> String {
        sign(
            json!({"alg": "HS256", "typ": "JWT"}),
            claims,
            SECRET.as_bytes(),
        )
    }

    #[test]
    fn a_good_token_grants_its_one_item() {
        let grant = authority()
            .verify_hmac_token(&hs256(claims()), NOW)
            .unwrap();
        assert_eq!(grant.tenant, "tenant-a");
        assert!(grant.can_pay && grant.can_read);
        assert!(grant.may_pay_item("order-1"));
        assert!(!grant.may_pay_item("order-2"));
        assert!(!grant.may_pay_payment_id(&Uuid::nil()));
        assert!(grant.may_use_callback(None));
        assert!(!grant.may_use_callback(Some("https://x.example/cb")));
    }

    #[test]
    fn every_broken_token_is_refused_with_its_reason() {
        let a = authority();
        let mut c = claims();
        c["exp"] = json!(NOW - 60);
        assert_eq!(
            a.verify_hmac_token(&hs256(c), NOW),
            Err(TokenError::Expired)
        );
        let mut c = claims();
        c["nbf"] = json!(NOW + 600);
        assert_eq!(
            a.verify_hmac_token(&hs256(c), NOW),
            Err(TokenError::NotYetValid)
        );
        let mut c = claims();
        c["exp"] = json!(NOW + 3600);
        assert_eq!(
            a.verify_hmac_token(&hs256(c), NOW),
            Err(TokenError::LifetimeTooLong)
        );
        let mut c = claims();
        c["aud"] = json!("someone-else");
        assert_eq!(
            a.verify_hmac_token(&hs256(c), NOW),
            Err(TokenError::WrongAudience)
        );
        let mut c = claims();
        c["iss"] = json!("https://evil.example");
        assert_eq!(
            a.verify_hmac_token(&hs256(c), NOW),
            Err(TokenError::UnknownIssuer)
        );
        let wrong_key = sign(
            json!({"alg": "HS256"}),
            claims(),
            b"another-secret-another-secret-00",
        );
        assert_eq!(
            a.verify_hmac_token(&wrong_key, NOW),
            Err(TokenError::BadSignature)
        );
        let none = format!(
            "{}.{}.",
            B64URL.encode(json!({"alg": "none"}).to_string()),
            B64URL.encode(claims().to_string())
        );
        assert_eq!(
            a.verify_hmac_token(&none, NOW),
            Err(TokenError::WrongAlgorithm)
        );
        let rs = sign(json!({"alg": "RS256"}), claims(), SECRET.as_bytes());
        assert_eq!(
            a.verify_hmac_token(&rs, NOW),
            Err(TokenError::WrongAlgorithm)
        );
        let good = hs256(claims());
        assert!(a.verify_hmac_token(&good[..good.len() - 10], NOW).is_err());
        assert_eq!(
            a.verify_hmac_token("not.a.jwt", NOW),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            a.verify_hmac_token(&"a".repeat(70_000), NOW),
            Err(TokenError::TooLarge)
        );
        let parts: Vec<&str> = good.split('.').collect();
        let mut tampered = claims();
        tampered["item"] = json!("order-2");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64URL.encode(tampered.to_string()),
            parts[2]
        );
        assert_eq!(
            a.verify_hmac_token(&forged, NOW),
            Err(TokenError::BadSignature)
        );
        let mut c = claims();
        c["item"] = json!("bad item!");
        assert_eq!(
            a.verify_hmac_token(&hs256(c), NOW),
            Err(TokenError::BadClaims)
        );
        let mut c = claims();
        c.as_object_mut().unwrap().remove("sub");
        assert_eq!(
            a.verify_hmac_token(&hs256(c), NOW),
            Err(TokenError::BadClaims)
        );
    }

    #[test]
    fn duplicate_claims_are_refused() {
        let h = B64URL.encode(json!({"alg": "HS256"}).to_string());
        let body = format!(
            r#"{{"iss":"https://shop.example.com","aud":"edgepay","sub":"u","exp":{},"exp":{}}}"#,
            NOW + 60,
            NOW + 600
        );
        let c = B64URL.encode(body);
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{h}.{c}").as_bytes());
        let token = format!("{h}.{c}.{}", B64URL.encode(mac.finalize().into_bytes()));
        assert_eq!(
            authority().verify_hmac_token(&token, NOW),
            Err(TokenError::BadClaims)
        );
    }

    #[test]
    fn minted_tokens_verify_and_carry_their_scope() {
        let a = authority();
        let req = MintRequest {
            scope: Some("payments:read".into()),
            payment_id: Some("3f2504e0-4f89-41d3-9a0c-0305e82c3301".into()),
            ..MintRequest::default()
        };
        let (token, exp) = a.mint("tenant-a", &req, NOW, "abc").unwrap();
        assert_eq!(exp, NOW + 900);
        let grant = a.verify_hmac_token(&token, NOW + 10).unwrap();
        assert!(!grant.can_pay && grant.can_read);
        assert_eq!(grant.principal, "edgepay:tenant-a\u{1f}client_abc");
        assert_eq!(
            a.verify_hmac_token(&token, NOW + 2000),
            Err(TokenError::Expired)
        );
        for (bad, field) in [
            (
                MintRequest {
                    ttl_secs: Some(901),
                    ..MintRequest::default()
                },
                "ttl_secs",
            ),
            (
                MintRequest {
                    scope: Some("admin".into()),
                    ..MintRequest::default()
                },
                "scope",
            ),
            (
                MintRequest {
                    item: Some("no spaces".into()),
                    ..MintRequest::default()
                },
                "item",
            ),
            (
                MintRequest {
                    item: Some("i".into()),
                    payment_id: Some("3f2504e0-4f89-41d3-9a0c-0305e82c3301".into()),
                    ..MintRequest::default()
                },
                "payment_id",
            ),
        ] {
            assert_eq!(a.mint("tenant-a", &bad, NOW, "x").unwrap_err().field, field);
        }
        assert_eq!(
            a.mint("tenant-b", &MintRequest::default(), NOW, "x")
                .unwrap_err()
                .field,
            "tenant"
        );
    }

    #[test]
    fn servicestack_perms_and_missing_scope() {
        assert_eq!(parse_scope(None, None), (true, true));
        assert_eq!(
            parse_scope(
                None,
                Some(&["payments:create".to_owned(), "Admin".to_owned()])
            ),
            (true, false)
        );
        assert_eq!(parse_scope(Some("openid"), None), (false, false));
    }

    #[test]
    fn issuer_config_is_checked() {
        for bad in [
            json!({"iss": "x", "alg": "none", "secret": SECRET}),
            json!({"iss": "x", "alg": "HS256", "secret": "short"}),
            json!({"iss": "x", "alg": "HS256"}),
            json!({"iss": "x", "alg": "RS256", "secret": SECRET}),
            json!({"iss": "edgepay:t", "alg": "HS256", "secret": SECRET}),
            json!({"iss": "x", "alg": "RS256", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}),
            json!({"iss": "x", "alg": "RS256", "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}}),
            json!({"iss": "x", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}}),
        ] {
            let cfg: IssuerConfig = serde_json::from_value(bad.clone()).unwrap();
            assert!(cfg.build("t").is_err(), "{bad}");
        }
    }

    const KEY_A: &str = "tenant-a-servicestack-authkey-0123";
    const KEY_B: &str = "tenant-b-servicestack-authkey-0123";

    /// Every tenant of `trusting` trusts ServiceStack's default issuer `ssjwt` with its own key
    /// and optional audience, in that order.
    fn sharing_ssjwt(trusting: &[(&str, &str, Option<&str>)]) -> TokenAuthority {
        let issuers = trusting
            .iter()
            .map(|(tenant, key, aud)| {
                let cfg: IssuerConfig = serde_json::from_value(
                    json!({"iss": "ssjwt", "alg": "HS256", "secret": key, "aud": aud}),
                )
                .unwrap();
                cfg.build(tenant).unwrap()
            })
            .collect();
        TokenAuthority::new(issuers, Vec::new())
    }

    fn ssjwt_token(key: &str, aud: Option<Value>) -> String {
        let mut claims = json!({"iss": "ssjwt", "sub": "1", "iat": NOW, "exp": NOW + 600});
        if let Some(aud) = aud {
            claims["aud"] = aud;
        }
        sign(
            json!({"alg": "HS256", "typ": "JWT"}),
            claims,
            key.as_bytes(),
        )
    }

    fn tenant_of(a: &TokenAuthority, token: &str) -> Option<String> {
        a.verify_hmac_token(token, NOW).ok().map(|g| g.tenant)
    }

    #[test]
    fn tenants_sharing_an_issuer_with_their_own_keys_each_get_their_own_tokens() {
        for order in [
            [("tenant-a", KEY_A, None), ("tenant-b", KEY_B, None)],
            [("tenant-b", KEY_B, None), ("tenant-a", KEY_A, None)],
        ] {
            let a = sharing_ssjwt(&order);
            assert_eq!(
                tenant_of(&a, &ssjwt_token(KEY_A, None)).as_deref(),
                Some("tenant-a")
            );
            assert_eq!(
                tenant_of(&a, &ssjwt_token(KEY_B, None)).as_deref(),
                Some("tenant-b"),
                "the second tenant is not locked out by the first"
            );
            assert_eq!(
                a.verify_hmac_token(
                    &ssjwt_token("neither-tenants-authkey-0123456789", None),
                    NOW
                ),
                Err(TokenError::BadSignature)
            );
        }
    }

    #[test]
    fn a_token_both_tenants_would_accept_is_bound_by_its_audience_or_refused() {
        // One IdP, one key, no audience: neither tenant can tell its users from the other's.
        let unbound = sharing_ssjwt(&[("tenant-a", KEY_A, None), ("tenant-b", KEY_A, None)]);
        assert_eq!(tenant_of(&unbound, &ssjwt_token(KEY_A, None)), None);
        assert_eq!(
            unbound.verify_hmac_token(&ssjwt_token(KEY_A, None), NOW),
            Err(TokenError::AmbiguousTenant)
        );
        // Each tenant bound to its own audience: a token is its audience's tenant's only.
        let bound = sharing_ssjwt(&[
            ("tenant-a", KEY_A, Some("shop-a")),
            ("tenant-b", KEY_A, Some("shop-b")),
        ]);
        for (aud, tenant) in [("shop-a", "tenant-a"), ("shop-b", "tenant-b")] {
            assert_eq!(
                tenant_of(&bound, &ssjwt_token(KEY_A, Some(json!(aud)))).as_deref(),
                Some(tenant),
                "{aud}"
            );
            assert_eq!(
                tenant_of(&bound, &ssjwt_token(KEY_A, Some(json!(["other-api", aud])))).as_deref(),
                Some(tenant),
                "{aud} among others"
            );
        }
        // Naming both, or neither, is no one's.
        assert_eq!(
            bound.verify_hmac_token(&ssjwt_token(KEY_A, Some(json!(["shop-a", "shop-b"]))), NOW),
            Err(TokenError::AmbiguousTenant)
        );
        assert_eq!(
            bound.verify_hmac_token(&ssjwt_token(KEY_A, None), NOW),
            Err(TokenError::WrongAudience)
        );
        // Only one tenant bound by audience, the other not: a token for the bound one is also
        // the unbound one's, so it is no one's (the unbound tenant must set its own `aud`).
        let half = sharing_ssjwt(&[
            ("tenant-a", KEY_A, None),
            ("tenant-b", KEY_A, Some("shop-b")),
        ]);
        assert_eq!(
            half.verify_hmac_token(&ssjwt_token(KEY_A, Some(json!("shop-b"))), NOW),
            Err(TokenError::AmbiguousTenant)
        );
        assert_eq!(
            tenant_of(&half, &ssjwt_token(KEY_A, None)).as_deref(),
            Some("tenant-a")
        );
    }

    #[test]
    fn one_tenants_token_is_never_accepted_as_another_tenants() {
        let a = sharing_ssjwt(&[
            ("tenant-a", KEY_A, Some("shop-a")),
            ("tenant-b", KEY_B, Some("shop-b")),
        ]);
        // Tenant A's key, naming B's audience (or both): not B's, since B's key did not sign it.
        for aud in [json!("shop-b"), json!(["shop-a", "shop-b"])] {
            let token = ssjwt_token(KEY_A, Some(aud.clone()));
            assert_ne!(tenant_of(&a, &token).as_deref(), Some("tenant-b"), "{aud}");
        }
        assert_eq!(
            tenant_of(&a, &ssjwt_token(KEY_A, Some(json!(["shop-a", "shop-b"])))).as_deref(),
            Some("tenant-a")
        );
    }

    #[test]
    fn one_tenant_may_list_an_issuer_twice_while_its_key_rotates() {
        let a = sharing_ssjwt(&[
            ("tenant-a", KEY_A, None),
            ("tenant-a", KEY_B, None),
            ("tenant-a", KEY_B, None),
        ]);
        for key in [KEY_A, KEY_B] {
            assert_eq!(
                tenant_of(&a, &ssjwt_token(key, None)).as_deref(),
                Some("tenant-a")
            );
        }
    }
}
