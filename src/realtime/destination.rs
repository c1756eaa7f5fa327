//! STOMP destinations of DESIGN §5: what clients may subscribe to and send to, parsed into types
//! so authorisation and routing match on variants rather than strings.

use uuid::Uuid;

/// Something a client may SUBSCRIBE to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// `/topic/tickets/{id}/messages`: new communications (internal notes for staff only).
    TicketMessages(Uuid),
    /// `/topic/tickets/{id}/typing`
    TicketTyping(Uuid),
    /// `/topic/tickets/{id}/notifications`: status changes, assignments, escalations.
    TicketNotifications(Uuid),
    /// `/topic/support/notifications`: new and escalated tickets (staff only).
    SupportNotifications,
    /// `/user/queue/notifications`: the subscriber's own notifications.
    UserNotifications,
}

/// Something a client may SEND to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppDestination {
    /// `/app/tickets/{id}/messages`: `{"message": "..."}`.
    TicketMessage(Uuid),
    /// `/app/tickets/{id}/typing`: `{"typing": true}`.
    TicketTyping(Uuid),
    /// `/app/chat_message`: seed-compatible `{"ticketId", "message"}`.
    ChatMessage,
}

fn ticket_path<'a>(destination: &'a str, prefix: &str) -> Option<(Uuid, &'a str)> {
    let rest = destination.strip_prefix(prefix)?;
    let (id, tail) = rest.split_once('/')?;
    Some((Uuid::parse_str(id).ok()?, tail))
}

impl Topic {
    pub fn parse(destination: &str) -> Option<Topic> {
        match destination {
            "/topic/support/notifications" => return Some(Topic::SupportNotifications),
            "/user/queue/notifications" => return Some(Topic::UserNotifications),
            _ => {}
        }
        let (id, tail) = ticket_path(destination, "/topic/tickets/")?;
        match tail {
            "messages" => Some(Topic::TicketMessages(id)),
            "typing" => Some(Topic::TicketTyping(id)),
            "notifications" => Some(Topic::TicketNotifications(id)),
            _ => None,
        }
    }

    /// The ticket this topic belongs to, if any.
    pub fn ticket_id(self) -> Option<Uuid> {
        match self {
            Topic::TicketMessages(id) | Topic::TicketTyping(id) | Topic::TicketNotifications(id) => Some(id),
            Topic::SupportNotifications | Topic::UserNotifications => None,
        }
    }

    /// The routing key: the destination itself, except that `/user/queue/...` is per user.
    pub fn routing_key(self, user_id: Uuid) -> String {
        match self {
            Topic::TicketMessages(id) => ticket_messages(id),
            Topic::TicketTyping(id) => ticket_typing(id),
            Topic::TicketNotifications(id) => ticket_notifications(id),
            Topic::SupportNotifications => SUPPORT_NOTIFICATIONS.to_string(),
            Topic::UserNotifications => user_notifications(user_id),
        }
    }
}

impl AppDestination {
    pub fn parse(destination: &str) -> Option<AppDestination> {
        if destination == "/app/chat_message" {
            return Some(AppDestination::ChatMessage);
        }
        let (id, tail) = ticket_path(destination, "/app/tickets/")?;
        match tail {
            "messages" => Some(AppDestination::TicketMessage(id)),
            "typing" => Some(AppDestination::TicketTyping(id)),
            _ => None,
        }
    }
}

pub const SUPPORT_NOTIFICATIONS: &str = "/topic/support/notifications";
/// What clients see as the destination of per-user messages.
pub const USER_NOTIFICATIONS: &str = "/user/queue/notifications";

pub fn ticket_messages(id: Uuid) -> String {
    format!("/topic/tickets/{id}/messages")
}

pub fn ticket_typing(id: Uuid) -> String {
    format!("/topic/tickets/{id}/typing")
}

pub fn ticket_notifications(id: Uuid) -> String {
    format!("/topic/tickets/{id}/notifications")
}

/// Internal routing key of one user's queue (never a destination a client can name).
pub fn user_notifications(user_id: Uuid) -> String {
    format!("/user/{user_id}/queue/notifications")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_destination_and_rejects_the_rest() {
        let id = Uuid::new_v4();
        assert_eq!(Topic::parse(&format!("/topic/tickets/{id}/messages")), Some(Topic::TicketMessages(id)));
        assert_eq!(Topic::parse(&format!("/topic/tickets/{id}/typing")), Some(Topic::TicketTyping(id)));
        assert_eq!(Topic::parse(&format!("/topic/tickets/{id}/notifications")), Some(Topic::TicketNotifications(id)));
        assert_eq!(Topic::parse("/topic/support/notifications"), Some(Topic::SupportNotifications));
        assert_eq!(Topic::parse("/user/queue/notifications"), Some(Topic::UserNotifications));
        for bad in [
            "/topic/tickets/not-a-uuid/messages",
            "/topic/tickets//messages",
            &format!("/topic/tickets/{id}/messages/extra"),
            &format!("/topic/tickets/{id}"),
            &format!("/user/{id}/queue/notifications"),
            "/topic/anything",
            "",
        ] {
            assert_eq!(Topic::parse(bad), None, "{bad}");
        }
        assert_eq!(
            AppDestination::parse(&format!("/app/tickets/{id}/messages")),
            Some(AppDestination::TicketMessage(id))
        );
        assert_eq!(AppDestination::parse(&format!("/app/tickets/{id}/typing")), Some(AppDestination::TicketTyping(id)));
        assert_eq!(AppDestination::parse("/app/chat_message"), Some(AppDestination::ChatMessage));
        assert_eq!(AppDestination::parse("/topic/support/notifications"), None);
    }

    #[test]
    fn user_queue_is_routed_per_user() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_ne!(Topic::UserNotifications.routing_key(a), Topic::UserNotifications.routing_key(b));
    }
}
