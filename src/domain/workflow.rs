//! How requests change a ticket: status side effects, first-response tracking, the events
//! appended to the conversation and what is audited. Pure functions of the current ticket,
//! run by the store under the ticket's write lock.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::ticket::{Category, CommunicationType, Priority, SenderType, TicketStatus};
use super::user::Role;
use super::Rejection;
use crate::store::{NewAudit, NewCommunication, Ticket, TicketChange};

/// Who is acting, as the workflow needs to know them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Uuid,
    pub role: Role,
    pub name: String,
    /// The actor's agent profile, if they have one.
    pub agent_id: Option<Uuid>,
}

/// A partial update; `None` leaves a field as it is. `assigned_agent_id: Some(None)` unassigns.
#[derive(Debug, Clone, Default)]
pub struct TicketEdit {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    pub category: Option<Category>,
    pub tags: Option<Vec<String>>,
    pub assigned_agent_id: Option<Option<Uuid>>,
    pub escalation_level: Option<i32>,
}

impl TicketEdit {
    /// Fields a customer may not touch, by API name.
    fn staff_only_fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.subject.is_some() {
            fields.push("subject");
        }
        if self.description.is_some() {
            fields.push("description");
        }
        if self.priority.is_some() {
            fields.push("priority");
        }
        if self.category.is_some() {
            fields.push("category");
        }
        if self.tags.is_some() {
            fields.push("tags");
        }
        if self.assigned_agent_id.is_some() {
            fields.push("assignedAgentId");
        }
        if self.escalation_level.is_some() {
            fields.push("escalationLevel");
        }
        fields
    }
}

fn system_event(kind: CommunicationType, content: String, at: DateTime<Utc>) -> NewCommunication {
    NewCommunication {
        id: Uuid::new_v4(),
        sender_id: None,
        sender_type: SenderType::System,
        kind,
        content,
        created_at: at,
    }
}

/// Moves `ticket` to `next`, keeping `resolved_at` true to the status, and records the event.
fn set_status(
    ticket: &mut Ticket,
    next: TicketStatus,
    actor: &Actor,
    at: DateTime<Utc>,
    events: &mut Vec<NewCommunication>,
) {
    if ticket.status == next {
        return;
    }
    events.push(system_event(
        CommunicationType::StatusChange,
        format!("Status changed from {} to {} by {}", ticket.status, next, actor.name),
        at,
    ));
    match next {
        TicketStatus::Resolved => ticket.resolved_at = Some(at),
        TicketStatus::Closed => ticket.resolved_at = ticket.resolved_at.or(Some(at)),
        _ => ticket.resolved_at = None,
    }
    ticket.status = next;
}

fn snapshot(ticket: &Ticket) -> serde_json::Value {
    json!({
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "assignedAgentId": ticket.assigned_agent_id,
        "escalationLevel": ticket.escalation_level,
        "tags": ticket.tags,
    })
}

fn audit(actor: &Actor, action: &str, before: &Ticket, after: &Ticket) -> NewAudit {
    NewAudit {
        actor_id: Some(actor.user_id),
        action: action.to_string(),
        entity_type: "ticket".into(),
        entity_id: before.id.to_string(),
        before: Some(snapshot(before)),
        after: Some(snapshot(after)),
    }
}

