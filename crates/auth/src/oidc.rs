//! Sign-in through an OpenID Connect provider (the `openidconnect` crate):
//! authorization code flow with PKCE, state and nonce; the ID token's
//! signature, issuer, audience, expiry and nonce checked by the crate; the
//! role mapped from a claim (groups); the provider's MFA accepted from
//! `amr` or `acr`.

use std::collections::BTreeMap;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope as OidcScope, TokenResponse,
};
use serde::Deserialize;

use crate::role::{Role, Scope};

/// `[auth.oidc]` of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is at
    /// `ISSUER/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client id registered with the provider.
    pub client_id: String,
    /// The client secret registered with the provider.
    pub client_secret: String,
    /// Where the provider sends the browser back: this listener's
    /// `/sso/callback`, as the browser reaches it.
    pub redirect_url: String,
    /// Scopes asked beside `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim holding the user's groups.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Group -> role. A user in several gets the most powerful; in none is refused.
    pub roles: BTreeMap<String, Role>,
    /// Group -> queues the account is limited to (absent: every queue).
    #[serde(default)]
    pub queues: BTreeMap<String, Vec<String>>,
    /// The claim giving the account id.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// `amr` values that mean a second factor was used.
    #[serde(default = "default_mfa_amr")]
    pub mfa_amr: Vec<String>,
    /// `acr` values that mean a second factor was used.
    #[serde(default)]
    pub mfa_acr: Vec<String>,
    /// A PEM file of the certificate authority of an internal provider.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Label of the button on the login page.
    #[serde(default = "default_label")]
    pub label: String,
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into(), "groups".into()]
}
fn default_role_claim() -> String {
    "groups".into()
}
fn default_username_claim() -> String {
    "preferred_username".into()
}
fn default_mfa_amr() -> Vec<String> {
    ["mfa", "otp", "hwk", "swk", "sms", "fpt", "face"]
        .map(String::from)
        .to_vec()
}
fn default_label() -> String {
    "Se connecter avec le fournisseur d'identité".into()
}

/// What a finished sign-in proves.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `issuer#sub`: the stable link to the account.
    pub subject: String,
    /// The account id, from `username_claim`, in lower case.
    pub username: String,
    /// Full name, from the `name` claim (default: the username).
    pub name: String,
    /// The most powerful role the user's groups map to.
    pub role: Role,
    /// The union of the queues of the groups that map to a role; every queue
    /// when one of those groups has no `queues` entry.
    pub queues: Scope,
    /// The provider says a second factor was used.
    pub mfa: bool,
    /// Every group in the role claim, mapped or not (for the audit log).
    pub groups: Vec<String>,
}

