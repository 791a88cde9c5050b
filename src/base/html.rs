//! Self-contained HTML reports, for CircleCI's artifacts (`store_artifacts`)
//! and anyone the report is handed to.
//!
//! A page is one file: its style is inline, and it loads nothing: no
//! script, stylesheet link, image, font or `url(...)`; the only links are
//! `<a href>`s to the Jira ticket. Every value goes through [`escape`]
//! (markup characters as entities, control characters shown escaped), and
//! only `http(s)` URLs become links ([`link`]). The renderers build pages
//! from these pieces and never write a value unescaped.

use std::fmt::Write as _;

/// The page's style: system fonts only, so nothing is fetched.
const STYLE: &str = "\
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1f2328;line-height:1.45}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}\
table{border-collapse:collapse;margin:.6em 0;width:100%}th,td{border:1px solid #d0d7de;padding:.35em .6em;text-align:left;vertical-align:top}\
th{background:#f6f8fa}td.n{text-align:right}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;background:#f6f8fa;padding:.1em .3em;border-radius:4px;overflow-wrap:break-word}\
.verdict{font-size:1.1em;font-weight:600;padding:.6em .9em;border-radius:6px;margin:.8em 0}\
.bad{background:#ffebe9;border:1px solid #ff8182}.good{background:#dafbe1;border:1px solid #4ac26b}.warn{background:#fff8c5;border:1px solid #d4a72c}\
.sev-high,.v-fail{color:#cf222e;font-weight:600}.v-pass{color:#1a7f37;font-weight:600}.v-undecidable{color:#9a6700;font-weight:600}.sev-medium{color:#9a6700;font-weight:600}.sev-low{color:#57606a}\
.meta{color:#57606a;font-size:.9em}ul{padding-left:1.4em}";

/// Escapes text for HTML content or a double-quoted attribute: the markup
/// characters, and `=`, `(` and `@` too.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Harmless as references, and no value can then spell a
            // resource reference (`src=`, `url(`, `@import`) even as text.
            '=' => out.push_str("&#61;"),
            '(' => out.push_str("&#40;"),
            '@' => out.push_str("&#64;"),
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// `<code>` around escaped text.
pub(crate) fn code(s: &str) -> String {
    format!("<code>{}</code>", escape(s))
}

/// A link to `url` showing `text`, when `url` is an `http(s)` URL without
/// spaces or quotes; else the text alone.
pub(crate) fn link(url: &str, text: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let plain = url.chars().all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '"' | '\'' | '<' | '>'));
    if (lower.starts_with("https://") || lower.starts_with("http://")) && plain {
        format!("<a href=\"{}\">{}</a>", escape(url), escape(text))
    } else {
        escape(text)
    }
}

/// A table: the header cells are text, the body cells already HTML (built
/// with [`escape`], [`code`] and [`link`]).
pub(crate) fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut o = String::from("<table>\n<thead><tr>");
    for h in head {
        let _ = write!(o, "<th>{}</th>", escape(h));
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        o.push_str("<tr>");
        for cell in r {
            let _ = write!(o, "<td>{cell}</td>");
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody>\n</table>\n");
    o
}

/// A list of items, already HTML.
pub(crate) fn list(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut o = String::from("<ul>\n");
    for i in items {
        let _ = writeln!(o, "<li>{i}</li>");
    }
    o.push_str("</ul>\n");
    o
}

/// How a verdict box looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Nothing stands in the way.
    Good,
    /// A person must look.
    Warn,
    /// The policy said no.
    Bad,
}

/// The verdict box, escaped.
pub(crate) fn verdict(tone: Tone, text: &str) -> String {
    let class = match tone {
        Tone::Good => "good",
        Tone::Warn => "warn",
        Tone::Bad => "bad",
    };
    format!("<p class=\"verdict {class}\">{}</p>\n", escape(text))
}

/// A verdict word (`pass`, `fail`, `undecidable`), coloured.
pub(crate) fn verdict_word(v: &str) -> String {
    let class = match v {
        "pass" | "fail" | "undecidable" => v,
        _ => "other",
    };
    format!("<span class=\"v-{class}\">{}</span>", escape(v))
}

/// The whole page: `title` (text) and `body` (HTML).
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n{body}<p class=\"meta\">Written by changegate {}.</p>\n</body>\n</html>\n",
        escape(title),
        escape(title),
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_controls_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert&#40;&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(escape("a\u{1b}[31m\r\nb"), "a\\u{1b}[31m\nb");
        assert_eq!(code("`x` <b>"), "<code>`x` &lt;b&gt;</code>");
    }

    #[test]
    fn only_http_urls_become_links() {
        assert_eq!(
            link("https://acme.atlassian.net/browse/PRODCM-7", "PRODCM-7"),
            "<a href=\"https://acme.atlassian.net/browse/PRODCM-7\">PRODCM-7</a>"
        );
        assert_eq!(link("javascript:alert(1)", "x<"), "x&lt;");
        assert_eq!(link("https://a\" onmouseover=\"x", "t"), "t");
        assert_eq!(link("https://a.test/?q=1&r=2", "t"), "<a href=\"https://a.test/?q&#61;1&amp;r&#61;2\">t</a>");
    }

    #[test]
    fn a_page_loads_nothing() {
        let p = page("Plan <check>", &table(&["A"], &[vec![escape("<img src=x> url(a) @import")]]));
        for banned in ["<script", "<link", "src=", "@import", "url(", "<img", "<iframe", "font-face"] {
            assert!(!p.contains(banned), "{banned} in {p}");
        }
        assert!(p.contains("<title>Plan &lt;check&gt;</title>"));
        assert!(p.contains("<td>&lt;img src&#61;x&gt; url&#40;a) &#64;import</td>"));
    }
}
