//! Users and their roles.

use super::text_enum;

text_enum! {
    /// What a user may do; see DESIGN §3.
    Role { Customer => "CUSTOMER", Agent => "AGENT", Supervisor => "SUPERVISOR", Admin => "ADMIN" }
}

impl Role {
    /// Agents, supervisors and admins work the queue.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Customer)
    }

    /// Supervisors and admins manage agents and see analytics.
    pub fn is_supervisor(self) -> bool {
        matches!(self, Role::Supervisor | Role::Admin)
    }
}
