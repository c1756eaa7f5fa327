//! Ticket rules: statuses and the transitions allowed between them, priorities, categories, SLA targets.

use chrono::{DateTime, Duration, Utc};

use super::text_enum;
use super::user::Role;

text_enum! {
    /// Life cycle of a ticket; allowed moves are in [`TicketStatus::can_transition_to`].
    TicketStatus {
        New => "NEW",
        Open => "OPEN",
        InProgress => "IN_PROGRESS",
        PendingCustomer => "PENDING_CUSTOMER",
        Escalated => "ESCALATED",
        Resolved => "RESOLVED",
        Closed => "CLOSED",
    }
}

text_enum! {
    /// How urgent a ticket is; drives the SLA target and queue order.
    Priority { Low => "LOW", Medium => "MEDIUM", High => "HIGH", Urgent => "URGENT" }
}

text_enum! {
    /// What the ticket is about; matched against agent skills.
    Category {
        Account => "ACCOUNT",
        Trading => "TRADING",
        DepositWithdrawal => "DEPOSIT_WITHDRAWAL",
        Kyc => "KYC",
        Strategy => "STRATEGY",
        Api => "API",
        Billing => "BILLING",
        Technical => "TECHNICAL",
        Other => "OTHER",
    }
}

text_enum! {
    /// Who wrote a communication.
    SenderType { Customer => "CUSTOMER", Agent => "AGENT", System => "SYSTEM", Bot => "BOT" }
}

text_enum! {
    /// What a communication is. Internal notes are never shown to customers.
    CommunicationType {
        Message => "MESSAGE",
        InternalNote => "INTERNAL_NOTE",
        StatusChange => "STATUS_CHANGE",
        Assignment => "ASSIGNMENT",
        Attachment => "ATTACHMENT",
    }
}

impl TicketStatus {
    /// The transition table. A ticket is reopened by moving RESOLVED back to OPEN; CLOSED is final.
    pub fn can_transition_to(self, next: TicketStatus) -> bool {
        use TicketStatus::*;
        match self {
            New => matches!(next, Open | InProgress | PendingCustomer | Escalated | Resolved | Closed),
            Open => matches!(next, InProgress | PendingCustomer | Escalated | Resolved | Closed),
            InProgress => matches!(next, Open | PendingCustomer | Escalated | Resolved | Closed),
            PendingCustomer => matches!(next, Open | InProgress | Escalated | Resolved | Closed),
            Escalated => matches!(next, Open | InProgress | PendingCustomer | Resolved | Closed),
            Resolved => matches!(next, Open | Closed),
            Closed => false,
        }
    }

    /// Statuses that still need work (they count towards an agent's load and the backlog).
    pub fn is_active(self) -> bool {
        !matches!(self, TicketStatus::Resolved | TicketStatus::Closed)
    }

    /// Customers may only close their ticket or reopen a resolved one; the rest is the desk's job.
    pub fn customer_may_set(self, next: TicketStatus) -> bool {
        matches!(next, TicketStatus::Closed) || (self == TicketStatus::Resolved && next == TicketStatus::Open)
    }

    /// Checks a requested status change for the given role; the error text is shown to the client.
    pub fn check_transition(self, next: TicketStatus, role: Role) -> Result<(), String> {
        if self == next {
            return Ok(());
        }
        if !self.can_transition_to(next) {
            return Err(format!("a {self} ticket cannot move to {next}"));
        }
        if role == Role::Customer && !self.customer_may_set(next) {
            return Err(format!(
                "customers can close a ticket or reopen a resolved one, not move it from {self} to {next}"
            ));
        }
        Ok(())
    }
}

impl Priority {
    /// Sort key: higher is more urgent (stored alongside the text so queues sort in the database).
    pub fn rank(self) -> i16 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
            Priority::Urgent => 4,
        }
    }

    /// Resolution target from creation; money-related urgency gets hours, not days.
    pub fn resolution_target(self) -> Duration {
        match self {
            Priority::Urgent => Duration::hours(4),
            Priority::High => Duration::hours(8),
            Priority::Medium => Duration::hours(24),
            Priority::Low => Duration::hours(72),
        }
    }

    /// When a ticket of this priority created at `created_at` is due.
    pub fn sla_due(self, created_at: DateTime<Utc>) -> DateTime<Utc> {
        created_at + self.resolution_target()
    }
}

/// The ticket number customers quote, e.g. `ALP-1042`.
pub fn ticket_number(number: i64) -> String {
    format!("ALP-{number}")
}

/// Accepts `ALP-1042` (any case) or a bare number, for lookups by the human number.
pub fn parse_ticket_number(text: &str) -> Option<i64> {
    let digits = text.trim();
    let digits = digits.get(..4).filter(|prefix| prefix.eq_ignore_ascii_case("ALP-")).map_or(digits, |_| &digits[4..]);
    digits.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketStatus::*;

    #[test]
    fn closed_is_final_and_resolved_can_reopen() {
        for next in [New, Open, InProgress, PendingCustomer, Escalated, Resolved] {
            assert!(!Closed.can_transition_to(next));
        }
        assert!(Resolved.can_transition_to(Open));
        assert!(!Resolved.can_transition_to(InProgress));
        assert!(!Open.can_transition_to(New), "nothing goes back to NEW");
    }

    #[test]
    fn customers_only_close_or_reopen() {
        assert!(Open.check_transition(Closed, Role::Customer).is_ok());
        assert!(Resolved.check_transition(Open, Role::Customer).is_ok());
        assert!(Open.check_transition(Resolved, Role::Customer).is_err());
        assert!(Open.check_transition(Resolved, Role::Agent).is_ok());
        assert!(Closed.check_transition(Open, Role::Admin).is_err());
        assert!(Open.check_transition(Open, Role::Customer).is_ok(), "no-op is fine");
    }

    #[test]
    fn ticket_numbers_round_trip() {
        assert_eq!(ticket_number(1042), "ALP-1042");
        assert_eq!(parse_ticket_number("alp-1042"), Some(1042));
        assert_eq!(parse_ticket_number("1042"), Some(1042));
        assert_eq!(parse_ticket_number("ALP-"), None);
        assert_eq!(parse_ticket_number("ALP-x"), None);
    }

    #[test]
    fn urgent_is_due_first() {
        let now = Utc::now();
        assert!(Priority::Urgent.sla_due(now) < Priority::High.sla_due(now));
        assert!(Priority::Urgent.rank() > Priority::Low.rank());
    }
}
