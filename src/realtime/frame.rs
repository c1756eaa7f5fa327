//! STOMP 1.2 framing: the frame model, header escaping, the encoder and a bounded,
//! incremental decoder.
//!
//! Spec references are to <https://stomp.github.io/stomp-specification-1.2.html>.
//! This module knows nothing about sessions, subscriptions or WebSocket; it only
//! turns bytes into frames and back.

use std::fmt;
use std::str::FromStr;

// One table generates the enum, `ALL` and `as_str`, so they cannot drift apart.
macro_rules! commands {
    ($($variant:ident = $wire:literal),* $(,)?) => {
        /// A STOMP 1.2 command (spec "Augmented BNF"). Commands are case-sensitive.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Command {
            $($variant),*
        }

        impl Command {
            /// Every command, in spec order.
            pub const ALL: [Command; 15] = [$(Command::$variant),*];

            /// The command as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Command::$variant => $wire),*
                }
            }
        }
    };
}

commands! {
    Connect = "CONNECT", Stomp = "STOMP", Connected = "CONNECTED", Send = "SEND",
    Subscribe = "SUBSCRIBE", Unsubscribe = "UNSUBSCRIBE", Ack = "ACK", Nack = "NACK",
    Begin = "BEGIN", Commit = "COMMIT", Abort = "ABORT", Disconnect = "DISCONNECT",
    Message = "MESSAGE", Receipt = "RECEIPT", Error = "ERROR",
}

impl Command {
    /// Exact, case-sensitive match of a command line (without its EOL).
    pub fn from_bytes(bytes: &[u8]) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.as_str().as_bytes() == bytes)
    }

    /// Spec "Value Encoding": CONNECT and CONNECTED frames do not escape or
    /// unescape headers, for backward compatibility with STOMP 1.0 peers.
    fn escapes_headers(self) -> bool {
        !matches!(self, Command::Connect | Command::Connected)
    }
}

