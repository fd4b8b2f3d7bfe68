//! UAC: answer a 401 or 407 to our INVITE once with digest credentials
//! (RFC 3261 section 22.2): the same INVITE again, CSeq + 1, a new branch,
//! and the Authorization or Proxy-Authorization that answers the challenge.

use rsip::prelude::*;
use rsip::{Header, Headers, Response};

use super::{DialogMachine, DialogOutput};
use crate::message;

/// A user name and password to answer challenges with.
#[derive(Clone)]
pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, <password>)", self.username)
    }
}

impl DialogMachine {
    /// UAC: answer one 401/407 challenge to the INVITE with these
    /// credentials (a second challenge fails the call: the password is
    /// wrong, and retrying would only lock the account).
    pub fn with_credentials(mut self, username: &str, password: &str) -> Self {
        self.credentials = Some(Box::new(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }));
        self
    }

    /// Send the INVITE again answering `response`'s challenge; `false`
    /// when there is nothing to answer with (no credentials left, no
    /// challenge we understand).
    pub(super) fn answer_challenge(&mut self, response: &Response) -> bool {
        let proxy = response.status_code.code() == 407;
        let challenge = response.headers.iter().find_map(|h| match h {
            Header::ProxyAuthenticate(v) if proxy => Some(v.value().to_string()),
            Header::WwwAuthenticate(v) if !proxy => Some(v.value().to_string()),
            _ => None,
        });
        let (Some(challenge), Some(creds)) = (challenge, self.credentials.take()) else {
            return false;
        };
        let uri = self.invite.uri.to_string();
        let Some(answer) = crate::auth::authorization(
            &challenge,
            &creds.username,
            &creds.password,
            "INVITE",
            &uri,
        ) else {
            tracing::warn!(challenge = %challenge, "a challenge we cannot answer (digest MD5, qop=auth expected)");
            return false;
        };
        self.invite_cseq += 1;
        let mut headers = Headers::default();
        headers.push(Header::Via(
            format!("{};branch={};rport", self.cfg.via, message::new_branch()).into(),
        ));
        for h in self.invite.headers.iter() {
            match h {
                Header::Via(_)
                | Header::CSeq(_)
                | Header::Authorization(_)
                | Header::ProxyAuthorization(_) => {}
                other => headers.push(other.clone()),
            }
        }
        headers.push(Header::CSeq(format!("{} INVITE", self.invite_cseq).into()));
        headers.push(if proxy {
            Header::ProxyAuthorization(answer.into())
        } else {
            Header::Authorization(answer.into())
        });
        self.invite.headers = headers;
        tracing::info!(
            code = response.status_code.code(),
            user = %creds.username,
            "the far end asked for credentials; INVITE sent again with them"
        );
        self.out.push_back(DialogOutput::Send(self.invite.clone()));
        true
    }
}
