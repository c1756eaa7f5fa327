//! Feature flags of the web UI (DESIGN §6), read from the environment once when the router is
//! built. A flag is on unless it is set to `false`, `0`, `off` or `no`.

use serde::Serialize;

/// Which optional parts of the UI are rendered (and, through `data-*` attributes, started by the
/// scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Features {
    /// `ENABLE_WEBSOCKET`: any STOMP connection at all; without it live parts poll instead.
    pub websocket: bool,
    /// `ENABLE_REAL_TIME_CHAT`: live chat, typing indicator and connection state on ticket pages.
    pub realtime_chat: bool,
    /// `ENABLE_ANALYTICS`: the analytics page and its navigation entry.
    pub analytics: bool,
    /// `ENABLE_AI_ASSISTANT`: the assistant panel of the agent workspace (suggested articles,
    /// sentiment).
    pub ai_assistant: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features { websocket: true, realtime_chat: true, analytics: true, ai_assistant: true }
    }
}

impl Features {
    pub fn from_env() -> Features {
        Features::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the flags through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Features {
        let flag = |name: &str| lookup(name).is_none_or(|value| is_on(&value));
        Features {
            websocket: flag("ENABLE_WEBSOCKET"),
            realtime_chat: flag("ENABLE_REAL_TIME_CHAT"),
            analytics: flag("ENABLE_ANALYTICS"),
            ai_assistant: flag("ENABLE_AI_ASSISTANT"),
        }
    }

    /// Live chat needs the socket too.
    pub fn live_chat(self) -> bool {
        self.websocket && self.realtime_chat
    }
}

fn is_on(value: &str) -> bool {
    !matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "0" | "off" | "no")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_default_to_on_and_turn_off_with_false_or_zero() {
        assert_eq!(Features::from_lookup(|_| None), Features::default());
        let off = Features::from_lookup(|name| match name {
            "ENABLE_WEBSOCKET" => Some("false".into()),
            "ENABLE_ANALYTICS" => Some("0".into()),
            "ENABLE_AI_ASSISTANT" => Some(" FALSE ".into()),
            _ => Some("true".into()),
        });
        assert!(!off.websocket && !off.analytics && !off.ai_assistant);
        assert!(off.realtime_chat);
        assert!(!off.live_chat(), "live chat needs the socket");
    }
}