/// Applies an edit. `assignee_name` names the new assignee for the conversation event.
pub fn plan_edit(
    current: &Ticket,
    edit: TicketEdit,
    actor: &Actor,
    assignee_name: Option<String>,
    at: DateTime<Utc>,
) -> Result<TicketChange, Rejection> {
    if actor.role == Role::Customer {
        let forbidden = edit.staff_only_fields();
        if !forbidden.is_empty() {
            return Err(Rejection::Forbidden(format!(
                "Customers cannot change {}; only the status (close, or reopen a resolved ticket).",
                forbidden.join(", ")
            )));
        }
    }
    let mut ticket = current.clone();
    let mut events = Vec::new();
    if let Some(subject) = edit.subject {
        ticket.subject = subject;
    }
    if let Some(description) = edit.description {
        ticket.description = description;
    }
    if let Some(category) = edit.category {
        ticket.category = category;
    }
    if let Some(tags) = edit.tags {
        ticket.tags = tags;
    }
    if let Some(level) = edit.escalation_level {
        ticket.escalation_level = level;
    }
    if let Some(priority) = edit.priority {
        if priority != ticket.priority {
            // The SLA clock keeps its start; only the target moves.
            ticket.sla_due_at = Some(priority.sla_due(ticket.created_at));
            ticket.priority = priority;
        }
    }
    if let Some(assignee) = edit.assigned_agent_id {
        if assignee != ticket.assigned_agent_id {
            let text = match (&assignee, &assignee_name) {
                (Some(_), Some(name)) => format!("Assigned to {name} by {}", actor.name),
                (Some(_), None) => format!("Assigned by {}", actor.name),
                (None, _) => format!("Unassigned by {}", actor.name),
            };
            events.push(system_event(CommunicationType::Assignment, text, at));
            ticket.assigned_agent_id = assignee;
            // Work that gets an owner leaves NEW.
            if assignee.is_some() && ticket.status == TicketStatus::New && edit.status.is_none() {
                set_status(&mut ticket, TicketStatus::Open, actor, at, &mut events);
            }
        }
    }
    if let Some(next) = edit.status {
        current.status.check_transition(next, actor.role).map_err(Rejection::Conflict)?;
        if next == TicketStatus::Escalated && current.status != TicketStatus::Escalated {
            ticket.escalation_level = ticket.escalation_level.max(current.escalation_level + 1).min(3);
        }
        set_status(&mut ticket, next, actor, at, &mut events);
    }
    ticket.updated_at = at;
    let action = if current.status != ticket.status {
        "ticket.status_changed"
    } else if current.assigned_agent_id != ticket.assigned_agent_id {
        "ticket.assigned"
    } else {
        "ticket.updated"
    };
    let audit = audit(actor, action, current, &ticket);
    Ok(TicketChange { ticket, append: events, audit: Some(audit) })
}

