//! Knowledge-base rules: article statuses, slugs, Markdown rendering, and turning what a user
//! types into a safe full-text query (the same terms for SQLite FTS5 and PostgreSQL tsquery).

use super::text_enum;

text_enum! {
    /// Only PUBLISHED articles are visible to customers and anonymous readers.
    ArticleStatus { Draft => "DRAFT", Published => "PUBLISHED", Archived => "ARCHIVED" }
}

/// `How do I reset 2FA?` → `how-do-i-reset-2fa`; at most 80 characters.
pub fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 80 {
            break;
        }
    }
    slug.trim_end_matches('-').to_string()
}

/// A valid slug: 1–80 of a–z, 0–9 and single dashes, not at either end.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 80
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Renders Markdown to HTML that is safe to insert into a page: raw HTML in the source is
/// sanitised (scripts, event handlers and `javascript:` links removed) by ammonia.
pub fn render_markdown(markdown: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    ammonia::Builder::default().link_rel(Some("noopener noreferrer nofollow")).clean(&unsafe_html).to_string()
}

/// Marks the start and end of a matched term in snippets produced by the database; private-use
/// characters, so they cannot collide with article text, and replaced after escaping.
pub const MATCH_START: char = '\u{E000}';
pub const MATCH_END: char = '\u{E001}';

/// Escapes a database snippet for HTML and turns the match markers into `<mark>` elements.
pub fn highlight(snippet: &str) -> String {
    let mut html = String::with_capacity(snippet.len() + 32);
    for c in snippet.chars() {
        match c {
            MATCH_START => html.push_str("<mark>"),
            MATCH_END => html.push_str("</mark>"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '&' => html.push_str("&amp;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            other => html.push(other),
        }
    }
    html
}

/// Words too common to search for. Dropped on both backends, so they agree (PostgreSQL's English
/// configuration ignores them anyway; SQLite's FTS5 would otherwise require them).
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from", "how", "i", "if", "in",
    "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "so", "such", "that", "the", "their", "then",
    "there", "these", "they", "this", "to", "was", "we", "what", "when", "where", "which", "why", "will", "with",
    "you", "your",
];

/// What a user typed, reduced to search terms: lower-case words of letters and digits, at most 12,
/// stop words removed. The last term is matched as a prefix (search-as-you-type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
}

