//! Where FINRA OTC Transparency data comes from, as configured sources: the variables a
//! `url-template` source fills per partition, and the `finra-api` source kind — FINRA's Query
//! API ([`crate::api`]) fetched one (week, tier) at a time.
//!
//! A `finra-api` fetch asks for the rows of one week (`weekStartDate`, the Monday of the
//! partition's week) and tier with summary type `ATS_W_SMBL_FIRM`, pages until `Record-Total`
//! rows are read, and writes them to a temporary file in FINRA's pipe-delimited file format, so
//! the capture's stages validate and reject them exactly as they would a downloaded file (the
//! response's row `k` is the file's line `k + 1`). The partition it is ingested under comes from
//! the request — week ending = `weekStartDate` + 4 days — never from a publication lag.
//!
//! Before downloading a week it captured before, it asks FINRA for the week's latest
//! `lastUpdateDate` with one one-row request: FINRA re-stamps a week it revises, so an unchanged
//! stamp is "not modified" and costs one request instead of several pages.
//!
//! A `429 Too Many Requests` whose `Retry-After` is at most a minute is waited out in place (at
//! most five times per page); a longer one ends the fetch with a retryable error carrying the
//! wait ([`SourceFetchError::retry_after`]), so the worker backs off at least that long instead of
//! holding its work item. An empty week is [`SourceFetchError::NotPublished`].
//!
//! Settings never hold a secret: OAuth2 credentials are named by environment variables
//! (`client_id_env`, `client_secret_env`) read at fetch time; a variable that is not set is a
//! non-retryable configuration error naming the variable, never its value. Every request
//! (probe and pages, not the token request) first reserves a slot of the API's budget in the
//! database ([`spine_engine::sources::reserve_rate_slot`]), at most 10 requests a second by
//! default across every worker, half FINRA's published 20 per second.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Days;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spine_engine::sources::{
    FetchValidators, FetchedPartition, PluginFailure, RequestRecord, SourceFetch, SourceFetchError,
    TempBody, rate_key, reserve_rate_slot,
};
use spine_engine::{Engine, RunContext};
use spine_model::PartitionKey;

use crate::api::{
    ApiError, Credentials, DEFAULT_BASE_URL, DEFAULT_TOKEN_URL, FinraApiClient, FinraApiConfig,
    MAX_PAGE_LIMIT, RateLimiter, SUMMARY_TYPE_CODE, TierCodes,
};

/// The source kind of FINRA's Query API.
pub const FINRA_API: &str = "finra-api";

/// The variables a FINRA `url-template` source may use: the tier code (`NMS_TIER_1`,
/// `NMS_TIER_2`, `OTC`), the week's Friday and its Monday, `YYYY-MM-DD`.
pub const TEMPLATE_VARIABLES: &[&str] = &["TIER", "WEEK_ENDING", "WEEK_START"];

/// FINRA's published limit for synchronous requests, per second and IP address.
pub const FINRA_REQUESTS_PER_SECOND_LIMIT: f64 = 20.0;

/// The values of [`TEMPLATE_VARIABLES`] for a partition (those it can give).
pub fn template_variables(partition: &PartitionKey) -> Vec<(&'static str, String)> {
    let mut values = Vec::new();
    if let Some(tier) = partition.tier() {
        values.push(("TIER", tier.as_str().to_string()));
    }
    if let Some(week) = partition.week_ending() {
        values.push(("WEEK_ENDING", week.to_string()));
        values.push(("WEEK_START", spine_model::week::monday_of(week).to_string()));
    }
    values
}

/// The settings of a `finra-api` source, as stored in `core_sources.settings_json`. Every field
/// is optional; absent ones take FINRA's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinraApiSettings {
    /// API base URL (default `https://api.finra.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// OAuth2 token endpoint (default FINRA's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The environment variable holding the OAuth2 client id (with `client_secret_env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_env: Option<String>,
    /// The environment variable holding the OAuth2 client secret (with `client_id_env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    /// The `tierIdentifier` of OTC equities (default `OTCE`; some clients write `OTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otc_tier_code: Option<String>,
    /// Rows per page, 1 to 5,000 (default 5,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_limit: Option<u32>,
    /// Requests per second across every worker, above 0 and below 20 (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
}

impl FinraApiSettings {
    /// Reads stored settings; a field this version does not know is an error (a typo must not
    /// be ignored).
    pub fn parse(settings: &Value) -> Result<FinraApiSettings, String> {
        serde_json::from_value(settings.clone()).map_err(|e| format!("settings {settings}: {e}"))
    }

