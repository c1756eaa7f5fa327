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

    /// For PostgreSQL: the leading terms for `websearch_to_tsquery`, and the last term for a
    /// `to_tsquery('english', '<term>:*')` prefix query (letters and digits only, so no syntax).
    pub fn postgres_parts(&self) -> (String, String) {
        let (last, leading) = self.terms.split_last().map_or((String::new(), &[][..]), |(l, r)| (l.clone(), r));
        (leading.join(" "), format!("{last}:*"))
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