impl FromStr for Command {
    type Err = FrameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Command::from_bytes(s.as_bytes()).ok_or_else(|| unknown_command(s.as_bytes()))
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One STOMP frame. Headers keep wire order and duplicates; see [`Frame::header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub command: Command,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Frame {
    pub fn new(command: Command) -> Frame {
        Frame { command, headers: Vec::new(), body: Vec::new() }
    }

    /// Value of header `name` (case-sensitive). Spec "Repeated Header Entries":
    /// when a header is repeated, only the first occurrence counts.
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }

    /// Appends a header (does not replace an existing one).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Frame {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Frame {
        self.body = body.into();
        self
    }

    /// Appends the wire form of this frame to `out`. See [`encode`].
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode(self, out);
    }

    /// The wire form of this frame as a fresh buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.body.len());
        encode(self, &mut out);
        out
    }
}

/// Appends the wire form of `frame` to `out`: command, headers, blank line,
/// body, NUL. Headers are escaped except on CONNECT/CONNECTED (spec "Value
/// Encoding"). A `content-length` header is added when the body is non-empty
/// and the caller did not set one, so bodies may safely contain NUL octets
/// (spec "Header content-length"). A caller-supplied `content-length` is
/// trusted as is. Header names are not validated: an empty name, or a name
/// or value containing LF/CR/`:` on a CONNECT/CONNECTED frame, yields a frame
/// peers will reject.
pub fn encode(frame: &Frame, out: &mut Vec<u8>) {
    let escape = frame.command.escapes_headers();
    out.extend_from_slice(frame.command.as_str().as_bytes());
    out.push(b'\n');
    for (name, value) in &frame.headers {
        write_header_text(name, escape, out);
        out.push(b':');
        write_header_text(value, escape, out);
        out.push(b'\n');
    }
    if !frame.body.is_empty() && frame.header("content-length").is_none() {
        out.extend_from_slice(b"content-length:");
        out.extend_from_slice(frame.body.len().to_string().as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(&frame.body);
    out.push(0);
}

fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn write_header_text(text: &str, escape: bool, out: &mut Vec<u8>) {
    if !escape {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for &b in text.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b':' => out.extend_from_slice(b"\\c"),
            _ => out.push(b),
        }
    }
}

/// Reverses [`write_header_text`]. Spec "Value Encoding": "Undefined escape
/// sequences such as \t MUST be treated as a fatal protocol error".
fn read_header_text(raw: &[u8], unescape: bool) -> Result<String, FrameError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut iter = raw.iter();
    while let Some(&b) = iter.next() {
        out.push(match (b, unescape) {
            (b'\\', true) => match iter.next() {
                Some(b'\\') => b'\\',
                Some(b'n') => b'\n',
                Some(b'r') => b'\r',
                Some(b'c') => b':',
                _ => return Err(FrameError::InvalidEscape),
            },
            _ => b,
        });
    }
    String::from_utf8(out).map_err(|_| FrameError::InvalidUtf8)
}

/// Bounds applied while decoding (spec "Size Limits": a server may limit
/// frame size, header count and header length, and reject frames beyond them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole frame, from the first command byte to the terminating NUL inclusive.
    pub max_frame_bytes: usize,
    /// Number of header lines.
    pub max_headers: usize,
    /// Command line + header lines + the blank line, EOLs included.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_frame_bytes: 64 * 1024, max_headers: 64, max_header_bytes: 8 * 1024 }
    }
}

/// A fatal decoding error. `Display` is meant for the ERROR frame's `message`
/// header; the server should send it and close the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Command line is not a STOMP 1.2 command (holds a truncated, lossy copy).
    UnknownCommand(String),
    /// Header line without `:`, with an empty name, or with a raw CR.
    MalformedHeader,
    /// Undefined backslash escape in a header, e.g. `\t`.
    InvalidEscape,
    /// Header name or value is not UTF-8.
    InvalidUtf8,
    /// `content-length` is not a decimal octet count.
    InvalidContentLength,
    /// The octet after a `content-length` body is not NUL.
    MissingNul,
    /// Frame exceeds [`Limits::max_frame_bytes`] (the limit is held).
    FrameTooLarge(usize),
    /// More header lines than [`Limits::max_headers`] (the limit is held).
    TooManyHeaders(usize),
    /// Header section exceeds [`Limits::max_header_bytes`] (the limit is held).
    HeadersTooLarge(usize),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::UnknownCommand(c) => write!(f, "unknown command {c:?}"),
            FrameError::MalformedHeader => f.write_str("malformed header line"),
            FrameError::InvalidEscape => f.write_str("undefined escape sequence in header"),
            FrameError::InvalidUtf8 => f.write_str("header is not valid UTF-8"),
            FrameError::InvalidContentLength => f.write_str("invalid content-length header"),
            FrameError::MissingNul => f.write_str("frame body not terminated by NUL"),
            FrameError::FrameTooLarge(n) => write!(f, "frame exceeds {n} bytes"),
            FrameError::TooManyHeaders(n) => write!(f, "frame has more than {n} headers"),
            FrameError::HeadersTooLarge(n) => write!(f, "frame headers exceed {n} bytes"),
        }
    }
}

impl std::error::Error for FrameError {}

fn unknown_command(line: &[u8]) -> FrameError {
    // Bounded so a hostile command line cannot bloat the ERROR frame.
    let shown = &line[..line.len().min(32)];
    FrameError::UnknownCommand(String::from_utf8_lossy(shown).into_owned())
}

/// Strict decimal octet count (no sign, no spaces). Saturates on overflow so
/// the caller's size limit, not an arithmetic error, rejects absurd values.
fn parse_content_length(value: &str) -> Result<usize, FrameError> {
    if value.is_empty() {
        return Err(FrameError::InvalidContentLength);
    }
    value.bytes().try_fold(0usize, |n, b| match b {
        b'0'..=b'9' => Ok(n.saturating_mul(10).saturating_add(usize::from(b - b'0'))),
        _ => Err(FrameError::InvalidContentLength),
    })
}

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Frame(Frame),
    /// A bare EOL between frames (spec "Heart-beating").
    HeartBeat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    Idle,
    Headers,
    Body,
}

/// Incremental STOMP decoder. Feed bytes as they arrive, then call
/// [`Decoder::next_frame`] until it returns `Ok(None)`. Memory is bounded by
/// the limits plus whatever the caller feeds without draining. After an
/// error the decoder is poisoned and keeps returning that error.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`; all offsets below are relative to it.
    pos: usize,
    phase: Phase,
    /// How far the current frame has been scanned, so byte-by-byte feeding stays linear.
    scan: usize,
    line_start: usize,
    body_start: usize,
    content_length: Option<usize>,
    command: Option<Command>,
    headers: Vec<(String, String)>,
    failed: Option<FrameError>,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder { limits, ..Decoder::default() }
    }

