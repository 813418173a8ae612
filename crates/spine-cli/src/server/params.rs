//! Request parameters: declared once per route ([`Param`]), and parsed from that declaration.
//!
//! The same [`Param`] table feeds the OpenAPI document and the parser, so a parameter cannot be
//! documented but refused, or accepted but undocumented: an unknown query parameter is a 400
//! that lists the accepted ones, and a default is applied from the declaration the document
//! shows. Every refusal names the parameter and what would have been accepted, because the
//! people calling this API are reading the error, not the source.

use std::str::FromStr;

use axum::extract::{FromRequestParts, Query, RawPathParams};
use axum::http::request::Parts;
use chrono::NaiveDate;
use spine_model::{Domain, VocabError};

use super::error::ApiError;
use super::{Endpoint, Route};

/// Where a parameter is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{name}` segment of the path (always required).
    Path,
    /// A `name=value` pair of the query string.
    Query,
}

impl Location {
    /// The OpenAPI spelling (`in: path|query`), also used in error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
        }
    }
}

/// What values a parameter takes: drives both validation and the document's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A dotted lower-case domain name such as `finra.otc_transparency`.
    Domain,
    /// A business date `YYYY-MM-DD` that must be a Friday (a `week_ending`).
    Friday,
    /// One of these wire spellings (matched case-insensitively, like the CLI).
    Enum(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
    /// A whole number in `min..=max`.
    Integer {
        /// The smallest accepted value.
        min: u32,
        /// The largest accepted value.
        max: u32,
    },
}

/// One declared parameter of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name, as written in the URL.
    pub name: &'static str,
    /// Path or query.
    pub location: Location,
    /// Whether it must be given (path parameters always must).
    pub required: bool,
    /// What it accepts.
    pub kind: ParamKind,
    /// The value used when it is absent (shown in the document).
    pub default: Option<&'static str>,
    /// A valid value, for the document and the test that calls every documented route.
    pub example: &'static str,
    /// What it means, for people reading the document.
    pub description: &'static str,
}

/// The raw parameters of a request: path captures (percent-decoded) and query pairs. An
/// extractor so that malformed input is refused as a JSON 400 before a handler runs, instead
/// of axum's plain-text rejections.
#[derive(Debug, Clone, Default)]
pub struct RawParams {
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for RawParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::RawPathParamsRejection;
        let path = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            // Routes without `{captures}` have no path parameters: nothing to read.
            Err(RawPathParamsRejection::MissingPathParams(_)) => Vec::new(),
            Err(e) => {
                return Err(ApiError::BadRequest(format!(
                    "path parameter: {} (percent-encode UTF-8 text only)",
                    e.body_text()
                )));
            }
        };
        let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::BadRequest(format!("query string: {}", e.body_text())))?
            .0;
        Ok(RawParams { path, query })
    }
}

impl RawParams {
    /// Builds raw parameters by hand (for callers outside a request, and tests).
    pub fn new(path: Vec<(String, String)>, query: Vec<(String, String)>) -> RawParams {
        RawParams { path, query }
    }

    /// Checks the parameters against `endpoint`'s declaration: unknown or repeated query
    /// parameters are refused. Empty query values count as absent, so a form that submits
    /// `?domain=&severity=ERROR` filters on severity only.
    pub fn check(self, endpoint: Endpoint) -> Result<Params, ApiError> {
        let route = endpoint.route();
        let mut values: Vec<(&'static Param, String)> = Vec::new();
        for (name, value) in self.path {
            // The router only matches paths whose captures are the declared ones.
            if let Some(param) = route.param(&name, Location::Path) {
                values.push((param, value));
            }
        }
        for (name, value) in self.query {
            let Some(param) = route.param(&name, Location::Query) else {
                let accepted: Vec<&str> = route
                    .params
                    .iter()
                    .filter(|p| p.location == Location::Query)
                    .map(|p| p.name)
                    .collect();
                return Err(ApiError::BadRequest(if accepted.is_empty() {
                    format!(
                        "unknown query parameter `{name}`: {} takes no query parameters",
                        route.path
                    )
                } else {
                    format!(
                        "unknown query parameter `{name}`; {} accepts: {}",
                        route.path,
                        accepted.join(", ")
                    )
                }));
            };
            if values.iter().any(|(p, _)| p.name == param.name) {
                return Err(ApiError::BadRequest(format!(
                    "query parameter `{name}` is given more than once; give it once"
                )));
            }
            if !value.is_empty() {
                values.push((param, value));
            }
        }
        for param in route.params.iter().filter(|p| p.required) {
            if !values.iter().any(|(p, _)| p.name == param.name) {
                return Err(ApiError::BadRequest(format!(
                    "{} parameter `{}` is required, e.g. `{}`",
                    param.location.as_str(),
                    param.name,
                    param.example
                )));
            }
        }
        Ok(Params { route, values })
    }
}

/// Checked parameters of one request, read by name with their declared kind and default.
#[derive(Debug, Clone)]
pub struct Params {
    route: &'static Route,
    values: Vec<(&'static Param, String)>,
}

impl Params {
    /// The declaration and the given (or default) text of `name`.
    fn text(&self, name: &str) -> (&'static Param, Option<&str>) {
        let param = self
            .route
            .params
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{} declares no parameter `{name}`", self.route.path));
        let given = self
            .values
            .iter()
            .find(|(p, _)| p.name == name)
            .map(|(_, v)| v.as_str());
        (param, given.or(param.default))
    }

