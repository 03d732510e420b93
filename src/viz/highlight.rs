//! Token highlighting as HTML: each token a `<span>` whose background
//! intensity is its attention weight (relative to the text's largest), as in
//! the lecture's attention visualisation. The weight is also in the span's
//! `data-weight` attribute and tooltip, so the file can be read by a program.

/// One highlighted text: its tokens with weights and a caption (the label).
#[derive(Clone, Debug)]
pub struct Highlighted {
    /// Shown above the tokens (e.g. `Polish 0.9994`).
    pub caption: String,
    /// `(token, weight)` in reading order.
    pub tokens: Vec<(String, f64)>,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A standalone HTML page with one paragraph per text.
pub fn highlight_html(texts: &[Highlighted]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>attention</title>\n<style>\
         body{font-family:sans-serif;line-height:2}span.t{padding:2px 3px;margin:1px;border-radius:3px}\
         p.c{margin:1em 0 0;font-weight:bold}</style></head><body>\n",
    );
    for t in texts {
        let max = t
            .tokens
            .iter()
            .map(|(_, w)| *w)
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        out.push_str(&format!("<p class=\"c\">{}</p>\n<p>", escape(&t.caption)));
        for (tok, w) in &t.tokens {
            out.push_str(&format!(
                "<span class=\"t\" data-weight=\"{w:.6}\" title=\"{w:.4}\" style=\"background:rgba(255,0,0,{:.3})\">{}</span>",
                (w / max).clamp(0.0, 1.0),
                escape(tok)
            ));
        }
        out.push_str("</p>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_span_per_token_with_its_weight_and_escaped_text() {
        let html = highlight_html(&[Highlighted {
            caption: "Irish <0.99>".into(),
            tokens: vec![("O".into(), 0.25), ("'".into(), 0.75)],
        }]);
        assert_eq!(html.matches("<span class=\"t\"").count(), 2);
        assert!(html.contains("data-weight=\"0.750000\""));
        assert!(html.contains("rgba(255,0,0,1.000)\">&#39;</span>"));
        assert!(html.contains("rgba(255,0,0,0.333)\">O</span>"));
        assert!(html.contains("Irish &lt;0.99&gt;"));
    }
}