impl SearchQuery {
    /// `None` when nothing searchable is left.
    pub fn parse(text: &str) -> Option<SearchQuery> {
        let terms: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(|word| word.chars().take(64).collect::<String>().to_lowercase())
            .filter(|word| !STOP_WORDS.contains(&word.as_str()))
            .take(12)
            .collect();
        (!terms.is_empty()).then_some(SearchQuery { terms })
    }

    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// FTS5 MATCH expression: every term required, each quoted (so nothing is an operator),
    /// the last one a prefix: `"withdrawal" "pend"*`.
    pub fn fts5(&self) -> String {
        let last = self.terms.len() - 1;
        self.terms
            .iter()
            .enumerate()
            .map(|(i, term)| if i == last { format!("\"{term}\"*") } else { format!("\"{term}\"") })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The FTS5 expression for the knowledge base (migrations/sqlite/0005): the terms searched
    /// in the four text columns only, and each `(column, value)` filter (status, category) as a
    /// phrase on that index column. Filter values come from the service's enums, not from users.
    pub fn fts5_for_articles(&self, filters: &[(&str, &str)]) -> String {
        let mut expression = format!("{{title tags summary content}} : ({})", self.fts5());
        for (column, value) in filters {
            expression.push_str(&format!(" AND {column} : \"{value}\""));
        }
        expression
    }

    /// For PostgreSQL: the leading terms for `websearch_to_tsquery`, and the last term for a
    /// `to_tsquery('english', '<term>:*')` prefix query (letters and digits only, so no syntax).
    pub fn postgres_parts(&self) -> (String, String) {
        let (last, leading) = self.terms.split_last().map_or((String::new(), &[][..]), |(l, r)| (l.clone(), r));
        (leading.join(" "), format!("{last}:*"))
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/search_query.rs`): parses `text` and panics if an
/// invariant breaks; returns the query so the target can also run [`SearchQuery::fts5`] through
/// SQLite's FTS5. Invariants: 1 to 12 terms, none empty, a stop word or holding a quote; the
/// FTS5 expression is one double-quoted phrase per term, only the last one starred; PostgreSQL's
/// prefix term has no tsquery syntax characters in it (`websearch_to_tsquery` accepts any text).
#[doc(hidden)]
pub fn fuzz_search_query(text: &str) -> Option<SearchQuery> {
    let query = SearchQuery::parse(text)?;
    let terms = query.terms();
    assert!(!terms.is_empty() && terms.len() <= 12, "{} terms", terms.len());
    for term in terms {
        assert!(!term.is_empty() && !STOP_WORDS.contains(&term.as_str()), "term {term:?}");
        // Lower-casing one character gives at most three.
        assert!(term.chars().count() <= 64 * 3, "term of {} characters", term.chars().count());
        assert!(!term.contains('"'), "a quote in term {term:?}");
    }
    let expected: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, term)| if i + 1 == terms.len() { format!("\"{term}\"*") } else { format!("\"{term}\"") })
        .collect();
    assert_eq!(query.fts5(), expected.join(" "));
    let (leading, last) = query.postgres_parts();
    let prefix = last.strip_suffix(":*").expect("the prefix term ends in :*");
    assert_eq!(prefix, terms[terms.len() - 1]);
    assert!(
        !prefix.chars().any(|c| c.is_whitespace() || c.is_control() || "&|!()<>:*'\"\\".contains(c)),
        "tsquery syntax in prefix term {prefix:?}"
    );
    assert_eq!(leading, terms[..terms.len() - 1].join(" "));
    Some(query)
}

/// Fuzz entry point (`fuzz/fuzz_targets/markdown.rs`): renders `text` as Markdown and as a search
/// snippet, and panics if either could run script. In [`render_markdown`]'s output no element is
/// `script` (or another script-capable element), no attribute is an `on*` event handler or
/// `style`, and no URL attribute uses the `javascript:`, `vbscript:` or `data:` scheme; nor does
/// `<script` appear anywhere outside an attribute value. [`highlight`]'s output is text with
/// `<mark>` elements only, and unescapes back to its input.
#[doc(hidden)]
pub fn fuzz_render_markdown(text: &str) {
    let html = render_markdown(text);
    fuzz_check_safe_html(&html, text);

    let marked = highlight(text);
    let mut rest = marked.as_str();
    let mut unescaped = String::with_capacity(text.len());
    while let Some(at) = rest.find(['<', '&']) {
        unescaped.push_str(&rest[..at]);
        rest = &rest[at..];
        let (entity, char) = [
            ("<mark>", MATCH_START),
            ("</mark>", MATCH_END),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&amp;", '&'),
            ("&quot;", '"'),
            ("&#39;", '\''),
        ]
        .into_iter()
        .find(|(entity, _)| rest.starts_with(entity))
        .unwrap_or_else(|| panic!("highlight left markup in {marked:?}"));
        unescaped.push(char);
        rest = &rest[entity.len()..];
    }
    unescaped.push_str(rest);
    let plain = marked.replace("<mark>", "").replace("</mark>", "");
    assert!(!plain.contains(['<', '>', '"', '\'']), "highlight left markup in {marked:?}");
    assert_eq!(unescaped, text, "highlight lost text");
}

/// Walks serialised HTML (as html5ever writes it: attribute values double-quoted, `"` and
/// `&` escaped in them) and checks every start tag.
fn fuzz_check_safe_html(html: &str, source: &str) {
    /// Elements that can run script or load active content.
    const ACTIVE: &[&str] = &[
        "script", "style", "iframe", "frame", "object", "embed", "applet", "base", "meta", "link", "svg", "math",
        "form",
    ];
    const URL_ATTRIBUTES: &[&str] =
        &["href", "src", "action", "formaction", "cite", "background", "poster", "srcset", "xlink:href"];

    let fail = |what: String| -> ! { panic!("unsafe HTML: {what}\nsource: {source:?}\nhtml: {html}") };
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut outside_values = String::with_capacity(html.len());
    while i < bytes.len() {
        if bytes[i] != b'<' {
            outside_values.push(char::from(bytes[i].to_ascii_lowercase()));
            i += 1;
            continue;
        }
        outside_values.push('<');
        i += 1;
        if bytes.get(i) == Some(&b'/') {
            continue;
        }
        let name_end = i + bytes[i..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
            .unwrap_or(bytes.len() - i);
        let name = html[i..name_end].to_ascii_lowercase();
        if name.starts_with('!') || name.starts_with('?') {
            fail(format!("markup declaration <{name}"));
        }
        if ACTIVE.contains(&name.as_str()) {
            fail(format!("<{name}> element"));
        }
        outside_values.push_str(&name);
        i = name_end;
        // Attributes until `>`.
        loop {
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                i += 1;
            }
            if i >= bytes.len() {
                fail("unterminated tag".into());
            }
            if bytes[i] == b'>' {
                outside_values.push('>');
                i += 1;
                break;
            }
            let attr_end = i + bytes[i..]
                .iter()
                .position(|b| b.is_ascii_whitespace() || *b == b'=' || *b == b'>')
                .unwrap_or(bytes.len() - i);
            let attr = html[i..attr_end].to_ascii_lowercase();
            i = attr_end;
            let mut value = String::new();
            if bytes.get(i) == Some(&b'=') {
                if bytes.get(i + 1) != Some(&b'"') {
                    fail(format!("unquoted value of {attr}"));
                }
                let start = i + 2;
                let Some(len) = bytes[start..].iter().position(|b| *b == b'"') else {
                    fail(format!("unterminated value of {attr}"));
                };
                value =
                    html[start..start + len].replace("&quot;", "\"").replace("&nbsp;", "\u{a0}").replace("&amp;", "&");
                i = start + len + 1;
            }
            if attr.starts_with("on") || attr == "style" || attr == "formaction" {
                fail(format!("{attr} attribute"));
            }
            if URL_ATTRIBUTES.contains(&attr.as_str()) {
                // Browsers drop ASCII tabs and newlines anywhere in a URL and leading
                // whitespace and controls.
                let url: String = value
                    .trim_start_matches(|c: char| c <= ' ')
                    .chars()
                    .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                    .collect::<String>()
                    .to_ascii_lowercase();
                for scheme in ["javascript:", "vbscript:", "data:"] {
                    if url.starts_with(scheme) || (attr == "srcset" && url.contains(scheme)) {
                        fail(format!("{attr}={value:?}"));
                    }
                }
            }
        }
    }
    if outside_values.contains("<script") {
        fail("<script outside an attribute value".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("How do I reset 2FA?"), "how-do-i-reset-2fa");
        assert_eq!(slugify("  --Crème brûlée!! "), "cr-me-br-l-e");
        assert!(is_valid_slug("reset-2fa"));
        assert!(!is_valid_slug("Reset"));
        assert!(!is_valid_slug("-x"));
        assert!(!is_valid_slug("a--b"));
        assert!(slugify(&"word ".repeat(50)).len() <= 80);
    }

    #[test]
    fn markdown_is_rendered_and_sanitised() {
        let html = render_markdown("# Title\n\n**bold** <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))\n\n| a | b |\n|---|---|\n| 1 | 2 |");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<strong>bold</strong>"));
        assert!(html.contains("<table>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("onerror"));
        assert!(!html.contains("javascript:"));
    }

    #[test]
    fn fuzz_html_check_catches_script() {
        for html in [
            "<p><script>x</script></p>",
            "<img src=\"x\" onerror=\"alert(1)\">",
            "<a href=\" java\tscript:alert(1)\">x</a>",
            "<img src=\"data:image/svg+xml,x\">",
            "<p title=\"<script>\">ok</p><SCRIPT>",
        ] {
            assert!(std::panic::catch_unwind(|| fuzz_check_safe_html(html, "")).is_err(), "{html}");
        }
        fuzz_check_safe_html(
            "<p title=\"a onclick=x <script>\">&lt;script&gt; <a href=\"https://x/\" rel=\"noopener\">y</a></p>",
            "",
        );
    }

    #[test]
    fn snippets_are_escaped_then_marked() {
        let snippet = format!("use {MATCH_START}<limit>{MATCH_END} & co");
        assert_eq!(highlight(&snippet), "use <mark>&lt;limit&gt;</mark> &amp; co");
    }

    #[test]
    fn queries_become_safe_terms() {
        let query = SearchQuery::parse("How do I withdraw USDT? \"OR\" NEAR(x) pend").unwrap();
        assert_eq!(query.terms(), ["withdraw", "usdt", "near", "x", "pend"]);
        assert_eq!(query.fts5(), r#""withdraw" "usdt" "near" "x" "pend"*"#);
        assert_eq!(query.postgres_parts(), ("withdraw usdt near x".to_string(), "pend:*".to_string()));
        assert_eq!(SearchQuery::parse("the a of ?!"), None);
        assert_eq!(SearchQuery::parse("'; DROP TABLE tickets; --").unwrap().terms(), ["drop", "table", "tickets"]);
        assert_eq!(SearchQuery::parse(&"w ".repeat(100)).unwrap().terms().len(), 12);
    }
}
