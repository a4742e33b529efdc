//! The run page and the sweep page, opened in headless Chromium and checked for what a person
//! sees: the verdict and the headline first, every plot image loaded, the expectations and the
//! grouped summary after them, nothing fetched from the network, no console errors, a PDF
//! when printed. Screenshots go to `target/tmp/pages/`. Without a Chromium the tests say so
//! and pass (see `browser::launch_or_skip`).

mod browser;

use std::path::{Path, PathBuf};
use std::process::Command;

use browser::{file_url, Browser};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// A fresh output folder for one test under `target/tmp/pages/`.
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("pages")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the output folder");
    dir
}

fn sim(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run the sim binary");
    assert_eq!(
        o.status.code(),
        Some(0),
        "sim {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The checks every page gets: each image loaded, nothing but local files fetched, no scripts
/// from anywhere, no errors in the console.
fn assert_loaded_offline(b: &mut Browser, what: &str) -> Vec<(String, u64)> {
    let images = b.images();
    for (src, width) in &images {
        assert!(*width > 0, "{what}: image {src} did not load");
    }
    let remote = b
        .eval(
            "performance.getEntriesByType('resource').map(e => e.name)\
             .filter(n => !n.startsWith('file:'))",
        )
        .expect("resources");
    assert_eq!(
        remote,
        Value::Array(vec![]),
        "{what}: fetched from the network"
    );
    let scripts = b
        .eval("document.querySelectorAll('script[src], link[rel=stylesheet]').length")
        .expect("scripts");
    assert_eq!(scripts, 0, "{what}: loads scripts or style sheets");
    let errors = b.errors();
    assert!(errors.is_empty(), "{what}: console errors: {errors:#?}");
    images
}

/// The top of each element, in page order of `ids`.
fn tops(b: &mut Browser, ids: &[&str]) -> Vec<f64> {
    ids.iter()
        .map(|id| {
            b.eval(&format!(
                "(() => {{ const e = document.getElementById('{id}'); \
                 return e ? e.getBoundingClientRect().top + window.scrollY : -1; }})()"
            ))
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(-1.0)
        })
        .collect()
}

/// Tick and label texts of an SVG plot.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read svg");
    let doc = roxmltree::Document::parse(&text).expect("well-formed svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

#[test]
fn the_readme_run_page_reads_top_down_in_a_browser() {
    let dir = out_dir("run");
    let Some(mut b) = browser::launch_or_skip("run page", &dir.join("chromium")) else {
        return;
    };
    let out = dir.join("partition_heal");
    sim(&[
        "run",
        "scenarios/partition_heal.toml",
        "--quiet",
        "--out",
        s(&out),
    ]);
    b.viewport(1100, 900, false).expect("viewport");
    b.open(&file_url(&out.join("index.html"))).expect("open");

    assert_eq!(b.text("#verdict"), "passed");
    let headline = b.text("#headline");
    assert!(
        headline.contains("re-merged") && headline.contains("after the heal at 2 min 30 s"),
        "the headline says when the halves re-merged: {headline}"
    );
    assert!(
        headline.contains("No live member was falsely Confirmed"),
        "{headline}"
    );
    let order = tops(
        &mut b,
        &["headline", "plots", "expectations", "summary", "scenario"],
    );
    assert!(
        order.iter().all(|t| *t >= 0.0) && order.windows(2).all(|w| w[0] < w[1]),
        "headline, plots, expectations, summary, scenario in that order: {order:?}"
    );

    let images = assert_loaded_offline(&mut b, "run page");
    let srcs: Vec<&str> = images.iter().map(|(s, _)| s.as_str()).collect();
    // Nobody crashes and nothing is rumored: those plots are left out, the rest are shown.
    assert_eq!(
        srcs,
        ["convergence.svg", "traffic.svg"],
        "plots on the page"
    );
    let note = b.text("#plots .note");
    assert!(
        note.contains("detection") && note.contains("rumors"),
        "{note}"
    );
    // The convergence plot has no empty panel: nobody is dead, so two panels, not three.
    let height = b
        .eval("document.querySelector('#plot-convergence img').naturalHeight")
        .expect("height");
    assert_eq!(height, 546, "two panels of 273 px");

    for (id, shown) in [
        ("summary-detection", false),
        ("summary-false-alarms", true),
        ("summary-traffic", true),
        ("summary-rumors", false),
        ("summary-elections", false),
        ("summary-run", true),
    ] {
        let found = b
            .eval(&format!("!!document.getElementById('{id}')"))
            .expect("eval");
        assert_eq!(found, Value::Bool(shown), "{id}");
    }
    let traffic = b.text("#summary-traffic");
    assert!(traffic.contains("datagram (SWIM)"), "{traffic}");
    let flat = b
        .eval("!!document.querySelector('#summary a[href=\"summary.json\"]')")
        .expect("eval");
    assert_eq!(flat, Value::Bool(true), "summary.json one click away");

    // Axis ticks in readable units: no tick is a bare number of four digits or more.
    for plot in ["convergence", "traffic"] {
        let texts = svg_texts(&out.join(format!("{plot}.svg")));
        let long: Vec<&String> = texts
            .iter()
            .filter(|t| {
                t.len() >= 4
                    && t.chars()
                        .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            })
            .collect();
        assert!(long.is_empty(), "{plot}.svg has raw ticks {long:?}");
        assert!(
            texts.iter().any(|t| t.ends_with(" s")),
            "{plot}: time ticks in s"
        );
    }

    b.screenshot(&dir.join("run.png")).expect("screenshot");
    b.screenshot_viewport(&dir.join("run-top.png"))
        .expect("screenshot");
    let pdf = b.print_pdf().expect("print");
    assert!(pdf.starts_with(b"%PDF"), "prints to a PDF");
    b.call(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"media": "print"}),
    )
    .expect("print media");
    let nav = b
        .eval("getComputedStyle(document.querySelector('nav')).display")
        .expect("eval");
    assert_eq!(nav, "none", "the navigation is not printed");
    eprintln!("screenshots in {}", dir.display());
}

#[test]
fn the_sweep_page_plots_against_the_parameter_and_links_every_run() {
    let dir = out_dir("sweep");
    let Some(mut b) = browser::launch_or_skip("sweep page", &dir.join("chromium")) else {
        return;
    };
    std::fs::copy(
        repo().join("scenarios/sweeps/lossy.toml"),
        dir.join("lossy.toml"),
    )
    .expect("copy the base scenario");
    let sweep = dir.join("loss.toml");
    std::fs::write(
        &sweep,
        "base = \"lossy.toml\"\nseeds = 2\nset = [\"duration=40s\"]\n[[vary]]\n\
         key = \"network.loss_probability\"\nvalues = [0.0, 0.1, 0.2]\n",
    )
    .expect("write the sweep file");
    let out = dir.join("out");
    sim(&["sweep", s(&sweep), "--quiet", "--out", s(&out)]);
    b.viewport(1100, 900, false).expect("viewport");
    b.open(&file_url(&out.join("index.html"))).expect("open");

    assert_eq!(b.text("#verdict"), "every run passed");
    let headline = b.text("#headline");
    assert!(
        headline.contains("network.loss_probability over 0.0, 0.1, 0.2"),
        "{headline}"
    );
    let images = assert_loaded_offline(&mut b, "sweep page");
    assert!(images.len() >= 5, "figures on the page: {images:?}");
    assert!(
        images
            .iter()
            .any(|(src, _)| src == "false_suspicions_per_probe.svg"),
        "{images:?}"
    );
    let overlay = svg_texts(&out.join("false_suspicions_per_probe.svg"));
    assert!(
        overlay.iter().any(|t| t.starts_with("SWIM")),
        "the analytic overlay is drawn: {overlay:?}"
    );
    let order = tops(&mut b, &["headline", "figures", "runs"]);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");

    let links = b
        .eval("Array.from(document.querySelectorAll('#runs tr.run a')).map(a => a.getAttribute('href'))")
        .expect("links");
    let links: Vec<String> = links
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert_eq!(links.len(), 6, "3 points x 2 seeds: {links:?}");
    for link in &links {
        assert!(out.join(link).is_file(), "{link} is not written");
    }
    b.screenshot(&dir.join("sweep.png")).expect("screenshot");
    b.screenshot_viewport(&dir.join("sweep-top.png"))
        .expect("screenshot");

    // A person follows the first link and lands on that run's own page.
    b.open(&file_url(&out.join(&links[0]))).expect("open a run");
    assert_eq!(b.text("#verdict"), "passed");
    assert!(!b.text("#headline").is_empty());
    let run_images = assert_loaded_offline(&mut b, "a run of the sweep");
    assert!(!run_images.is_empty());
    eprintln!("screenshots in {}", dir.display());
}
