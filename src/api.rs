//! `meridian api METHOD PATH key=value…`: one Server API call as an app server makes it,
//! signed with a dev deployment's demo app (`App-Key`, `Nonce`, `Timestamp`,
//! `Signature` = SHA-1 of secret + nonce + timestamp), so a first call needs no signature
//! worked out by hand.

use std::time::Duration;

use anyhow::bail;
use bytes::Bytes;
use clap::Args;
use meridian_client::server_api::{exchange, form, signed_request, FORM};
use meridian_dev::endpoints::{AppCredentials, Endpoints};

use crate::demo_app::DemoApp;

/// How long the edge may take to answer.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct ApiArgs {
    #[command(flatten)]
    app: DemoApp,
    /// The HTTP method: POST for every Server API path.
    method: String,
    /// The path, e.g. /user/getToken.json.
    path: String,
    /// Parameters, sent as a form (in the query for GET and HEAD), e.g. userId=alice.
    #[arg(value_name = "KEY=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .ok_or_else(|| format!("{text:?}: expected key=value"))
}

/// Prints the answer's status line, then its body; a status other than 2xx is an error.
pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let endpoints = Endpoints::read(&args.app.endpoints.path())?;
    let area = endpoints.area(&args.app.area)?;
    let app = area.app(&args.app.env)?;
    let (request, body) = request(&args.method, &args.path, &args.params, app);
    let answer = exchange(area.api()?, request, body, ANSWER_WAIT).await?;
    println!("HTTP {}", answer.status);
    println!("{}", answer.body);
    if !(200..300).contains(&answer.status) {
        bail!(
            "{} {} answered HTTP {}",
            args.method,
            args.path,
            answer.status
        );
    }
    Ok(())
}

/// The signed request and its body: the parameters as a form, in the query for GET and
/// HEAD.
fn request(
    method: &str,
    path: &str,
    params: &[(String, String)],
    app: &AppCredentials,
) -> (hyper::http::request::Builder, Bytes) {
    let method = method.to_ascii_uppercase();
    let path = match path.starts_with('/') {
        true => path.to_string(),
        false => format!("/{path}"),
    };
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let form = form(&pairs);
    let in_query = method == "GET" || method == "HEAD";
    let uri = match (in_query, form.is_empty()) {
        (true, false) => format!("{path}?{form}"),
        _ => path,
    };
    let request = signed_request(&method, &uri, &app.app_key, &app.app_secret, 0);
    if in_query {
        (request, Bytes::new())
    } else {
        (
            request.header(hyper::header::CONTENT_TYPE, FORM),
            Bytes::from(form),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_edge::server_api::auth;

    fn app() -> AppCredentials {
        AppCredentials {
            env: "dev".into(),
            app_key: "kd".into(),
            app_secret: "sd".into(),
        }
    }

    fn params(pairs: &[&str]) -> Vec<(String, String)> {
        pairs.iter().map(|p| parse_param(p).unwrap()).collect()
    }

    #[test]
    fn the_request_is_signed_as_the_edge_checks_it_and_carries_a_form() {
        let (request, body) = request(
            "post",
            "user/getToken.json",
            &params(&["userId=alice", "name=Alice B=C"]),
            &app(),
        );
        let request = request.body(body).unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "/user/getToken.json");
        assert_eq!(request.headers()[hyper::header::CONTENT_TYPE], FORM);
        assert_eq!(request.body(), "userId=alice&name=Alice%20B%3DC");
        let signed = auth::signed_headers(request.headers()).unwrap();
        assert_eq!(signed.app_key, "kd");
        auth::verify(["sd"], &signed).unwrap();
        assert!(auth::verify(["another secret"], &signed).is_err());
    }

    #[test]
    fn get_puts_the_parameters_in_the_query() {
        let (request, body) = request("GET", "/x.json", &params(&["a=1"]), &app());
        let request = request.body(body).unwrap();
        assert_eq!(request.uri(), "/x.json?a=1");
        assert!(request.body().is_empty());
    }

    #[test]
    fn a_parameter_needs_a_key_and_a_value() {
        assert_eq!(parse_param("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_param("userId").unwrap_err().contains("key=value"));
    }
}
