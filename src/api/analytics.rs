//! Ticket and agent analytics for supervisors and admins. Figures come from SQL aggregations
//! (see `store::analytics`) and are cached briefly (`ops::cache`); any ticket write invalidates them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiQuery, JsonText};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::domain::ticket::Priority;
use crate::domain::validate::{Errors, FieldError};
use crate::error::{ApiResult, AppError, Problem};
use crate::ops::cache::Namespace;
use crate::store::analytics::{AnalyticsRange, DurationStats, GroupBy, TicketAnalytics};

pub fn router() -> Router<AppState> {
    Router::new().route("/analytics/tickets", get(ticket_analytics)).route("/analytics/agents", get(agent_analytics))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Start (RFC 3339, inclusive). Default: 30 days before `to`.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// End (RFC 3339, exclusive). Default: now (rounded up to the minute).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    /// `day` (default) or `week` (weeks start on Monday, UTC).
    pub group_by: Option<String>,
}

fn parse_range(params: &AnalyticsParams) -> Result<AnalyticsRange, AppError> {
    let mut errors = Errors::default();
    let parse = |field: &str, value: &Option<String>| -> Result<Option<DateTime<Utc>>, FieldError> {
        value
            .as_deref()
            .map(|v| {
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| FieldError::new(field, "must be an RFC 3339 timestamp, e.g. 2026-11-01T00:00:00Z"))
            })
            .transpose()
    };
    let to = errors.check(parse("to", &params.to)).flatten();
    let from = errors.check(parse("from", &params.from)).flatten();
    let group_by = match params.group_by.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("day") => GroupBy::Day,
        Some("week") => GroupBy::Week,
        Some(_) => {
            errors.push(FieldError::new("groupBy", "must be day or week"));
            GroupBy::Day
        }
    };
    errors.finish().map_err(AppError::Validation)?;
    // Rounded up to the minute so repeated default requests share a cache entry.
    let now = Utc::now();
    let default_to = now.duration_trunc(Duration::minutes(1)).unwrap_or(now) + Duration::minutes(1);
    let to = to.unwrap_or(default_to);
    let from = from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(AppError::field("from", "must be before to"));
    }
    if to - from > Duration::days(366) {
        return Err(AppError::field("from", "the range may span at most 366 days"));
    }
    Ok(AnalyticsRange { from, to, group_by })
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DurationDto {
    /// Tickets the figures are computed from.
    pub count: i64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl From<DurationStats> for DurationDto {
    fn from(d: DurationStats) -> Self {
        DurationDto { count: d.count, median_seconds: d.median_seconds, p90_seconds: d.p90_seconds }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodDto {
    pub period_start: DateTime<Utc>,
    pub created: i64,
    pub resolved: i64,
    /// Tickets open at the end of the period.
    pub backlog: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlaDto {
    /// Resolved by their due time.
    pub met: i64,
    /// Resolved late, or still open past their due time.
    pub breached: i64,
    /// breached / (met + breached), 0 to 1.
    pub breach_rate: Option<f64>,
    /// Resolution targets in seconds, by priority.
    pub targets_seconds: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CsatDto {
    pub average: Option<f64>,
    pub responses: i64,
    /// Ratings "1" to "5" and how often each was given.
    pub distribution: BTreeMap<String, i64>,
}

/// Ticket analytics over tickets created in `[from, to)`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketAnalyticsDto {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[schema(example = "day")]
    pub group_by: String,
    /// Tickets created in the range.
    pub created: i64,
    /// Tickets resolved in the range (whenever created).
    pub resolved: i64,
    pub by_status: BTreeMap<String, i64>,
    pub by_priority: BTreeMap<String, i64>,
    pub by_category: BTreeMap<String, i64>,
    pub series: Vec<PeriodDto>,
    pub first_response_time: DurationDto,
    pub resolution_time: DurationDto,
    pub sla: SlaDto,
    pub csat: CsatDto,
}

fn round2(value: Option<f64>) -> Option<f64> {
    value.map(|v| (v * 100.0).round() / 100.0)
}

fn to_dto(range: &AnalyticsRange, a: TicketAnalytics) -> TicketAnalyticsDto {
    let judged = a.sla_met + a.sla_breached;
    TicketAnalyticsDto {
        from: range.from,
        to: range.to,
        group_by: if range.group_by == GroupBy::Week { "week" } else { "day" }.into(),
        created: a.created,
        resolved: a.resolved,
        by_status: a.by_status.into_iter().collect(),
        by_priority: a.by_priority.into_iter().collect(),
        by_category: a.by_category.into_iter().collect(),
        series: a
            .periods
            .into_iter()
            .map(|p| PeriodDto { period_start: p.start, created: p.created, resolved: p.resolved, backlog: p.backlog })
            .collect(),
        first_response_time: a.first_response.into(),
        resolution_time: a.resolution.into(),
        sla: SlaDto {
            met: a.sla_met,
            breached: a.sla_breached,
            breach_rate: (judged > 0).then(|| ((a.sla_breached as f64 / judged as f64) * 1000.0).round() / 1000.0),
            targets_seconds: [Priority::Low, Priority::Medium, Priority::High, Priority::Urgent]
                .into_iter()
                .map(|p| (p.as_str().to_string(), p.resolution_target().num_seconds()))
                .collect(),
        },
        csat: CsatDto {
            average: round2(a.csat_average),
            responses: a.csat_responses,
            distribution: a.csat_distribution.iter().enumerate().map(|(i, n)| ((i + 1).to_string(), *n)).collect(),
        },
    }
}

/// Cached JSON for `key`, or computes it (see `ops::cache`: any ticket write invalidates).
async fn cached<T, F, Fut>(state: &AppState, key: String, compute: F) -> ApiResult<JsonText>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<T>>,
{
    let text = state
        .cache
        .get_or_compute(Namespace::Tickets, &key, || async {
            Ok::<_, AppError>(JsonText::encode(&compute().await?)?.0)
        })
        .await?;
    Ok(JsonText(text))
}

/// Ticket volume, mix, trends, response and resolution times, SLA and CSAT (supervisors, admins).
#[utoipa::path(get, path = "/analytics/tickets", tag = "analytics",
    params(AnalyticsParams),
    responses(
        (status = 200, description = "Figures for the range", body = TicketAnalyticsDto),
        (status = 400, description = "Invalid range", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Supervisors and admins only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn ticket_analytics(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<AnalyticsParams>,
) -> ApiResult<JsonText> {
    user.require_supervisor()?;
    let range = parse_range(&params)?;
    let key = format!("tickets|{}|{}|{:?}", range.from, range.to, range.group_by);
    cached(&state, key, || async {
        let figures = state.store.ticket_analytics(&range).await?;
        Ok(to_dto(&range, figures))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentFiguresDto {
    pub agent_id: Uuid,
    pub full_name: String,
    /// Tickets created in the range and assigned to the agent.
    pub assigned: i64,
    /// Tickets the agent resolved in the range.
    pub resolved: i64,
    /// Active tickets assigned now (the current load).
    pub open_now: i64,
    pub median_first_response_seconds: Option<f64>,
    pub median_resolution_seconds: Option<f64>,
    pub csat_average: Option<f64>,
    pub csat_responses: i64,
    pub capacity: i32,
    /// openNow / capacity.
    pub utilization: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentAnalyticsDto {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub agents: Vec<AgentFiguresDto>,
}

/// Per-agent performance and current load (supervisors, admins).
#[utoipa::path(get, path = "/analytics/agents", tag = "analytics",
    params(AnalyticsParams),
    responses(
        (status = 200, description = "One row per agent", body = AgentAnalyticsDto),
        (status = 403, description = "Supervisors and admins only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn agent_analytics(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<AnalyticsParams>,
) -> ApiResult<JsonText> {
    user.require_supervisor()?;
    let range = parse_range(&params)?;
    let key = format!("agents|{}|{}", range.from, range.to);
    cached(&state, key, || async {
        let rows = state.store.agent_analytics(range.from, range.to).await?;
        let dto = AgentAnalyticsDto {
            from: range.from,
            to: range.to,
            agents: rows
                .into_iter()
                .map(|a| AgentFiguresDto {
                    utilization: ((a.open_now as f64 / f64::from(a.max_concurrent_tickets.max(1))) * 100.0).round()
                        / 100.0,
                    agent_id: a.agent_id,
                    full_name: a.full_name,
                    assigned: a.assigned,
                    resolved: a.resolved,
                    open_now: a.open_now,
                    median_first_response_seconds: a.first_response_median_seconds,
                    median_resolution_seconds: a.resolution_median_seconds,
                    csat_average: round2(a.csat_average),
                    csat_responses: a.csat_responses,
                    capacity: a.max_concurrent_tickets,
                })
                .collect(),
        };
        Ok(dto)
    })
    .await
}
