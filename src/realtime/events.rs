//! What the desk announces in real time, and where (DESIGN §5). REST handlers and STOMP
//! sessions call these after a change is stored, so both paths broadcast identically.

use bytes::Bytes;
use serde_json::json;

use super::broker::{Audience, Broker, Envelope};
use super::destination::{self, SUPPORT_NOTIFICATIONS};
use crate::api::communications::CommunicationDto;
use crate::api::tickets::TicketDto;
use crate::domain::ticket::{CommunicationType, TicketStatus};
use crate::store::{Communication, Ticket};

fn envelope(routing_key: String, audience: Audience, body: serde_json::Value) -> Envelope {
    Envelope { routing_key, audience, body: Bytes::from(body.to_string()) }
}

/// New communications of a ticket go to its `/messages` topic; internal notes to staff only.
pub fn communications_added(broker: &Broker, communications: &[Communication]) {
    for communication in communications {
        let audience = if communication.kind == CommunicationType::InternalNote {
            Audience::StaffOnly
        } else {
            Audience::Everyone
        };
        let body = serde_json::to_value(CommunicationDto::from(communication.clone())).unwrap_or_default();
        broker.publish(envelope(destination::ticket_messages(communication.ticket_id), audience, body));
    }
}

/// A new ticket appears in the staff queue.
pub fn ticket_created(broker: &Broker, ticket: &Ticket) {
    let body = json!({ "type": "TICKET_CREATED", "ticket": TicketDto::from(ticket.clone()) });
    broker.publish(envelope(SUPPORT_NOTIFICATIONS.into(), Audience::StaffOnly, body));
}

/// Status changes, assignments and escalations: to the ticket's `/notifications` topic, the
/// customer's and the new assignee's own queues, and (escalations) the staff queue.
pub fn ticket_changed(broker: &Broker, before: &Ticket, after: &Ticket, assignee_user: Option<uuid::Uuid>) {
    let ticket = TicketDto::from(after.clone());
    let mut events = Vec::new();
    if before.status != after.status {
        events.push(json!({ "type": "STATUS_CHANGED", "from": before.status, "to": after.status, "ticket": ticket }));
    }
    if before.assigned_agent_id != after.assigned_agent_id {
        events.push(json!({ "type": "ASSIGNED", "assignedAgentId": after.assigned_agent_id, "ticket": ticket }));
    }
    if before.priority != after.priority {
        events.push(
            json!({ "type": "PRIORITY_CHANGED", "from": before.priority, "to": after.priority, "ticket": ticket }),
        );
    }
    if events.is_empty() {
        events.push(json!({ "type": "UPDATED", "ticket": ticket }));
    }
    for event in &events {
        broker.publish(envelope(destination::ticket_notifications(after.id), Audience::Everyone, event.clone()));
        if event["type"] == "STATUS_CHANGED" {
            broker.publish(envelope(
                destination::user_notifications(after.customer_id),
                Audience::Everyone,
                event.clone(),
            ));
        }
        if event["type"] == "ASSIGNED" {
            if let Some(user) = assignee_user {
                broker.publish(envelope(destination::user_notifications(user), Audience::Everyone, event.clone()));
            }
        }
    }
    if after.status == TicketStatus::Escalated && before.status != TicketStatus::Escalated {
        let body = json!({ "type": "TICKET_ESCALATED", "escalationLevel": after.escalation_level, "ticket": ticket });
        broker.publish(envelope(SUPPORT_NOTIFICATIONS.into(), Audience::StaffOnly, body));
    }
    // Any change reorders or refilters the staff queue.
    let body = json!({ "type": "TICKET_UPDATED", "ticket": ticket });
    broker.publish(envelope(SUPPORT_NOTIFICATIONS.into(), Audience::StaffOnly, body));
}

/// Someone is (or stopped) typing in a ticket's conversation. Not stored.
pub fn typing(broker: &Broker, ticket_id: uuid::Uuid, user_id: uuid::Uuid, display_name: &str, typing: bool) {
    let body = json!({ "userId": user_id, "displayName": display_name, "typing": typing });
    broker.publish(envelope(destination::ticket_typing(ticket_id), Audience::Everyone, body));
}
