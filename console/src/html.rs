//! HTML built safely: every page is an [`Html`] value, and the one way to put text into
//! it is [`html!`], which escapes each argument unless it is `Html` already. So escaping
//! happens in one place ([`escape`]), and forgetting it does not compile: a format string
//! may only hold positional `{}` (a named `{x}` would capture `x` unescaped, so the macro
//! refuses such strings at compile time).

use std::fmt::{self, Display, Write};

/// Markup known to be safe: built by [`html!`] or from a static literal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Html(String);

impl Html {
    /// A literal written in the source (never text from outside).
    pub fn literal(markup: &'static str) -> Self {
        Self(markup.to_string())
    }

    /// The markup of pieces one after the other.
    pub fn concat(pieces: impl IntoIterator<Item = Html>) -> Self {
        Self(pieces.into_iter().map(|p| p.0).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Only for [`html!`]: its format string is a literal and its arguments are escaped.
    #[doc(hidden)]
    pub fn from_formatted(markup: String) -> Self {
        Self(markup)
    }
}

/// Anything [`html!`] can take: text is escaped, `Html` is kept as it is.
pub trait Render {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl Render for Html {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(&self.0)
    }
}

macro_rules! render_as_text {
    ($($t:ty),*) => {$(
        impl Render for $t {
            fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
                EscapeWriter(out).write_fmt(format_args!("{}", self))
            }
        }
    )*};
}
render_as_text!(str, String, u8, u16, u32, u64, i64, usize, f64, bool, char);

impl<T: Render + ?Sized> Render for &T {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).render(out)
    }
}

/// Writes what it is given with `& < > " '` escaped, so it is safe in text and in
/// quoted attribute values.
struct EscapeWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Write for EscapeWriter<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            self.0.write_str(&rest[..at])?;
            self.0.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        self.0.write_str(rest)
    }
}

/// `text` escaped for HTML text and quoted attribute values.
pub fn escape(text: &str) -> String {
    format!("{}", Arg(&text))
}

/// One argument of [`html!`], shown through its [`Render`].
#[doc(hidden)]
pub struct Arg<'a>(pub &'a dyn Render);

impl Display for Arg<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(out)
    }
}

/// Whether a format string holds only positional `{}` (and `{{`, `}}`).
#[doc(hidden)]
pub const fn only_positional(format: &str) -> bool {
    let bytes = format.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if i + 1 < bytes.len() && (bytes[i + 1] == b'}' || bytes[i + 1] == b'{') => i += 2,
            b'}' if i + 1 < bytes.len() && bytes[i + 1] == b'}' => i += 2,
            b'{' | b'}' => return false,
            _ => i += 1,
        }
    }
    true
}

/// `format!` for markup: each argument is escaped unless it is [`Html`].
#[macro_export]
macro_rules! html {
    ($format:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = assert!(
            $crate::html::only_positional($format),
            "html! takes positional {{}} only: a named {{x}} would not be escaped"
        );
        $crate::html::Html::from_formatted(format!($format $(, $crate::html::Arg(&$arg))*))
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_markup_is_kept() {
        let evil = "<script>alert('x')</script> & \"quoted\"";
        let inner = html!("<b>{}</b>", "bold & brave");
        let page = html!("<p title=\"{}\">{}{}</p>", evil, evil, inner);
        assert_eq!(
            page.as_str(),
            "<p title=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;\">\
             &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;\
             <b>bold &amp; brave</b></p>"
        );
        assert_eq!(html!("{}", 42u64).as_str(), "42");
        assert_eq!(html!("{{{}}}", "a<b").as_str(), "{a&lt;b}");
        assert_eq!(escape("plain text"), "plain text");
        assert_eq!(escape("é<"), "é&lt;");
    }

    #[test]
    fn format_strings_with_named_arguments_are_refused() {
        assert!(only_positional("<p>{}</p>{{x}}"));
        assert!(!only_positional("<p>{name}</p>"));
        assert!(!only_positional("<p>{:?}</p>"));
        assert!(!only_positional("<p>{0}</p>"));
        assert!(!only_positional("dangling {"));
    }
}
