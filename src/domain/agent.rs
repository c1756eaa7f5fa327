//! Support agents: levels and availability.

use super::text_enum;

text_enum! {
    /// Seniority tier, used for escalation.
    AgentLevel { L1 => "L1", L2 => "L2", L3 => "L3", Supervisor => "SUPERVISOR" }
}

text_enum! {
    /// Whether the agent takes new work right now.
    AgentStatus { Available => "AVAILABLE", Busy => "BUSY", Away => "AWAY", Offline => "OFFLINE" }
}