    /// The settings as stored.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("settings serialize")
    }

    /// Checks everything that can be checked without the environment: both credential variables
    /// or neither, variable names, URLs (http(s), a host, no credentials in them), the page limit
    /// and the rate.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.client_id_env, &self.client_secret_env) {
            (Some(_), None) => {
                return Err(
                    "--client-id-env needs --client-secret-env (OAuth2 takes both)".to_string(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "--client-secret-env needs --client-id-env (OAuth2 takes both)".to_string(),
                );
            }
            (Some(id), Some(secret)) => {
                for (flag, name) in [("--client-id-env", id), ("--client-secret-env", secret)] {
                    if !is_env_name(name) {
                        return Err(format!(
                            "{flag} `{}` is not an environment variable name (letters, digits \
                             and _, not starting with a digit): give the variable's name, never \
                             its value",
                            name.escape_debug()
                        ));
                    }
                }
                if id == secret {
                    return Err(
                        "--client-id-env and --client-secret-env name the same variable"
                            .to_string(),
                    );
                }
            }
            (None, None) => {}
        }
        for (flag, url) in [
            ("--base-url", &self.base_url),
            ("--token-url", &self.token_url),
        ] {
            if let Some(url) = url {
                check_url(flag, url)?;
            }
        }
        if let Some(limit) = self.page_limit
            && !(1..=MAX_PAGE_LIMIT).contains(&limit)
        {
            return Err(format!(
                "--page-limit {limit} is outside 1 to {MAX_PAGE_LIMIT} (FINRA's largest page)"
            ));
        }
        if let Some(rate) = self.requests_per_second
            && !(rate.is_finite() && rate > 0.0 && rate < FINRA_REQUESTS_PER_SECOND_LIMIT)
        {
            return Err(format!(
                "--requests-per-second {rate} must be above 0 and below FINRA's published \
                 limit of {FINRA_REQUESTS_PER_SECOND_LIMIT} per second"
            ));
        }
        if let Some(code) = &self.otc_tier_code
            && (code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(format!(
                "--otc-tier-code `{}` must be letters and digits (FINRA: OTCE)",
                code.escape_debug()
            ));
        }
        Ok(())
    }

    /// The client configuration, reading the credentials from the environment now: a variable
    /// that is not set (or is empty) is an error naming it, never showing a value.
    pub fn client_config(&self) -> Result<FinraApiConfig, String> {
        self.validate()?;
        let credentials = match (&self.client_id_env, &self.client_secret_env) {
            (Some(id_var), Some(secret_var)) => {
                Some(Credentials::new(read_env(id_var)?, read_env(secret_var)?))
            }
            _ => None,
        };
        let defaults = FinraApiConfig::default();
        Ok(FinraApiConfig {
            base_url: self
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            token_url: self
                .token_url
                .clone()
                .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_string()),
            credentials,
            tier_codes: TierCodes {
                otc: self
                    .otc_tier_code
                    .clone()
                    .unwrap_or(defaults.tier_codes.otc),
                ..TierCodes::default()
            },
            page_limit: self.page_limit.unwrap_or(defaults.page_limit),
            requests_per_second: self
                .requests_per_second
                .unwrap_or(defaults.requests_per_second),
            ..defaults
        })
    }
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn read_env(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) => Err(format!("environment variable {name} is empty")),
        Err(std::env::VarError::NotPresent) => Err(format!(
            "environment variable {name} is not set (the finra-api source reads its OAuth2 \
             credentials from it)"
        )),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("environment variable {name} is not valid Unicode"))
        }
    }
}

/// An http(s) URL with a host and no credentials in it.
fn check_url(flag: &str, text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text)
        .map_err(|e| format!("{flag} `{}` is not a URL: {e}", text.escape_debug()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{flag} `{text}` must be an http:// or https:// URL with a host"
        ));
    }
    if url.password().is_some() || spine_model::redact::url(text) != text {
        return Err(format!(
            "{flag} holds credentials: settings are stored in the database, so give secrets as \
             environment variable names (--client-id-env, --client-secret-env)"
        ));
    }
    Ok(())
}

/// Paces the API's requests through the database: every worker sharing it shares the budget.
struct SharedRateLimiter {
    engine: Engine,
    key: String,
    requests_per_second: f64,
}

impl RateLimiter for SharedRateLimiter {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            reserve_rate_slot(&self.engine, &self.key, self.requests_per_second)
                .await
                .map_err(|e| e.redacted())
        })
    }
}