    /// Appends received bytes. Cheap; parsing happens in `next_frame`.
    /// Ignored once the decoder has failed, so a poisoned decoder stays small.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.pos > 0 {
            // Safe at any phase because in-frame offsets are relative to `pos`.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete item, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Item>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.step();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
            self.buf = Vec::new();
            self.pos = 0;
        } else if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        result
    }

    fn step(&mut self) -> Result<Option<Item>, FrameError> {
        if self.phase == Phase::Idle {
            // Spec "Augmented BNF": frames may be followed by EOLs, and
            // "Heart-beating": an EOL alone is a heart-beat.
            match &self.buf[self.pos..] {
                [] | [b'\r'] => return Ok(None),
                [b'\n', ..] => {
                    self.pos += 1;
                    return Ok(Some(Item::HeartBeat));
                }
                [b'\r', b'\n', ..] => {
                    self.pos += 2;
                    return Ok(Some(Item::HeartBeat));
                }
                _ => {
                    self.phase = Phase::Headers;
                    self.scan = 0;
                    self.line_start = 0;
                    self.command = None;
                    self.headers.clear();
                }
            }
        }
        if self.phase == Phase::Headers && !self.scan_headers()? {
            return Ok(None);
        }
        self.scan_body()
    }

    /// Consumes complete lines of the header section. Returns true once the
    /// blank line ending it has been seen (phase is then `Body`).
    fn scan_headers(&mut self) -> Result<bool, FrameError> {
        let limits = self.limits;
        let data = &self.buf[self.pos..];
        while let Some(i) = data[self.scan..].iter().position(|&b| b == b'\n') {
            let lf = self.scan + i;
            if lf + 1 > limits.max_header_bytes {
                return Err(FrameError::HeadersTooLarge(limits.max_header_bytes));
            }
            // EOL is LF or CR LF (spec "Augmented BNF").
            let line = &data[self.line_start..lf];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.scan = lf + 1;
            self.line_start = lf + 1;
            let Some(command) = self.command else {
                let command = Command::from_bytes(line).ok_or_else(|| unknown_command(line))?;
                self.command = Some(command);
                continue;
            };
            if line.is_empty() {
                self.body_start = lf + 1;
                self.scan = lf + 1;
                let length = first_header(&self.headers, "content-length");
                self.content_length = length.map(parse_content_length).transpose()?;
                if let Some(len) = self.content_length {
                    // Checked before buffering the body, so a huge
                    // content-length never causes a wait or an allocation.
                    if len.saturating_add(lf + 2) > limits.max_frame_bytes {
                        return Err(FrameError::FrameTooLarge(limits.max_frame_bytes));
                    }
                }
                self.phase = Phase::Body;
                return Ok(true);
            }
            if self.headers.len() >= limits.max_headers {
                return Err(FrameError::TooManyHeaders(limits.max_headers));
            }
            self.headers.push(parse_header(line, command.escapes_headers())?);
        }
        self.scan = data.len();
        if data.len() > limits.max_header_bytes {
            return Err(FrameError::HeadersTooLarge(limits.max_header_bytes));
        }
        Ok(false)
    }

    fn scan_body(&mut self) -> Result<Option<Item>, FrameError> {
        let max = self.limits.max_frame_bytes;
        let data = &self.buf[self.pos..];
        let body_end = match self.content_length {
            // Spec "Header content-length": exactly that many octets are read,
            // NULs included, and a NUL must follow.
            Some(len) => {
                let end = self.body_start + len;
                match data.get(end) {
                    None => return Ok(None),
                    Some(0) => end,
                    Some(_) => return Err(FrameError::MissingNul),
                }
            }
            // Without content-length the body ends at the first NUL.
            None => match data[self.scan..].iter().position(|&b| b == 0) {
                Some(i) => self.scan + i,
                None => {
                    self.scan = data.len();
                    if data.len() >= max {
                        return Err(FrameError::FrameTooLarge(max));
                    }
                    return Ok(None);
                }
            },
        };
        if body_end >= max {
            return Err(FrameError::FrameTooLarge(max));
        }
        // Always set: the Body phase is entered only after a command line.
        let command = self.command.ok_or(FrameError::MalformedHeader)?;
        let frame = Frame {
            command,
            headers: std::mem::take(&mut self.headers),
            body: data[self.body_start..body_end].to_vec(),
        };
        self.pos += body_end + 1;
        self.phase = Phase::Idle;
        Ok(Some(Item::Frame(frame)))
    }
}