/// A sign-in under way: kept server-side until the provider sends the
/// browser back.
#[derive(Debug)]
pub struct Pending {
    /// The OAuth `state` sent to the provider; the callback must return it.
    pub state: String,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// Why an SSO sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered wrongly (discovery,
    /// token exchange): its issuer URL, then what happened.
    #[error("identity provider {0}: {1}")]
    Provider(String, String),
    /// The provider answered but the sign-in is refused (bad ID token,
    /// missing claim, no group mapped to a role).
    #[error("sign-in refused: {0}")]
    Refused(String),
    /// The `[auth.oidc]` configuration is unusable (URL, CA file, client).
    #[error("OIDC configuration: {0}")]
    Config(String),
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A relying party bound to one provider.
pub struct Oidc {
    cfg: OidcConfig,
    client: Client,
    http: openidconnect::reqwest::Client,
}

impl Oidc {
    /// Read the provider's discovery document.
    pub async fn discover(cfg: OidcConfig) -> Result<Oidc, OidcError> {
        let mut b = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would open the client to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10));
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| OidcError::Config(format!("ca_file {}: {e}", ca.display())))?;
            let cert = openidconnect::reqwest::Certificate::from_pem(&pem)
                .map_err(|e| OidcError::Config(format!("ca_file {}: {e}", ca.display())))?;
            b = b.add_root_certificate(cert);
        }
        let http = b
            .build()
            .map_err(|e| OidcError::Config(format!("HTTP client: {e}")))?;
        let issuer = IssuerUrl::new(cfg.issuer.clone())
            .map_err(|e| OidcError::Config(format!("issuer {:?}: {e}", cfg.issuer)))?;
        let meta = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| {
                OidcError::Provider(cfg.issuer.clone(), format!("discovery: {}", chain(&e)))
            })?;
        let redirect = RedirectUrl::new(cfg.redirect_url.clone())
            .map_err(|e| OidcError::Config(format!("redirect_url {:?}: {e}", cfg.redirect_url)))?;
        let client = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(cfg.client_id.clone()),
            Some(ClientSecret::new(cfg.client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        Ok(Oidc { cfg, client, http })
    }

    /// The configuration this relying party was made from.
    pub fn config(&self) -> &OidcConfig {
        &self.cfg
    }

    /// The provider's URL to send the browser to, and what to keep.
    pub fn start(&self) -> (String, Pending) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in &self.cfg.scopes {
            req = req.add_scope(OidcScope::new(s.clone()));
        }
        let (url, state, nonce) = req.url();
        (
            url.to_string(),
            Pending {
                state: state.secret().clone(),
                nonce,
                verifier,
            },
        )
    }

    /// Finish a sign-in with the code the provider sent back.
    pub async fn finish(&self, pending: Pending, code: &str) -> Result<Identity, OidcError> {
        let issuer = &self.cfg.issuer;
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| {
                OidcError::Provider(issuer.clone(), format!("token exchange: {}", chain(&e)))
            })?;
        let id_token = tokens.id_token().ok_or_else(|| {
            OidcError::Provider(issuer.clone(), "no ID token in the answer".into())
        })?;
        let claims = id_token
            .claims(&self.client.id_token_verifier(), &pending.nonce)
            .map_err(|e| OidcError::Refused(format!("ID token: {}", chain(&e))))?;
        // The crate checked the token (signature, issuer, audience, expiry,
        // nonce) but types only the standard claims: read the others from
        // the same, verified, payload.
        let raw = raw_claims(&id_token.to_string())?;
        let sub = claims.subject().as_str().to_string();
        let username = raw
            .get(&self.cfg.username_claim)
            .and_then(|v| v.as_str())
            .map(|s| s.to_lowercase())
            .ok_or_else(|| {
                OidcError::Refused(format!(
                    "the ID token has no {:?} claim",
                    self.cfg.username_claim
                ))
            })?;
        let name = raw
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or(&username)
            .to_string();
        let groups: Vec<String> = match raw.get(&self.cfg.role_claim) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let role = groups
            .iter()
            .filter_map(|g| self.cfg.roles.get(g))
            .min()
            .copied()
            .ok_or_else(|| {
                OidcError::Refused(format!(
                    "{username} is in no group that maps to a role (groups: {})",
                    groups.join(", ")
                ))
            })?;
        let mut queues: Vec<String> = Vec::new();
        let mut all = false;
        for g in groups.iter().filter(|g| self.cfg.roles.contains_key(*g)) {
            match self.cfg.queues.get(g) {
                Some(q) => queues.extend(q.iter().cloned()),
                None => all = true,
            }
        }
        queues.sort();
        queues.dedup();
        let amr: Vec<String> = claims
            .auth_method_refs()
            .map(|v| v.iter().map(|a| a.to_string()).collect())
            .unwrap_or_default();
        let acr = claims.auth_context_ref().map(|a| a.to_string());
        let mfa = amr.iter().any(|a| self.cfg.mfa_amr.contains(a))
            || acr.as_ref().is_some_and(|a| self.cfg.mfa_acr.contains(a));
        Ok(Identity {
            subject: format!("{issuer}#{sub}"),
            username,
            name,
            role,
            queues: if all { Scope::all() } else { Scope(queues) },
            mfa,
            groups,
        })
    }
}

fn raw_claims(jwt: &str) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
    use base64::Engine;
    let payload = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| OidcError::Refused("ID token is not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| OidcError::Refused(format!("ID token payload: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| OidcError::Refused(format!("ID token payload: {e}")))
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
