//! `index.html`: the page of one run, in the order a person reads it — the verdict and a
//! headline of what happened, the plots, the expectations, the summary in groups, the
//! scenario. It needs nothing from the network (no scripts, no fonts); the plots are the
//! run's own `NAME.svg` files next to it; it prints on A4 without cut figures.

use std::fmt::Write;

use super::Input;

/// One plot on the page.
#[derive(Debug)]
pub struct Plot {
    /// `NAME` of `NAME.svg` / `NAME.png`.
    pub name: &'static str,
    /// What it shows, for the caption and the image's `alt` text.
    pub caption: String,
    /// Size in pixels (so the layout does not jump while it loads).
    pub size: (u32, u32),
}

/// The page of one run.
#[derive(Debug)]
pub struct Page<'a> {
    /// The run.
    pub input: &'a Input<'a>,
    /// The headline's sentences.
    pub headline: Vec<String>,
    /// The plots with something to show, in order.
    pub plots: Vec<Plot>,
    /// Plots left out: (name, why).
    pub omitted: Vec<(&'static str, String)>,
}

/// The style of the run and sweep pages (screen, phone and print).
pub const STYLE: &str = "\
:root{color-scheme:light}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;\
max-width:1040px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}\
h1{margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
h3{margin:1.2em 0 .3em}\
.verdict{display:inline-block;padding:.05em .5em;border-radius:.3em;color:#fff;font-size:.8em;\
vertical-align:middle}.verdict.ok{background:#1a7f37}.verdict.failed{background:#c62828}\
.description{color:#444;margin:.3em 0 .8em}\
#headline{font-size:1.1em;margin:.6em 0 1em;padding-left:1.2em}#headline li{margin:.25em 0}\
.meta{color:#555;font-size:.9em}nav{margin:.8em 0;font-size:.95em}nav a{margin-right:1em}\
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;\
text-align:left;font-size:14px;vertical-align:top}th{background:#f4f4f4;font-weight:600}\
td.num{font-variant-numeric:tabular-nums}table.pairs th{font-weight:normal;background:none}\
.ok{color:#1a7f37;font-weight:bold}.failed{color:#c62828;font-weight:bold}\
.verdict.ok,.verdict.failed{color:#fff}.note{color:#666;font-size:.9em}\
.wide{overflow-x:auto;max-width:100%}\
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:13px}\
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;display:block;border:1px solid #eee}\
figcaption{font-size:.9em;color:#444;margin-bottom:.3em}figcaption a{margin-left:.6em}\
@media (max-width:600px){body{margin:.6em auto}td,th{font-size:12px;padding:2px 4px}}\
@media print{body{max-width:none;margin:0;font-size:11pt}nav,figcaption a{display:none}\
a{color:inherit;text-decoration:none}figure,table,section.group,li{break-inside:avoid}\
h2,h3{break-after:avoid}pre{white-space:pre-wrap;font-size:9pt}.verdict{border:1px solid #000;\
color:#000!important;background:none!important}}";

impl Page<'_> {
    /// The HTML text.
    pub fn render(&self) -> String {
        let s = self.input.summary;
        let mut h = String::with_capacity(1 << 15);
        let verdict = if s.passed { "passed" } else { "FAILED" };
        let file = self.input.scenario_path.display().to_string();
        let sets: String = self
            .input
            .sets
            .iter()
            .map(|x| format!(" --set '{x}'"))
            .collect();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{name}: {verdict}</title><style>{STYLE}</style></head><body>\n\
             <header><h1>{name} <span class=\"verdict {cls}\" id=\"verdict\">{verdict}</span></h1>\n",
            name = esc(&s.name),
            cls = if s.passed { "ok" } else { "failed" },
        );
        if let Some(d) = description(self.input.scenario_text) {
            let _ = writeln!(h, "<p class=\"description\">{}</p>", esc(&d));
        }
        h.push_str("<ul id=\"headline\">\n");
        for line in &self.headline {
            let _ = writeln!(h, "<li>{}</li>", esc(line));
        }
        let _ = write!(
            h,
            "</ul>\n<p class=\"meta\">Seed {seed}, {members} members, {virt} of virtual time in \
             {wall} wall. Reproduce with <code>sim run {file}{seed_flag}{sets}</code>.</p>\n\
             <nav><a href=\"#plots\">Plots</a><a href=\"#expectations\">Expectations</a>\
             <a href=\"#summary\">Summary</a><a href=\"#scenario\">Scenario</a>\
             <a href=\"summary.json\">summary.json</a></nav></header>\n",
            seed = s.seed,
            members = s.members,
            virt = super::format::seconds(s.virtual_seconds),
            wall = super::format::seconds(s.wall_seconds),
            file = esc(&file),
            seed_flag = format_args!(" --seed {}", s.seed),
            sets = esc(&sets),
        );
        h.push_str("<section id=\"plots\"><h2>Plots</h2>\n");
        for p in &self.plots {
            let _ = writeln!(
                h,
                "<figure id=\"plot-{n}\"><figcaption>{cap}<a href=\"{n}.svg\">{n}.svg</a>\
                 <a href=\"{n}.png\">{n}.png</a></figcaption>\
                 <img src=\"{n}.svg\" width=\"{w}\" height=\"{ht}\" alt=\"{cap}\"></figure>",
                n = p.name,
                cap = esc(&p.caption),
                w = p.size.0,
                ht = p.size.1,
            );
        }
        if !self.omitted.is_empty() {
            let why: Vec<String> = self
                .omitted
                .iter()
                .map(|(n, why)| format!("{n} ({})", esc(why)))
                .collect();
            let _ = writeln!(
                h,
                "<p class=\"note\">Not drawn, nothing to show: {}.</p>",
                why.join("; ")
            );
        }
        h.push_str("</section>\n<section id=\"expectations\"><h2>Expectations</h2>\n");
        h.push_str("<div class=\"wide\"><table><tr><th>#</th><th>kind</th><th>verdict</th><th>detail</th></tr>\n");
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
        h.push_str("</table></div></section>\n<section id=\"summary\"><h2>Summary</h2>\n");
        h.push_str(&super::summary::render(s));
        h.push_str(
            "<p class=\"note\">Every figure of the run, flat: \
             <a href=\"summary.json\">summary.json</a>.</p></section>\n",
        );
        let _ = write!(
            h,
            "<section id=\"scenario\"><h2>Scenario</h2>\n<p><code>{}</code>{}</p>\n<pre>{}</pre>\n\
             <p>Files: <a href=\"timeseries.csv\">timeseries.csv</a>, \
             <a href=\"events.csv\">events.csv</a>, <a href=\"members.csv\">members.csv</a>, \
             <a href=\"summary.json\">summary.json</a>.</p></section>\n</body></html>\n",
            esc(&file),
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

/// The scenario's `description`, if it has one.
fn description(text: &str) -> Option<String> {
    let table = toml::from_str::<toml::Table>(text).ok()?;
    Some(table.get("description")?.as_str()?.to_string())
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