/// Splits `name:value` at the first colon. A raw CR is forbidden by the
/// header grammar (spec "Augmented BNF"); a raw `:` in the value is tolerated
/// because many clients send one, and the first colon is unambiguous.
fn parse_header(line: &[u8], unescape: bool) -> Result<(String, String), FrameError> {
    let colon = match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 && !line.contains(&b'\r') => colon,
        _ => return Err(FrameError::MalformedHeader),
    };
    let name = read_header_text(&line[..colon], unescape)?;
    let value = read_header_text(&line[colon + 1..], unescape)?;
    Ok((name, value))
}

/// Fuzz entry point: decodes arbitrary bytes and panics only if an invariant
/// breaks. Invariants: decoding never panics, the result does not depend on
/// how the input is split, and every decoded frame survives encode + decode
/// (gaining only the automatic `content-length`).
pub fn fuzz_decode(data: &[u8]) {
    let small = Limits { max_frame_bytes: 4096, max_headers: 8, max_header_bytes: 512 };
    let chunk = usize::from(data.first().map_or(0, |b| b % 16)) + 1;
    let whole = decode_chunked(small, data, usize::MAX);
    assert_eq!(whole, decode_chunked(small, data, chunk), "split-dependent");
    // Re-encoding may grow a frame (escapes, content-length): no limits.
    let relaxed = Limits { max_frame_bytes: usize::MAX, max_headers: usize::MAX, max_header_bytes: usize::MAX };
    for item in whole.0 {
        let Item::Frame(frame) = item else { continue };
        let mut expected = frame.clone();
        if !frame.body.is_empty() && frame.header("content-length").is_none() {
            expected = expected.with_header("content-length", frame.body.len().to_string());
        }
        let again = decode_chunked(relaxed, &frame.to_bytes(), usize::MAX);
        assert_eq!(again, (vec![Item::Frame(expected)], None), "round trip");
    }
}