/// A client error as the worker needs it: configuration mistakes are configuration errors,
/// everything else keeps FINRA's status, retryability, wait and (for a page that is not FINRA
/// data) the body's hash and first bytes.
fn fetch_error(e: ApiError) -> SourceFetchError {
    match e {
        ApiError::InvalidConfig { reason } => SourceFetchError::Config { reason },
        other => {
            let mut failure =
                PluginFailure::new(other.code(), other.to_string(), other.is_retryable());
            failure.retry_after = other.retry_after();
            failure.http_status = other.http_status();
            failure.body = other.body_sample().cloned();
            failure.into()
        }
    }
}

/// Fetches one (week, tier) partition from FINRA's Query API (see the module documentation).
pub async fn fetch_api(
    engine: &Engine,
    settings: &Value,
    partition: &PartitionKey,
    validators: &FetchValidators,
    run: &RunContext,
) -> Result<SourceFetch, SourceFetchError> {
    let config_error = |reason: String| SourceFetchError::Config { reason };
    let settings = FinraApiSettings::parse(settings).map_err(config_error)?;
    let (Some(week_ending), Some(tier)) = (partition.week_ending(), partition.tier()) else {
        return Err(config_error(format!(
            "a finra-api source fetches one tier of one week; partition {partition} does not \
             name both"
        )));
    };
    let week_ending = spine_model::WeekEnding::new(week_ending)
        .map_err(|e| config_error(format!("partition {partition}: week ending {e}")))?;
    let week_start = week_ending.monday();
    let config = settings.client_config().map_err(config_error)?;
    let base = reqwest::Url::parse(&config.base_url)
        .map_err(|e| config_error(format!("base URL {}: {e}", config.base_url)))?;
    let limiter = SharedRateLimiter {
        engine: engine.clone(),
        key: rate_key(FINRA_API, &base),
        requests_per_second: config.requests_per_second,
    };
    let authenticated = config.credentials.is_some();
    let client = FinraApiClient::new(config, Some(Arc::new(limiter))).map_err(fetch_error)?;
    let what = format!(
        "{} for the week starting {week_start} (FINRA API, tierIdentifier {})",
        tier.finra_description(),
        client.config().tier_codes.code(tier)
    );

    if let Some(known) = validators.last_update_date {
        let stamp = client
            .week_stamp(week_start, tier)
            .await
            .map_err(fetch_error)?;
        if stamp.last_update == Some(known) && stamp.record_total != Some(0) {
            return Ok(SourceFetch::NotModified {
                reason: format!(
                    "FINRA's latest lastUpdateDate for {what} is still {known} ({} rows): not \
                     re-published",
                    stamp
                        .record_total
                        .map_or("?".to_string(), |n| n.to_string())
                ),
            });
        }
    }

    let mut file = tempfile::Builder::new()
        .prefix("spine-finra-api-")
        .tempfile()?;
    let capture = client
        .fetch_week(week_start, tier, file.as_file_mut())
        .await
        .map_err(fetch_error)?;
    if capture.rows == 0 {
        return Err(SourceFetchError::NotPublished {
            what,
            detail: format!(
                "FINRA's weeklySummary has no {SUMMARY_TYPE_CODE} rows for it (Record-Total {})",
                capture
                    .record_total
                    .map_or("absent".to_string(), |n| n.to_string())
            ),
        });
    }
    if capture.week_start_mismatches > 0 {
        return Err(PluginFailure::new(
            "FINRA_API_WEEK_MISMATCH",
            format!(
                "{} of {} rows FINRA returned for {what} carry another weekStartDate: they \
                 cannot be filed under this week",
                capture.week_start_mismatches, capture.rows
            ),
            false,
        )
        .into());
    }
    let mut notes = Vec::new();
    if capture.unexpected_type_rows > 0 {
        notes.push(format!(
            "{} row(s) held a value of an unexpected JSON type, written as JSON text for the \
             parser to reject",
            capture.unexpected_type_rows
        ));
    }
    if capture.unsafe_text_rows > 0 {
        notes.push(format!(
            "{} row(s) held `|`, CR or LF inside a field, written escaped with a marker field \
             for the parser to reject",
            capture.unsafe_text_rows
        ));
    }
    let received = FetchValidators {
        last_update_date: capture.max_last_update,
        ..FetchValidators::default()
    };
    let request = RequestRecord {
        method: "POST".to_string(),
        url: spine_model::redact::url(&capture.url),
        body: Some(capture.request_body.clone()),
        pages: capture.pages,
        rows: Some(capture.rows),
        record_total: capture.record_total,
        summary_type: Some(capture.summary_type.clone()),
        authenticated,
        sent: FetchValidators {
            last_update_date: validators.last_update_date,
            ..FetchValidators::default()
        },
        received: received.clone(),
        fetched_at: Some(run.now),
        notes,
        ..RequestRecord::default()
    };
    let locator = format!(
        "POST {} weekStartDate={week_start} tierIdentifier={} summaryTypeCode={}",
        capture.url, capture.tier_identifier, capture.summary_type
    );
    // The week comes from the request: weekStartDate's Friday, never a publication lag.
    let hint = PartitionKey::week_tier(week_start + Days::new(4), tier);
    Ok(SourceFetch::Fetched(FetchedPartition::from_temp_body(
        TempBody {
            file,
            content_hash: capture.sha256.clone(),
            bytes: capture.bytes,
        },
        &locator,
        hint,
        request,
        received,
        run.now,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;
    use spine_model::Tier;

    #[test]
    fn template_variables_come_from_the_partition() {
        let week = NaiveDate::from_ymd_opt(2025, 12, 19).unwrap();
        assert_eq!(
            template_variables(&PartitionKey::week_tier(week, Tier::NmsTier1)),
            vec![
                ("TIER", "NMS_TIER_1".to_string()),
                ("WEEK_ENDING", "2025-12-19".to_string()),
                ("WEEK_START", "2025-12-15".to_string()),
            ]
        );
        assert_eq!(
            template_variables(&PartitionKey::week(week)),
            vec![
                ("WEEK_ENDING", "2025-12-19".to_string()),
                ("WEEK_START", "2025-12-15".to_string()),
            ],
            "a week-level key gives no tier"
        );
    }

    #[test]
    fn settings_are_checked_before_they_are_stored() {
        let ok = FinraApiSettings {
            base_url: Some("http://127.0.0.1:8080".into()),
            client_id_env: Some("FINRA_CLIENT_ID".into()),
            client_secret_env: Some("FINRA_CLIENT_SECRET".into()),
            page_limit: Some(1_000),
            requests_per_second: Some(5.0),
            ..FinraApiSettings::default()
        };
        ok.validate().unwrap();
        assert_eq!(FinraApiSettings::parse(&ok.to_json()).unwrap(), ok);
        assert_eq!(
            FinraApiSettings::parse(&json!({})).unwrap(),
            FinraApiSettings::default()
        );

        let bad = |s: FinraApiSettings| s.validate().unwrap_err();
        assert!(
            bad(FinraApiSettings {
                client_id_env: Some("ID".into()),
                ..FinraApiSettings::default()
            })
            .contains("--client-id-env needs --client-secret-env")
        );
        assert!(
            bad(FinraApiSettings {
                client_id_env: Some("ID".into()),
                client_secret_env: Some("s3cr3t value!".into()),
                ..FinraApiSettings::default()
            })
            .contains("not an environment variable name")
        );
        assert!(
            bad(FinraApiSettings {
                base_url: Some("https://user:pw@api.finra.org".into()),
                ..FinraApiSettings::default()
            })
            .contains("holds credentials")
        );
        assert!(
            bad(FinraApiSettings {
                base_url: Some("ftp://api.finra.org".into()),
                ..FinraApiSettings::default()
            })
            .contains("http:// or https://")
        );
        assert!(
            bad(FinraApiSettings {
                requests_per_second: Some(20.0),
                ..FinraApiSettings::default()
            })
            .contains("below FINRA's published limit")
        );
        assert!(
            bad(FinraApiSettings {
                page_limit: Some(5_001),
                ..FinraApiSettings::default()
            })
            .contains("outside 1 to 5000")
        );
        assert!(
            FinraApiSettings::parse(&json!({"client_secret": "x"}))
                .unwrap_err()
                .contains("unknown field")
        );
    }

    #[test]
    fn a_credential_variable_that_is_not_set_is_named_never_shown() {
        let settings = FinraApiSettings {
            client_id_env: Some("SPINE_TEST_UNSET_FINRA_ID_4b1d".into()),
            client_secret_env: Some("SPINE_TEST_UNSET_FINRA_SECRET_4b1d".into()),
            ..FinraApiSettings::default()
        };
        let err = settings.client_config().unwrap_err();
        assert_eq!(
            err,
            "environment variable SPINE_TEST_UNSET_FINRA_ID_4b1d is not set (the finra-api \
             source reads its OAuth2 credentials from it)"
        );
        let anonymous = FinraApiSettings::default().client_config().unwrap();
        assert!(anonymous.credentials.is_none());
        assert_eq!(anonymous.base_url, "https://api.finra.org");
        assert_eq!(anonymous.requests_per_second, 10.0);
        assert_eq!(anonymous.tier_codes.code(Tier::Otc), "OTCE");
    }
}
