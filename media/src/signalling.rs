//! WHIP (RFC 9725) and WHEP: a client `POST`s an SDP offer with `Authorization: Bearer
//! <its user token>` and gets `201 Created`, the SDP answer and a `Location` it may
//! `DELETE` to hang up (docs/media.md). Browser pages on other origins may call them
//! (CORS): the token, not the origin, is what is checked.
//!
//! | request | what |
//! |---|---|
//! | `POST /whip/{roomId}/{streamId}` | publish a stream (a member whose role publishes) |
//! | `POST /whep/{roomId}/{userId}/{streamId}[?layer=rid]` | watch `userId`'s stream (any member) |
//! | `DELETE /resource/{id}` | end a transport |

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, AUTHORIZATION, CONTENT_TYPE, LOCATION,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use meridian_telemetry::{json_response, AdminHooks};
use serde_json::json;
use str0m::change::SdpOffer;
use str0m::media::Rid;
use tokio::sync::{mpsc, oneshot};

use crate::members::{Members, Refusal};
use crate::metrics::{Answer, MediaMetrics};
use crate::sfu::{Command, Refused, StreamKey};

const SDP: &str = "application/sdp";
/// Where a transport's resource is (its `Location`).
const RESOURCE: &str = "/resource/";

pub(crate) struct Signalling {
    pub(crate) members: Arc<Members>,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) metrics: MediaMetrics,
}

/// The public listener's hooks: WHIP/WHEP on every path the admin endpoint leaves.
pub(crate) struct PublicHooks(pub(crate) Arc<Signalling>);

impl AdminHooks for PublicHooks {
    fn stats(&self) -> serde_json::Value {
        json!({})
    }

    fn route(&self, request: Request<Bytes>) -> BoxFuture<'static, Response<Bytes>> {
        let signalling = self.0.clone();
        async move {
            let endpoint = endpoint(request.uri().path());
            let mut response = signalling.handle(request).await;
            signalling
                .metrics
                .requests
                .with(&Answer {
                    endpoint,
                    status: response.status().as_u16(),
                })
                .inc();
            allow_any_origin(&mut response);
            response
        }
        .boxed()
    }
}

fn endpoint(path: &str) -> &'static str {
    match path.split('/').nth(1) {
        Some("whip") => "whip",
        Some("whep") => "whep",
        Some("resource") => "resource",
        _ => "other",
    }
}

fn allow_any_origin(response: &mut Response<Bytes>) {
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location"),
    );
}

fn refusal(status: StatusCode, code: u32, message: &str) -> Response<Bytes> {
    json_response(status, &json!({ "code": code, "error": message }))
}

impl Signalling {
    async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let path = request.uri().path().to_string();
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        match (request.method(), parts.as_slice()) {
            (&Method::OPTIONS, _) => preflight(),
            (&Method::POST, ["whip", room, stream]) => {
                self.offer(&request, room, None, stream).await
            }
            (&Method::POST, ["whep", room, user, stream]) => {
                self.offer(&request, room, Some(user), stream).await
            }
            (&Method::DELETE, ["resource", id]) => self.close(id).await,
            _ => refusal(StatusCode::NOT_FOUND, 404, "no such WHIP/WHEP resource"),
        }
    }

    /// A WHIP offer (`publisher` is `None`: the caller publishes) or a WHEP one.
    async fn offer(
        &self,
        request: &Request<Bytes>,
        room_id: &str,
        publisher: Option<&str>,
        stream_id: &str,
    ) -> Response<Bytes> {
        let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
        if header(CONTENT_TYPE).is_none_or(|t| !t.starts_with(SDP)) {
            return refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                1002,
                "the body must be an SDP offer (application/sdp)",
            );
        }
        let Some(bearer) = header(AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer ")) else {
            let (_, code) = Refusal::Token(String::new()).status_and_code();
            return refusal(
                StatusCode::UNAUTHORIZED,
                code,
                "needs Authorization: Bearer <user token>",
            );
        };
        let offer = match std::str::from_utf8(request.body())
            .map_err(|e| e.to_string())
            .and_then(|text| SdpOffer::from_sdp_string(text).map_err(|e| e.to_string()))
        {
            Ok(offer) => offer,
            Err(e) => return refusal(StatusCode::BAD_REQUEST, 1002, &e),
        };
        let member = match self.members.authorize(bearer, room_id, publisher).await {
            Ok(member) => member,
            Err(refused) => {
                let (status, code) = refused.status_and_code();
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
                return refusal(status, code, &refused.to_string());
            }
        };
        let (reply, answer) = oneshot::channel();
        let command = match publisher {
            None => Command::Publish {
                stream: StreamKey {
                    publisher: member,
                    stream_id: stream_id.to_string(),
                },
                offer,
                reply,
            },
            Some(user_id) => Command::Subscribe {
                layer: layer(request),
                stream: StreamKey {
                    publisher: crate::sfu::Member {
                        app_key: member.app_key.clone(),
                        room_id: room_id.to_string(),
                        user_id: user_id.to_string(),
                    },
                    stream_id: stream_id.to_string(),
                },
                member,
                offer,
                reply,
            },
        };
        if self.commands.send(command).await.is_err() {
            return refusal(StatusCode::SERVICE_UNAVAILABLE, 1000, "shutting down");
        }
        match answer.await {
            Ok(Ok((id, answer))) => {
                let mut response = Response::new(Bytes::from(answer.to_sdp_string()));
                *response.status_mut() = StatusCode::CREATED;
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(SDP));
                if let Ok(location) = HeaderValue::from_str(&format!("{RESOURCE}{id:016x}")) {
                    headers.insert(LOCATION, location);
                }
                response
            }
            Ok(Err(Refused::NoStream)) => {
                refusal(StatusCode::NOT_FOUND, 404, &Refused::NoStream.to_string())
            }
            Ok(Err(refused)) => refusal(StatusCode::BAD_REQUEST, 1002, &refused.to_string()),
            Err(_) => refusal(StatusCode::SERVICE_UNAVAILABLE, 1000, "shutting down"),
        }
    }

    /// `DELETE` of a transport's `Location`: its random id is the capability to end it.
    async fn close(&self, id: &str) -> Response<Bytes> {
        let Ok(id) = u64::from_str_radix(id, 16) else {
            return refusal(StatusCode::NOT_FOUND, 404, "no such resource");
        };
        let (reply, answer) = oneshot::channel();
        if self
            .commands
            .send(Command::Close { id, reply })
            .await
            .is_err()
        {
            return refusal(StatusCode::SERVICE_UNAVAILABLE, 1000, "shutting down");
        }
        match answer.await {
            Ok(true) => Response::new(Bytes::new()),
            _ => refusal(StatusCode::NOT_FOUND, 404, "no such resource"),
        }
    }
}

/// The simulcast layer a WHEP request asks for (`?layer=small`: a rid the publisher
/// sends, as its resource's `layers` name them).
fn layer(request: &Request<Bytes>) -> Option<Rid> {
    let query = request.uri().query()?;
    let params = meridian_access::params::Params::parse_form(query.as_bytes()).ok()?;
    params.get("layer").filter(|l| !l.is_empty()).map(Rid::from)
}

/// The answer to a browser's preflight: WHIP/WHEP calls carry `Authorization` and an SDP
/// body, and the page reads `Location`.
fn preflight() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, DELETE, OPTIONS"),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type"),
    );
    response
}