/// Posts a message or internal note and applies its side effects:
/// a customer's reply reopens a ticket that waited on them (or was resolved);
/// the first public staff reply sets `first_response_at`, moves NEW to OPEN and, if nobody
/// owns the ticket yet, assigns it to the replying agent.
pub fn plan_message(
    current: &Ticket,
    kind: CommunicationType,
    content: String,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<TicketChange, Rejection> {
    if current.status == TicketStatus::Closed {
        return Err(Rejection::Conflict(
            "This ticket is closed; open a new ticket to continue the conversation.".into(),
        ));
    }
    match kind {
        CommunicationType::Message => {}
        CommunicationType::InternalNote if actor.role.is_staff() => {}
        CommunicationType::InternalNote => {
            return Err(Rejection::Forbidden("Only support staff can write internal notes.".into()))
        }
        other => {
            return Err(Rejection::Invalid(vec![super::validate::FieldError::new(
                "type",
                format!("{other} communications are created by the system; use MESSAGE or INTERNAL_NOTE"),
            )]))
        }
    }
    let mut ticket = current.clone();
    let mut events = Vec::new();
    let sender_type = if actor.role.is_staff() { SenderType::Agent } else { SenderType::Customer };
    let message = NewCommunication {
        id: Uuid::new_v4(),
        sender_id: Some(actor.user_id),
        sender_type,
        kind,
        content,
        created_at: at,
    };

    if kind == CommunicationType::Message {
        if actor.role.is_staff() {
            ticket.first_response_at = ticket.first_response_at.or(Some(at));
            if ticket.assigned_agent_id.is_none() {
                if let Some(agent_id) = actor.agent_id {
                    ticket.assigned_agent_id = Some(agent_id);
                    events.push(system_event(
                        CommunicationType::Assignment,
                        format!("Assigned to {} on first reply", actor.name),
                        at,
                    ));
                }
            }
            if ticket.status == TicketStatus::New {
                set_status(&mut ticket, TicketStatus::Open, actor, at, &mut events);
            }
        } else if matches!(ticket.status, TicketStatus::PendingCustomer | TicketStatus::Resolved) {
            set_status(&mut ticket, TicketStatus::Open, actor, at, &mut events);
        }
    }
    ticket.updated_at = at;
    // The message itself first, then the events it caused.
    let mut append = vec![message];
    append.extend(events);
    Ok(TicketChange { ticket, append, audit: None })
}

/// Records the customer's satisfaction rating (CSAT) once their ticket is resolved or closed.
pub fn plan_rating(current: &Ticket, rating: i32, actor: &Actor, at: DateTime<Utc>) -> Result<TicketChange, Rejection> {
    if actor.role != Role::Customer || actor.user_id != current.customer_id {
        return Err(Rejection::Forbidden("Only the ticket's customer can rate it.".into()));
    }
    if !matches!(current.status, TicketStatus::Resolved | TicketStatus::Closed) {
        return Err(Rejection::Conflict("A ticket can be rated once it is resolved.".into()));
    }
    if !(1..=5).contains(&rating) {
        return Err(Rejection::Invalid(vec![super::validate::FieldError::new("rating", "must be from 1 to 5")]));
    }
    let mut ticket = current.clone();
    ticket.satisfaction_rating = Some(rating);
    ticket.updated_at = at;
    let audit = audit(actor, "ticket.rated", current, &ticket);
    Ok(TicketChange { ticket, append: Vec::new(), audit: Some(audit) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(status: TicketStatus) -> Ticket {
        let at = Utc::now();
        Ticket {
            id: Uuid::new_v4(),
            number: 1001,
            subject: "Withdrawal stuck".into(),
            description: "Since Monday".into(),
            status,
            priority: Priority::High,
            category: Category::DepositWithdrawal,
            tags: vec![],
            customer_id: Uuid::new_v4(),
            assigned_agent_id: None,
            created_at: at,
            updated_at: at,
            first_response_at: None,
            resolved_at: None,
            sla_due_at: Some(Priority::High.sla_due(at)),
            escalation_level: 0,
            satisfaction_rating: None,
            sentiment: None,
            last_seq: 0,
            version: 0,
        }
    }

    fn actor(role: Role) -> Actor {
        Actor { user_id: Uuid::new_v4(), role, name: "Sam".into(), agent_id: role.is_staff().then(Uuid::new_v4) }
    }

    #[test]
    fn customer_cannot_change_priority() {
        let edit = TicketEdit { priority: Some(Priority::Urgent), ..Default::default() };
        let result = plan_edit(&ticket(TicketStatus::Open), edit, &actor(Role::Customer), None, Utc::now());
        assert!(matches!(result, Err(Rejection::Forbidden(m)) if m.contains("priority")));
    }

    #[test]
    fn resolving_sets_resolved_at_and_logs_event() {
        let edit = TicketEdit { status: Some(TicketStatus::Resolved), ..Default::default() };
        let change = plan_edit(&ticket(TicketStatus::InProgress), edit, &actor(Role::Agent), None, Utc::now()).unwrap();
        assert!(change.ticket.resolved_at.is_some());
        assert_eq!(change.append.len(), 1);
        assert_eq!(change.append[0].kind, CommunicationType::StatusChange);
        assert_eq!(change.audit.unwrap().action, "ticket.status_changed");
    }

    #[test]
    fn invalid_transition_is_a_conflict() {
        let edit = TicketEdit { status: Some(TicketStatus::Open), ..Default::default() };
        let result = plan_edit(&ticket(TicketStatus::Closed), edit, &actor(Role::Admin), None, Utc::now());
        assert!(matches!(result, Err(Rejection::Conflict(_))));
    }

    #[test]
    fn first_staff_reply_sets_first_response_and_assigns() {
        let agent = actor(Role::Agent);
        let change =
            plan_message(&ticket(TicketStatus::New), CommunicationType::Message, "Hi".into(), &agent, Utc::now())
                .unwrap();
        assert!(change.ticket.first_response_at.is_some());
        assert_eq!(change.ticket.assigned_agent_id, agent.agent_id);
        assert_eq!(change.ticket.status, TicketStatus::Open);
        assert_eq!(change.append[0].kind, CommunicationType::Message);
    }

    #[test]
    fn customer_reply_reopens_pending_ticket_and_notes_are_staff_only() {
        let customer = actor(Role::Customer);
        let change = plan_message(
            &ticket(TicketStatus::PendingCustomer),
            CommunicationType::Message,
            "Done".into(),
            &customer,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(change.ticket.status, TicketStatus::Open);
        assert!(change.ticket.first_response_at.is_none(), "customer messages are not responses");
        let note = plan_message(
            &ticket(TicketStatus::Open),
            CommunicationType::InternalNote,
            "x".into(),
            &customer,
            Utc::now(),
        );
        assert!(matches!(note, Err(Rejection::Forbidden(_))));
    }

    #[test]
    fn closed_tickets_take_no_messages() {
        let result = plan_message(
            &ticket(TicketStatus::Closed),
            CommunicationType::Message,
            "x".into(),
            &actor(Role::Agent),
            Utc::now(),
        );
        assert!(matches!(result, Err(Rejection::Conflict(_))));
    }
}
