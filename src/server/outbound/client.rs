//! The one HTTP client for calls to the outside: rustls, no proxy taken
//! from the environment, no redirect followed unless the call asks (then
//! at most a few, each destination checked like the first), and every
//! connection made only to addresses [`destination`](super::destination)
//! admits — names are checked when they resolve, IP literals before the
//! request leaves.

use super::destination::{self, Allowlist, DestinationError};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::sync::Arc;
use std::time::Duration;

/// Why an outbound request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The destination is not one an outside call may reach.
    #[error(transparent)]
    Refused(#[from] DestinationError),
    /// No answer within the time allowed.
    #[error("No answer within {0:?}.")]
    Timeout(Duration),
    /// The connection failed or broke.
    #[error("The request failed: {0}")]
    Failed(String),
}

/// Whether a call follows redirects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Redirects {
    /// A redirect is the answer (the default: 3xx is a failure).
    #[default]
    Refused,
    /// Up to [`crate::domain::integrations::MAX_REDIRECTS`] are followed,
    /// each new destination checked.
    Followed,
}

/// The outbound client (cheap to clone).
#[derive(Clone)]
pub struct Outbound {
    http: reqwest::Client,
    /// The same, following redirects.
    following: reqwest::Client,
    allowlist: Arc<Allowlist>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("allowlist", &self.allowlist)
            .finish()
    }
}

/// Resolves names through [`destination::resolve`], so an internal answer
/// refuses the connection.
struct GuardedResolver {
    allowlist: Arc<Allowlist>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowlist = self.allowlist.clone();
        Box::pin(async move {
            // port 0: the client puts the URL's port in
            let addresses = destination::resolve(name.as_str(), 0, &allowlist).await?;
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

impl Outbound {
    /// A client admitting the internal hosts of `allowlist`.
    pub fn new(allowlist: Allowlist) -> Result<Outbound, SendError> {
        let allowlist = Arc::new(allowlist);
        let client = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .no_proxy()
                .redirect(redirects)
                .dns_resolver(Arc::new(GuardedResolver {
                    allowlist: allowlist.clone(),
                }))
                .user_agent(concat!("veriphy-jobs/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|error| SendError::Failed(error.to_string()))
        };
        let guard = allowlist.clone();
        let following = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > crate::domain::integrations::MAX_REDIRECTS {
                let error = format!(
                    "More than {} redirects.",
                    crate::domain::integrations::MAX_REDIRECTS
                );
                return attempt.error(error);
            }
            // a new host is checked again when it resolves (the resolver)
            match destination::check_url(attempt.url(), &guard) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        Ok(Outbound {
            http: client(reqwest::redirect::Policy::none())?,
            following: client(following)?,
            allowlist,
        })
    }

    /// The hosts admitted although internal.
    pub fn allowlist(&self) -> &Allowlist {
        &self.allowlist
    }

    /// Whether an integration may be saved with this destination: an HTTP
    /// kind's base URL, or an SMTP host with its port and whether it is
    /// reached in plain text. Refused: what the call
    /// would refuse (scheme, internal literal or resolved address); a name
    /// that does not resolve now is left to the call.
    pub async fn check_destination(
        &self,
        url_or_host: &str,
        smtp: Option<(u16, bool)>,
    ) -> Result<(), destination::DestinationError> {
        let (host, port) = match smtp {
            Some((_, plain)) if plain && !self.allowlist.admits(url_or_host) => {
                return Err(destination::DestinationError::PlainSmtp)
            }
            Some((port, _)) => (url_or_host.trim_matches(['[', ']']).to_string(), port),
            None => {
                let url = reqwest::Url::parse(url_or_host)
                    .map_err(|_| destination::DestinationError::NotHttp)?;
                destination::check_url(&url, &self.allowlist)?;
                let host = url
                    .host_str()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .to_string();
                (host, url.port_or_known_default().unwrap_or(443))
            }
        };
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            if destination::is_internal(ip) && !self.allowlist.admits(&host) {
                return Err(destination::DestinationError::Internal { host });
            }
            return Ok(());
        }
        match destination::resolve(&host, port, &self.allowlist).await {
            Err(refused @ destination::DestinationError::Internal { .. }) => Err(refused),
            _ => Ok(()),
        }
    }

    /// A request to `url`, once the URL itself passes the destination
    /// check, following redirects or not.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        redirects: Redirects,
    ) -> Result<reqwest::RequestBuilder, SendError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| DestinationError::NotHttp)?;
        destination::check_url(&parsed, &self.allowlist)?;
        let client = match redirects {
            Redirects::Refused => &self.http,
            Redirects::Followed => &self.following,
        };
        Ok(client.request(method, parsed))
    }

    /// Sends `request` within `timeout`; a refusal of the destination at
    /// connect time comes back as [`SendError::Refused`].
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::Response, SendError> {
        request.timeout(timeout).send().await.map_err(|error| {
            if let Some(refused) = refusal_in(&error) {
                SendError::Refused(refused)
            } else if error.is_timeout() {
                SendError::Timeout(timeout)
            } else {
                SendError::Failed(crate::server::telemetry::error_chain(&error))
            }
        })
    }
}

/// The destination refusal somewhere in `error`'s causes, if any.
fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<DestinationError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(refused) = current.downcast_ref::<DestinationError>() {
            return Some(refused.clone());
        }
        cause = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-answer HTTP server on loopback; its port.
    async fn answering_server() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        port
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
        let port = answering_server().await;
        let outbound = Outbound::new(Allowlist::new(["127.0.0.1"])).unwrap();
        // https would be refused before any connection: allowlisted http
        // to a name that is not on the list reaches the resolver
        let request = outbound.http.get(format!("http://localhost:{port}/"));

        let refused = outbound.send(request, Duration::from_secs(2)).await;

        assert!(
            matches!(refused, Err(SendError::Refused(DestinationError::Internal { ref host })) if host == "localhost"),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn an_allowlisted_internal_host_is_reached() {
        let port = answering_server().await;
        let outbound = Outbound::new(Allowlist::new(["localhost"])).unwrap();
        let request = outbound
            .request(
                reqwest::Method::GET,
                &format!("http://localhost:{port}/"),
                Redirects::Refused,
            )
            .unwrap();

        let answer = outbound
            .send(request, Duration::from_secs(2))
            .await
            .unwrap();

        assert_eq!(answer.status(), 204);
    }

    #[test]
    fn an_internal_ip_literal_is_refused_before_any_request() {
        let outbound = Outbound::new(Allowlist::default()).unwrap();
        let refused = outbound.request(
            reqwest::Method::GET,
            "https://169.254.169.254/latest/",
            Redirects::Refused,
        );
        assert!(matches!(
            refused,
            Err(SendError::Refused(DestinationError::Internal { .. }))
        ));
    }
}