    /// A domain name.
    pub fn domain(&self, name: &str) -> Result<Option<Domain>, ApiError> {
        let (param, text) = self.text(name);
        debug_assert_eq!(param.kind, ParamKind::Domain);
        text.map(|t| Domain::parse(t).map_err(|e| bad(param, e)))
            .transpose()
    }

    /// A `week_ending`: a strict `YYYY-MM-DD` that is a Friday.
    pub fn friday(&self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        let (param, text) = self.text(name);
        debug_assert_eq!(param.kind, ParamKind::Friday);
        text.map(|t| parse_friday(t).map_err(|e| bad(param, e)))
            .transpose()
    }

    /// A vocabulary value (`ready_for`, `tier`, `severity`, `category`).
    pub fn vocab<T: FromStr<Err = VocabError>>(&self, name: &str) -> Result<Option<T>, ApiError> {
        let (param, text) = self.text(name);
        debug_assert!(matches!(param.kind, ParamKind::Enum(_)));
        text.map(|t| t.parse::<T>().map_err(|e| bad(param, e)))
            .transpose()
    }

    /// A boolean: exactly `true` or `false`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        let (param, text) = self.text(name);
        debug_assert_eq!(param.kind, ParamKind::Bool);
        text.map(|t| match t {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(bad(param, format!("`{other}` is not `true` or `false`"))),
        })
        .transpose()
    }

    /// A whole number within the declared bounds.
    pub fn integer(&self, name: &str) -> Result<Option<u32>, ApiError> {
        let (param, text) = self.text(name);
        let ParamKind::Integer { min, max } = param.kind else {
            panic!("parameter `{name}` is not an integer");
        };
        text.map(|t| match t.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(bad(
                param,
                format!("`{t}` is not a whole number from {min} to {max}"),
            )),
        })
        .transpose()
    }
}

fn bad(param: &Param, reason: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!(
        "{} parameter `{}`: {reason}",
        param.location.as_str(),
        param.name
    ))
}

/// Parses a strict `YYYY-MM-DD` date that must be a Friday; the error says which Fridays are
/// nearest, since "the week ending Thursday" is almost always an off-by-one.
pub fn parse_friday(text: &str) -> Result<NaiveDate, String> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let date = shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| format!("`{text}` is not a date (YYYY-MM-DD)"))?;
    spine_model::WeekEnding::new(date)
        .map(spine_model::WeekEnding::date)
        .map_err(|e| format!("`{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_friday;

    #[test]
    fn week_endings_are_strict_fridays() {
        assert_eq!(
            parse_friday("2025-12-19").unwrap().to_string(),
            "2025-12-19"
        );
        let thursday = parse_friday("2025-12-18").unwrap_err();
        assert!(thursday.contains("Thursday"), "{thursday}");
        assert!(thursday.contains("2025-12-12 and 2025-12-19"), "{thursday}");
        for bad in [
            "2025-12-1",
            "2025-13-05",
            "20251219",
            "2025-12-19T00:00",
            "+2025-12-1",
            "",
        ] {
            let e = parse_friday(bad).unwrap_err();
            assert!(e.contains("YYYY-MM-DD"), "{bad}: {e}");
        }
    }
}
