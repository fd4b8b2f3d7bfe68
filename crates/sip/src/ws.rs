//! SIP over WebSocket (RFC 7118), as browsers' phones speak it: the `sip`
//! subprotocol over a plain (`ws`) or TLS (`wss`) connection, one SIP
//! message per WebSocket message (no Content-Length framing). A browser
//! cannot be reached by a new connection, so requests to it reuse the one
//! it opened (the endpoint sends by connection, as for TCP and TLS).

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::endpoint::Inbound;
use crate::parse::MAX_STREAM_MESSAGE;
use crate::stream::{deliver, SourceSlot, Streams};
use crate::transaction::{Peer, Transport};

/// The WebSocket subprotocol of SIP (RFC 7118 section 4.1).
const SUBPROTOCOL: &str = "sip";

/// Accept the upgrade only for the `sip` subprotocol, and name it in the
/// answer; anything else gets 400 saying what is expected.
// The signature is tungstenite's handshake callback; its error type is
// an HTTP response, which is large by nature.
#[allow(clippy::result_large_err)]
fn choose_sip(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offered = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL));
    if !offered {
        let mut refusal = ErrorResponse::new(Some(
            "SIP over WebSocket needs the \"sip\" subprotocol (Sec-WebSocket-Protocol: sip, RFC 7118)"
                .into(),
        ));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    resp.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(resp)
}

/// One WebSocket connection (after TLS, for `wss`): the upgrade under the
/// handshake deadline, then each message to the core and what the core
/// queues for it back as text messages.
pub(crate) async fn serve<S>(
    streams: &Streams,
    stream: S,
    addr: SocketAddr,
    transport: Transport,
    id: u64,
    _slot: SourceSlot,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(MAX_STREAM_MESSAGE))
        .max_frame_size(Some(MAX_STREAM_MESSAGE));
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(stream, choose_sip, Some(cfg));
    let ws = match tokio::time::timeout(streams.limits.handshake, upgrade).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(peer = %addr, error = %e, "WebSocket upgrade refused");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %addr, "WebSocket upgrade timed out");
            return;
        }
    };
    let (mut sink, mut source) = ws.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    if streams
        .in_tx
        .send(Inbound::Connected(id, transport, addr, out_tx.clone()))
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(data) = out_rx.recv().await {
            // SIP is text; what we send is UTF-8 (RFC 7118 section 5.4).
            let text = String::from_utf8_lossy(&data).into_owned();
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let peer = Peer {
        transport,
        addr,
        conn: Some(id),
    };
    while let Some(msg) = source.next().await {
        while streams.guard.pause_reading() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        match msg {
            Ok(Message::Text(t)) => deliver(streams, t.as_bytes(), peer, &out_tx),
            Ok(Message::Binary(b)) => deliver(streams, &b, peer, &out_tx),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {} // ping and pong are answered by tungstenite
        }
    }
    let _ = streams.in_tx.send(Inbound::Closed(id));
    drop(out_tx);
    let _ = writer.await;
}
