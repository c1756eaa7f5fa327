//! Ticket and agent analytics, computed in the database: counts, per-period series and
//! percentiles (by window functions), never by loading tickets into the service. The SQL is
//! shared; only how a duration is expressed differs per backend ([`Dialect`]).

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};
use uuid::Uuid;

/// Periods of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Day,
    Week,
}

/// A half-open time range `[from, to)` and how to slice it.
#[derive(Debug, Clone, Copy)]
pub struct AnalyticsRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: GroupBy,
}

/// At most this many periods per series (a year of days).
pub const MAX_PERIODS: usize = 366;

impl AnalyticsRange {
    /// Period boundaries: days start at 00:00 UTC, weeks on Monday 00:00 UTC. The first period
    /// starts at or before `from`; the last ends at or after `to`.
    pub fn periods(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let midnight = self.from.date_naive().and_time(NaiveTime::MIN).and_utc();
        let (mut start, step) = match self.group_by {
            GroupBy::Day => (midnight, Duration::days(1)),
            GroupBy::Week => {
                (midnight - Duration::days(i64::from(self.from.weekday().num_days_from_monday())), Duration::weeks(1))
            }
        };
        let mut periods = Vec::new();
        while start < self.to && periods.len() < MAX_PERIODS {
            periods.push((start, start + step));
            start += step;
        }
        periods
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurationStats {
    /// How many tickets the figures are computed from.
    pub count: i64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeriodStats {
    pub start: DateTime<Utc>,
    pub created: i64,
    pub resolved: i64,
    /// Tickets open (created, not resolved) at the end of the period.
    pub backlog: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketAnalytics {
    pub created: i64,
    pub resolved: i64,
    pub by_status: Vec<(String, i64)>,
    pub by_priority: Vec<(String, i64)>,
    pub by_category: Vec<(String, i64)>,
    pub periods: Vec<PeriodStats>,
    pub first_response: DurationStats,
    pub resolution: DurationStats,
    pub sla_met: i64,
    pub sla_breached: i64,
    pub csat_average: Option<f64>,
    pub csat_responses: i64,
    /// Count of ratings 1 to 5 (index 0 is rating 1).
    pub csat_distribution: [i64; 5],
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentAnalytics {
    pub agent_id: Uuid,
    pub full_name: String,
    pub assigned: i64,
    pub resolved: i64,
    pub open_now: i64,
    pub first_response_median_seconds: Option<f64>,
    pub resolution_median_seconds: Option<f64>,
    pub csat_average: Option<f64>,
    pub csat_responses: i64,
    pub max_concurrent_tickets: i32,
}

/// How each backend says "seconds from a to b".
pub struct Dialect {
    pub seconds_between: fn(&str, &str) -> String,
}

pub const SQLITE: Dialect =
    Dialect { seconds_between: |a, b| format!("((julianday({b}) - julianday({a})) * 86400.0)") };
pub const POSTGRES: Dialect =
    Dialect { seconds_between: |a, b| format!("CAST(EXTRACT(EPOCH FROM ({b} - {a})) AS DOUBLE PRECISION)") };

/// Tickets created in the range ($1 = from, $2 = to).
pub const IN_RANGE: &str = "deleted_at IS NULL AND created_at >= $1 AND created_at < $2";

/// `SELECT <column>, COUNT(*)` over tickets created in the range.
pub fn count_by(column: &str) -> String {
    format!("SELECT {column}, COUNT(*) FROM tickets WHERE {IN_RANGE} GROUP BY {column} ORDER BY {column}")
}

/// Totals in one row: created, resolved (in range, by resolution time), SLA met and breached
/// (of tickets created in range: resolved after the due time, or still open past it; $3 = now),
/// CSAT average and responses.
pub const TOTALS: &str = "SELECT \
     (SELECT COUNT(*) FROM tickets WHERE deleted_at IS NULL AND created_at >= $1 AND created_at < $2), \
     (SELECT COUNT(*) FROM tickets WHERE deleted_at IS NULL AND resolved_at >= $1 AND resolved_at < $2), \
     (SELECT COUNT(*) FROM tickets WHERE deleted_at IS NULL AND created_at >= $1 AND created_at < $2 \
        AND resolved_at IS NOT NULL AND resolved_at <= sla_due_at), \
     (SELECT COUNT(*) FROM tickets WHERE deleted_at IS NULL AND created_at >= $1 AND created_at < $2 \
        AND ((resolved_at IS NOT NULL AND resolved_at > sla_due_at) \
          OR (resolved_at IS NULL AND status NOT IN ('RESOLVED', 'CLOSED') AND sla_due_at < $3))), \
     (SELECT CAST(AVG(satisfaction_rating) AS DOUBLE PRECISION) FROM tickets \
        WHERE deleted_at IS NULL AND created_at >= $1 AND created_at < $2), \
     (SELECT COUNT(satisfaction_rating) FROM tickets WHERE deleted_at IS NULL AND created_at >= $1 AND created_at < $2)";

/// Median and 90th percentile (nearest rank, as `percentile_disc`) of `seconds` over `rows`,
/// optionally per `partition`: rank ⌈0.5·n⌉ = (n+1)/2 and ⌈0.9·n⌉ = (9n+9)/10 in integer arithmetic.
pub fn percentiles(seconds: &str, rows: &str, partition: Option<&str>) -> String {
    let key = partition.unwrap_or("0");
    format!(
        "SELECT k, MAX(n), MAX(CASE WHEN rn = (n + 1) / 2 THEN d END), MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN d END) \
         FROM (SELECT k, d, ROW_NUMBER() OVER (PARTITION BY k ORDER BY d) AS rn, COUNT(*) OVER (PARTITION BY k) AS n \
               FROM (SELECT {key} AS k, {seconds} AS d FROM tickets WHERE {rows}) AS durations) AS ranked \
         GROUP BY k"
    )
}

/// Created, resolved and backlog for each period; the periods come as `($n, $n+1)` pairs from $1.
pub fn period_series(periods: usize) -> String {
    let values: Vec<String> = (0..periods).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
    format!(
        "WITH p (period_start, period_end) AS (VALUES {}) \
         SELECT p.period_start, \
           (SELECT COUNT(*) FROM tickets t WHERE t.deleted_at IS NULL AND t.created_at >= p.period_start AND t.created_at < p.period_end), \
           (SELECT COUNT(*) FROM tickets t WHERE t.deleted_at IS NULL AND t.resolved_at >= p.period_start AND t.resolved_at < p.period_end), \
           (SELECT COUNT(*) FROM tickets t WHERE t.deleted_at IS NULL AND t.created_at < p.period_end \
              AND (t.resolved_at IS NULL OR t.resolved_at >= p.period_end)) \
         FROM p ORDER BY p.period_start",
        values.join(", ")
    )
}

/// Per agent: assigned (created in range), resolved (in range), open now, CSAT, capacity.
pub const AGENT_COUNTS: &str = "SELECT a.id, u.full_name, a.max_concurrent_tickets, \
     (SELECT COUNT(*) FROM tickets t WHERE t.assigned_agent_id = a.id AND t.deleted_at IS NULL AND t.created_at >= $1 AND t.created_at < $2), \
     (SELECT COUNT(*) FROM tickets t WHERE t.assigned_agent_id = a.id AND t.deleted_at IS NULL AND t.resolved_at >= $1 AND t.resolved_at < $2), \
     (SELECT COUNT(*) FROM tickets t WHERE t.assigned_agent_id = a.id AND t.deleted_at IS NULL AND t.status NOT IN ('RESOLVED', 'CLOSED')), \
     (SELECT CAST(AVG(t.satisfaction_rating) AS DOUBLE PRECISION) FROM tickets t WHERE t.assigned_agent_id = a.id AND t.deleted_at IS NULL AND t.created_at >= $1 AND t.created_at < $2), \
     (SELECT COUNT(t.satisfaction_rating) FROM tickets t WHERE t.assigned_agent_id = a.id AND t.deleted_at IS NULL AND t.created_at >= $1 AND t.created_at < $2) \
     FROM support_agents a JOIN users u ON u.id = a.user_id ORDER BY u.full_name, a.id";

/// Durations from creation to first response, over tickets created in the range.
pub fn first_response_seconds(dialect: &Dialect) -> (String, String) {
    (
        (dialect.seconds_between)("created_at", "first_response_at"),
        format!("{IN_RANGE} AND first_response_at IS NOT NULL"),
    )
}

/// Durations from creation to resolution, over tickets created in the range and resolved.
pub fn resolution_seconds(dialect: &Dialect) -> (String, String) {
    ((dialect.seconds_between)("created_at", "resolved_at"), format!("{IN_RANGE} AND resolved_at IS NOT NULL"))
}

/// Rounds database durations (julianday arithmetic is off by microseconds) to whole seconds.
pub fn whole_seconds(value: Option<f64>) -> Option<f64> {
    value.map(f64::round)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn weeks_start_on_monday_and_days_at_midnight() {
        // 2026-11-25 is a Wednesday.
        let from = Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 12, 3, 0, 0, 0).unwrap();
        let weeks = AnalyticsRange { from, to, group_by: GroupBy::Week }.periods();
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].0, Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        let days = AnalyticsRange { from, to, group_by: GroupBy::Day }.periods();
        assert_eq!(days.len(), 8);
        assert_eq!(days[0].0, Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap());
        let year = AnalyticsRange { from, to: from + Duration::days(1000), group_by: GroupBy::Day }.periods();
        assert_eq!(year.len(), MAX_PERIODS);
    }

    #[test]
    fn percentile_sql_partitions_only_when_asked() {
        let global = percentiles("d", "TRUE", None);
        assert!(global.contains("SELECT 0 AS k"));
        let per_agent = percentiles("d", "TRUE", Some("assigned_agent_id"));
        assert!(per_agent.contains("assigned_agent_id AS k"));
    }
}
