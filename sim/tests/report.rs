//! The reports: every plot is written and decodes, `index.html` shows every plot with
//! something to show and every expectation, and a small two-point sweep runs end to end.

use std::path::Path;

mod common;
use common::{sim, write};

const PLOTS: [&str; 4] = ["convergence", "detection", "rumors", "traffic"];

const TINY: &str = r#"
name = "tiny"
seed = 5
duration = "45s"
members = 8
peers = "0"
preset = "local"
start = "converged"
[network]
one_way_delay_min = "1ms"
one_way_delay_mean = "2ms"
[[at]]
time = "10s"
action = "crash"
members = "3"
[[expect]]
kind = "detected"
members = "3"
after = "10s"
within = "30s"
[[expect]]
kind = "no_false_positives"
"#;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Decodes a PNG fully; returns its size.
fn decode_png(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{}: not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: PNG does not decode: {e}", path.display()));
    assert!(buf.iter().any(|&b| b != 255), "{}: blank", path.display());
    (info.width, info.height)
}

/// Parses an SVG as XML; returns how many `<text>` elements it has.
fn parse_svg(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("read svg");
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{}: not well-formed XML: {e}", path.display()));
    assert_eq!(
        doc.root_element().tag_name().name(),
        "svg",
        "{}",
        path.display()
    );
    doc.descendants().filter(|n| n.has_tag_name("text")).count()
}

#[test]
fn a_run_writes_every_plot_and_a_page_that_shows_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = write(dir.path(), "tiny.toml", TINY);
    let out = dir.path().join("out");
    let o = sim(&["run", s(&scenario), "--quiet", "--out", s(&out)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for name in PLOTS {
        let (w, h) = decode_png(&out.join(format!("{name}.png")));
        assert!(w >= 400 && h >= 300, "{name}.png is {w}x{h}");
        assert!(
            parse_svg(&out.join(format!("{name}.svg"))) > 0,
            "{name}.svg has no text"
        );
    }
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    for name in PLOTS {
        // A plot with something to show is on the page; an empty one is named as left out.
        let shown = html.contains(&format!("id=\"plot-{name}\""));
        assert!(
            shown || html.contains(&format!("{name} (")),
            "{name} neither on the page nor named as left out"
        );
        assert!(
            !shown || html.contains(&format!("src=\"{name}.svg\"")),
            "{name}.svg not shown"
        );
    }
    for name in ["convergence", "detection", "traffic"] {
        assert!(html.contains(&format!("id=\"plot-{name}\"")), "{name}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("summary.json");
    let expectations = summary["expectations"].as_array().expect("expectations");
    assert_eq!(expectations.len(), 2);
    assert_eq!(html.matches("<tr class=\"expectation\">").count(), 2);
    for e in expectations {
        let kind = e["kind"].as_str().expect("kind");
        let detail = e["detail"].as_str().expect("detail");
        assert!(
            html.contains(&format!("<td>{kind}</td>")),
            "{kind} not on the page"
        );
        assert!(html.contains(detail), "{detail} not on the page");
    }
    assert!(
        html.contains("action = &quot;crash&quot;"),
        "the scenario text is on the page"
    );
    assert!(!html.contains("<script"), "the page is static");
}

#[test]
fn two_point_sweep_runs_and_plots() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "tiny.toml", TINY);
    let sweep = write(
        dir.path(),
        "sweep.toml",
        "base = \"tiny.toml\"\nseeds = 2\n[[vary]]\nkey = \"members\"\nvalues = [6, 10]\n",
    );
    let out = dir.path().join("out");
    let o = sim(&["sweep", s(&sweep), "--out", s(&out)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut reader = csv::Reader::from_path(out.join("sweep.csv")).expect("sweep.csv");
    let header = reader.headers().expect("header").clone();
    for column in [
        "members",
        "seed",
        "passed",
        "detection.first_suspect.median_s",
    ] {
        assert!(header.iter().any(|h| h == column), "no {column} column");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 4, "2 points x 2 seeds");
    let points: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.get(0).unwrap_or(""), r.get(1).unwrap_or("")))
        .collect();
    assert_eq!(points, [("6", "1"), ("6", "2"), ("10", "1"), ("10", "2")]);
    for figure in [
        "detection_first_suspect_median_s",
        "messages_per_member_per_s",
    ] {
        decode_png(&out.join(format!("{figure}.png")));
        parse_svg(&out.join(format!("{figure}.svg")));
    }
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(html.contains("plot-detection_first_suspect_median_s"));
    // Each run is the same pure function of (scenario, seed) as `sim run`.
    let run_dir = out.join("runs/members=6/seed-2");
    assert!(run_dir.join("timeseries.csv").is_file());
    // … with its own page, linked from the sweep's.
    assert!(run_dir.join("index.html").is_file());
    assert!(html.contains("href=\"runs/members=6/seed-2/index.html\""));
}

#[test]
fn bad_sweep_files_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "tiny.toml", TINY);
    let cases = [
        (
            "base = \"tiny.toml\"\n[[vary]]\nkey = \"members\"\nvalues = [4]\n",
            "seeds",
        ),
        (
            "base = \"tiny.toml\"\nseeds = 1\n[[vary]]\nkey = \"members\"\nvalues = []\n",
            "vary[0].values",
        ),
        (
            "base = \"nope.toml\"\nseeds = 1\n[[vary]]\nkey = \"members\"\nvalues = [4]\n",
            "base",
        ),
        (
            "base = \"tiny.toml\"\nseeds = 1\n[[vary]]\nkey = \"members\"\nvalues = [\"x\"]\n",
            "members",
        ),
        ("base = \"tiny.toml\"\nseeds = 1\nvary = []\n", "vary"),
    ];
    for (text, key) in cases {
        let sweep = write(dir.path(), "bad.toml", text);
        let o = sim(&[
            "sweep",
            s(&sweep),
            "--quiet",
            "--out",
            s(&dir.path().join("o")),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{text}: {err}");
        assert!(err.contains(key), "{text}: {err} does not name {key}");
    }
}