/// Feeds `data` in `chunk`-sized pieces, draining after each; stops at the first error.
fn decode_chunked(limits: Limits, data: &[u8], chunk: usize) -> (Vec<Item>, Option<FrameError>) {
    let mut decoder = Decoder::new(limits);
    let mut items = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        decoder.feed(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(err) => return (items, Some(err)),
            }
        }
    }
    (items, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Command as C;
    use FrameError as E;

    const HB: Item = Item::HeartBeat;

    /// Decodes whole and byte by byte, checks both agree, returns the outcome.
    fn run(limits: Limits, wire: &[u8]) -> (Vec<Item>, Option<FrameError>) {
        let whole = decode_chunked(limits, wire, usize::MAX);
        assert_eq!(whole, decode_chunked(limits, wire, 1), "split-dependent");
        whole
    }

    fn items(wire: &[u8]) -> Vec<Item> {
        let (items, err) = run(Limits::default(), wire);
        assert_eq!(err, None);
        items
    }

    fn one(wire: &[u8]) -> Frame {
        match items(wire).as_slice() {
            [Item::Frame(f)] => f.clone(),
            other => panic!("expected one frame, got {other:?}"),
        }
    }

    fn err(wire: &[u8]) -> Option<FrameError> {
        run(Limits::default(), wire).1
    }

    #[test]
    fn commands_and_round_trip() {
        for c in Command::ALL {
            assert_eq!((c.as_str().parse(), c.to_string()), (Ok(c), c.as_str().into()));
            let f = Frame::new(c).with_header("a", "b").with_body(vec![1, 0, 2]);
            assert_eq!(one(&f.to_bytes()), f.with_header("content-length", "3"));
        }
        assert_eq!("send".parse::<C>(), Err(E::UnknownCommand("send".into())));
        assert_eq!(Command::from_bytes(b"SEND "), None);
    }

    #[test]
    fn encode_adds_content_length_and_nul() {
        let f = Frame::new(C::Send).with_header("destination", "/q").with_body("hi");
        assert_eq!(f.to_bytes(), b"SEND\ndestination:/q\ncontent-length:2\n\nhi\0");
        assert_eq!(Frame::new(C::Disconnect).to_bytes(), b"DISCONNECT\n\n\0");
        let own = Frame::new(C::Send).with_header("content-length", "2").with_body("hi");
        assert_eq!(own.to_bytes(), b"SEND\ncontent-length:2\n\nhi\0");
    }

    #[test]
    fn escaping_both_ways_except_connect() {
        let f = Frame::new(C::Message).with_header("k:\\", "a\nb\rc:d\\");
        assert_eq!(f.to_bytes(), b"MESSAGE\nk\\c\\\\:a\\nb\\rc\\cd\\\\\n\n\0");
        assert_eq!(one(&f.to_bytes()), f);
        assert_eq!(one(b"SEND\nx:\\c\\n\\r\\\\\n\n\0").header("x"), Some(":\n\r\\"));
        let f = Frame::new(C::Connect).with_header("passcode", "a\\b");
        assert_eq!(f.to_bytes(), b"CONNECT\npasscode:a\\b\n\n\0");
        assert_eq!(one(&f.to_bytes()), f);
        let f = one(b"CONNECTED\nserver:x\\ty:z\n\n\0");
        assert_eq!(f.header("server"), Some("x\\ty:z"));
        // The same header on an escaped frame is a fatal error.
        assert_eq!(err(b"SEND\nserver:x\\ty\n\n\0"), Some(E::InvalidEscape));
    }

    #[test]
    fn bodies_and_repeated_headers() {
        assert_eq!(one(b"SEND\ncontent-length:5\n\na\0b\0c\0").body, b"a\0b\0c");
        // Without content-length the body stops at the first NUL; "cd" is
        // the (still incomplete) start of the next frame.
        let expected = vec![Item::Frame(Frame::new(C::Send).with_body("ab"))];
        assert_eq!(items(b"SEND\n\nab\0cd"), expected);
        let f = one(b"MESSAGE\nfoo:World\nfoo:Hello\n\n\0");
        assert_eq!((f.header("foo"), f.headers.len()), (Some("World"), 2));
        // First wins for content-length too, which decides the body size.
        assert_eq!(one(b"SEND\ncontent-length:1\ncontent-length:9\n\nx\0").body, b"x");
    }

    #[test]
    fn crlf_and_heartbeats_between_frames() {
        // `run` also feeds these byte by byte.
        let wire = b"\n\r\nSEND\r\nd:/q\r\ncontent-length:3\r\n\r\nx\0y\0\r\nACK\r\nid:1\r\n\r\n\0\n";
        let send =
            Frame::new(C::Send).with_header("d", "/q").with_header("content-length", "3").with_body(b"x\0y".to_vec());
        let ack = Item::Frame(Frame::new(C::Ack).with_header("id", "1"));
        assert_eq!(items(wire), vec![HB, HB, Item::Frame(send), HB, ack, HB]);
    }

    #[test]
    fn multiple_frames_in_one_feed() {
        let mut d = Decoder::default();
        d.feed(b"BEGIN\ntransaction:t\n\n\0COMMIT\n\n\0\r");
        let begin = Frame::new(C::Begin).with_header("transaction", "t");
        assert_eq!(d.next_frame(), Ok(Some(Item::Frame(begin))));
        assert_eq!(d.next_frame(), Ok(Some(Item::Frame(Frame::new(C::Commit)))));
        assert_eq!(d.next_frame(), Ok(None)); // lone CR: wait for its LF
        d.feed(b"\n");
        assert_eq!((d.next_frame(), d.next_frame()), (Ok(Some(HB)), Ok(None)));
    }

    #[test]
    fn error_cases() {
        assert_eq!(err(b"FOO\n\n\0"), Some(E::UnknownCommand("FOO".into())));
        assert_eq!(err(b"send\n\n\0"), Some(E::UnknownCommand("send".into())));
        assert_eq!(err(b"SEND\nnocolon\n\n\0"), Some(E::MalformedHeader));
        assert_eq!(err(b"SEND\n:v\n\n\0"), Some(E::MalformedHeader));
        assert_eq!(err(b"SEND\na:b\rc\n\n\0"), Some(E::MalformedHeader));
        assert_eq!(err(b"SEND\na:b\\\n\n\0"), Some(E::InvalidEscape));
        assert_eq!(err(b"SEND\na:\xff\n\n\0"), Some(E::InvalidUtf8));
        assert_eq!(err(b"CONNECT\n\xfe:b\n\n\0"), Some(E::InvalidUtf8));
        for bad in ["x", "", "-1", "+1", " 1", "1.0"] {
            let wire = format!("SEND\ncontent-length:{bad}\n\n\0");
            assert_eq!(err(wire.as_bytes()), Some(E::InvalidContentLength), "{bad:?}");
        }
        assert_eq!(err(b"SEND\ncontent-length:1\n\nab\0"), Some(E::MissingNul));
        let text: Box<dyn std::error::Error> = Box::new(E::TooManyHeaders(64));
        assert_eq!(text.to_string(), "frame has more than 64 headers");
        assert!(unknown_command(&[b'A'; 100]).to_string().len() < 60);
        // The decoder is poisoned: later input cannot resynchronise it.
        let mut d = Decoder::default();
        d.feed(b"NOPE\n\n\0");
        let e = d.next_frame().expect_err("unknown command");
        d.feed(b"SEND\n\n\0");
        assert_eq!(d.next_frame(), Err(e));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits { max_frame_bytes: 64, max_headers: 2, max_header_bytes: 32 };
        let cap = |wire: &[u8]| run(limits, wire).1;
        assert_eq!(cap(b"SEND\na:1\nb:2\n\n\0"), None);
        assert_eq!(cap(b"SEND\na:1\nb:2\nc:3\n\n\0"), Some(E::TooManyHeaders(2)));
        let long = format!("SEND\na:{}\n\n\0", "v".repeat(40));
        assert_eq!(cap(long.as_bytes()), Some(E::HeadersTooLarge(32)));
        // Without any LF at all, the header limit still stops buffering.
        assert_eq!(cap(&[b'S'; 100]), Some(E::HeadersTooLarge(32)));
        // "SEND\n\n" + body + NUL: 57 body bytes is exactly 64.
        let body = |n: usize| format!("SEND\n\n{}\0", "b".repeat(n)).into_bytes();
        assert_eq!(cap(&body(57)), None);
        assert_eq!(cap(&body(58)), Some(E::FrameTooLarge(64)));
        assert_eq!(cap(&body(58)[..64]), Some(E::FrameTooLarge(64)));
        // content-length is checked before any body byte arrives.
        assert_eq!(cap(b"SEND\ncontent-length:50\n\n"), Some(E::FrameTooLarge(64)));
        for len in ["1000000000000", "99999999999999999999999999"] {
            let wire = format!("SEND\ncontent-length:{len}\n\n");
            assert_eq!(err(wire.as_bytes()), Some(E::FrameTooLarge(64 * 1024)));
        }
    }

    #[test]
    fn max_size_frame_byte_by_byte() {
        // No content-length, so the decoder must scan for the NUL; tracking
        // the scan position keeps this linear.
        let body = vec![b'z'; Limits::default().max_frame_bytes - 7];
        let wire = [&b"SEND\n\n"[..], &body, &[0]].concat();
        assert_eq!(one(&wire), Frame::new(C::Send).with_body(body));
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn text(&mut self, alphabet: &[&str], max: usize) -> String {
            let len = 1 + self.below(max);
            (0..len).map(|_| alphabet[self.below(alphabet.len())]).collect()
        }
    }

    #[test]
    fn random_round_trip_with_random_splits() {
        let escaped = ["a", "Z", "0", ":", "\\", "\n", "\r", "é", "/", " "];
        let raw = ["a", "Z", "0", "\\", "é", "/", " "];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..300 {
            let (mut wire, mut expected) = (Vec::new(), Vec::new());
            for _ in 0..1 + rng.below(5) {
                if rng.below(4) == 0 {
                    wire.extend_from_slice([&b"\n"[..], b"\r\n"][rng.below(2)]);
                    expected.push(HB);
                    continue;
                }
                let mut f = Frame::new(Command::ALL[rng.below(Command::ALL.len())]);
                let alphabet: &[&str] = if f.command.escapes_headers() { &escaped } else { &raw };
                for _ in 0..rng.below(5) {
                    f = f.with_header(rng.text(alphabet, 6), rng.text(alphabet, 8));
                }
                f.body = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
                f.encode(&mut wire);
                if !f.body.is_empty() {
                    let len = f.body.len().to_string();
                    f = f.with_header("content-length", len);
                }
                expected.push(Item::Frame(f));
            }
            let (mut d, mut got, mut rest) = (Decoder::default(), Vec::new(), &wire[..]);
            while !rest.is_empty() {
                let (piece, tail) = rest.split_at(1 + rng.below(rest.len().min(16)));
                rest = tail;
                d.feed(piece);
                while let Some(item) = d.next_frame().expect("valid stream") {
                    got.push(item);
                }
            }
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn fuzz_decode_on_random_and_mutated_input() {
        let mut rng = XorShift(42);
        let seed = b"SEND\r\nd:/q\\c1\ncontent-length:3\n\na\0b\0\nCONNECT\nlogin:x:y\n\nbody\0";
        for _ in 0..3000 {
            let mut data = seed.to_vec();
            for _ in 0..rng.below(6) {
                let at = rng.below(data.len());
                match rng.below(3) {
                    0 => data[at] = rng.next() as u8,
                    1 => drop(data.remove(at)),
                    _ => data.insert(at, b"\n\r\0:\\Sc9"[rng.below(8)]),
                }
            }
            fuzz_decode(&data);
            fuzz_decode(&(0..rng.below(64)).map(|_| rng.next() as u8).collect::<Vec<_>>());
        }
        fuzz_decode(&[]);
    }
}
