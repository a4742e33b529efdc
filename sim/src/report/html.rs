//! `index.html`: one self-contained page per run (no external files: the SVGs are inlined).

use std::fmt::Write;

use super::Input;

/// The page of one run.
#[derive(Debug)]
pub struct Page<'a> {
    /// The run.
    pub input: &'a Input<'a>,
    /// (plot name, SVG text), in order.
    pub plots: Vec<(&'a str, &'a str)>,
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;\
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;\
padding:3px 8px;text-align:left;font-size:14px}td.num{text-align:right;font-variant-numeric:\
tabular-nums}.ok{color:#080;font-weight:bold}.failed{color:#c00;font-weight:bold}\
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:13px}figure{margin:1.5em 0}\
figure svg{max-width:100%;height:auto}";

impl Page<'_> {
    /// The HTML text.
    pub fn render(&self) -> String {
        let s = self.input.summary;
        let mut h = String::with_capacity(1 << 16);
        let verdict = if s.passed { "passed" } else { "FAILED" };
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{name}: {verdict}</title><style>{STYLE}</style></head><body>\n\
             <h1>{name} <span class=\"{cls}\">{verdict}</span></h1>\n<p>seed {seed}, \
             {members} members, {virt:.0} s of virtual time in {wall:.2} s wall. \
             Reproduce with <code>sim run {file} --seed {seed}{sets}</code>.</p>\n",
            name = esc(&s.name),
            cls = if s.passed { "ok" } else { "failed" },
            seed = s.seed,
            members = s.members,
            virt = s.virtual_seconds,
            wall = s.wall_seconds,
            file = esc(&self.input.scenario_path.display().to_string()),
            sets = esc(&self
                .input
                .sets
                .iter()
                .map(|x| format!(" --set '{x}'"))
                .collect::<String>()),
        );
        h.push_str("<h2 id=\"expectations\">Expectations</h2>\n<table><tr><th>#</th><th>kind</th><th>verdict</th><th>detail</th></tr>\n");
        for (i, e) in s.expectations.iter().enumerate() {
            let _ = writeln!(
                h,
                "<tr class=\"expectation\"><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                i + 1,
                esc(e.kind),
                if e.passed { "ok" } else { "failed" },
                if e.passed { "held" } else { "FAILED" },
                esc(&e.detail)
            );
        }
        if s.expectations.is_empty() {
            h.push_str("<tr><td colspan=\"4\">(the scenario has no expectations)</td></tr>\n");
        }
        h.push_str("</table>\n<h2 id=\"summary\">Summary</h2>\n<table>\n");
        for (key, value) in summary_rows(s) {
            let _ = writeln!(
                h,
                "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
                esc(&key),
                esc(&value)
            );
        }
        h.push_str("</table>\n<h2 id=\"plots\">Plots</h2>\n");
        for (name, svg) in &self.plots {
            let _ = writeln!(
                h,
                "<figure id=\"plot-{name}\"><figcaption><a href=\"{name}.svg\">{name}.svg</a> · \
                 <a href=\"{name}.png\">{name}.png</a></figcaption>\n{}\n</figure>",
                strip_xml_declaration(svg)
            );
        }
        let _ = write!(
            h,
            "<h2 id=\"scenario\">Scenario</h2>\n<p><code>{}</code>{}</p>\n<pre>{}</pre>\n\
             <p>Files: <a href=\"timeseries.csv\">timeseries.csv</a>, \
             <a href=\"events.csv\">events.csv</a>, <a href=\"members.csv\">members.csv</a>, \
             <a href=\"summary.json\">summary.json</a>.</p>\n</body></html>\n",
            esc(&self.input.scenario_path.display().to_string()),
            if self.input.sets.is_empty() {
                String::new()
            } else {
                format!(" with {}", esc(&self.input.sets.join(", ")))
            },
            esc(self.input.scenario_text)
        );
        h
    }
}

/// The summary's figures as (dotted key, value) rows, everything but the expectations, read
/// through its JSON form so that fields added later show up without a change here.
pub fn summary_rows(s: &crate::output::Summary) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(s) {
        for (k, v) in map {
            if k == "expectations" || k == "name" {
                continue;
            }
            flatten(&k, &v, &mut rows);
        }
    }
    rows
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        serde_json::Value::Null => out.push((prefix.to_string(), "–".to_string())),
        serde_json::Value::Number(n) => {
            let text = match n.as_f64() {
                Some(f) if n.is_f64() => format!("{f:.3}"),
                _ => n.to_string(),
            };
            out.push((prefix.to_string(), text));
        }
        serde_json::Value::Array(items)
            if items.len() > 12 || items.iter().any(|i| i.is_object()) =>
        {
            out.push((prefix.to_string(), format!("[{} items]", items.len())));
        }
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
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
