//! `quiver-bench report`: the summary tables from the JSON lines that `load`,
//! `floor` and `materialize` appended (`--out`), with Feast's published figures
//! and the targets beside them.

use std::path::Path;

use crate::materialize::MaterializeResult;
use crate::stats::ServeResult;

/// Feast's published p99 for a shape, as quoted by the issue.
fn feast_reference(entities: usize, features: usize) -> &'static str {
    match (entities, features) {
        (1, 50) => "Java 1.13 ms, Python ~7 ms",
        (100, 50) => "Go 22 ms, Java 93 ms",
        _ => "-",
    }
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

pub fn run(dir: &Path) -> crate::Result<()> {
    let mut serve: Vec<ServeResult> = Vec::new();
    let mut mats: Vec<MaterializeResult> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for file in files {
        for line in std::fs::read_to_string(&file)?.lines() {
            let value: serde_json::Value = serde_json::from_str(line)?;
            match value["kind"].as_str() {
                Some("serve") => serve.push(serde_json::from_value(value)?),
                Some("materialize") => mats.push(serde_json::from_value(value)?),
                _ => {}
            }
        }
    }
    print_serving(&serve);
    print_materialize(&mats);
    print_targets(&serve, &mats);
    Ok(())
}

/// The quiver and floor results of one (shape, mode), in the order run.
fn pairs(serve: &[ServeResult]) -> Vec<(&ServeResult, Option<&ServeResult>)> {
    serve
        .iter()
        .filter(|r| r.target == "quiver")
        .map(|q| {
            let floor = serve.iter().find(|f| {
                f.target == "floor"
                    && f.mode == q.mode
                    && f.entities == q.entities
                    && f.features == q.features
                    && f.concurrency == q.concurrency
                    && f.rate == q.rate
            });
            (q, floor)
        })
        .collect()
}

fn mode_label(r: &ServeResult) -> String {
    match r.rate {
        Some(rate) => format!("{rate} req/s, ≤{} conns", r.concurrency),
        None => format!("saturation, {} workers", r.concurrency),
    }
}

fn print_serving(serve: &[ServeResult]) {
    if serve.is_empty() {
        return;
    }
    println!(
        "Online lookups: quiver serve (HTTP, Redis store) vs the floor (the same reads on Redis directly). Latencies in ms."
    );
    println!();
    println!(
        "| shape | load | quiver p50 | quiver p99 | quiver p99.9 | quiver max | quiver req/s | errors | floor p50 | floor p99 | floor req/s | p99 quiver/floor | Feast p99 (published) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (q, floor) in pairs(serve) {
        let (fp50, fp99, ftput, ratio) = match floor {
            Some(f) => (
                ms(f.p50_us),
                ms(f.p99_us),
                format!("{:.0}", f.throughput),
                format!("{:.2}", q.p99_us as f64 / f.p99_us.max(1) as f64),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let errors = q.errors + floor.map_or(0, |f| f.errors);
        println!(
            "| {}x{} | {} | {} | {} | {} | {} | {:.0} | {errors} | {fp50} | {fp99} | {ftput} | {ratio} | {} |",
            q.entities,
            q.features,
            mode_label(q),
            ms(q.p50_us),
            ms(q.p99_us),
            ms(q.p999_us),
            ms(q.max_us),
            q.throughput,
            if q.rate.is_some() {
                feast_reference(q.entities, q.features)
            } else {
                ""
            }
        );
    }
    if let Some(q) = serve.iter().find(|r| r.target == "quiver") {
        println!();
        println!(
            "Features spread over views: {} for {}x{} (see each run for its spread). Errors count non-200 answers and NOT_FOUND/OUTSIDE_MAX_AGE values, quiver and floor together.",
            q.spread, q.entities, q.features
        );
    }
    println!();
}

fn print_materialize(mats: &[MaterializeResult]) {
    if mats.is_empty() {
        return;
    }
    println!(
        "Materialization (quiver-store in process; online rows = latest row per entity and view):"
    );
    println!();
    println!(
        "| repo | store | entities | views × features | source rows | offline s | online rows | online s | online rows/s | feature values/s | total s | source rows/s end to end | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for m in mats {
        println!(
            "| {} | {} | {} | {} × {} | {} | {:.2} | {} | {:.2} | {:.0} | {:.1}M | {:.2} | {:.0} | {:.0} |",
            m.tag,
            m.store,
            m.online_rows / m.views.max(1) as u64,
            m.views,
            m.features_per_view,
            m.source_rows,
            m.offline_seconds,
            m.online_rows,
            m.online_seconds,
            m.online_rows_per_sec,
            m.online_values_per_sec / 1e6,
            m.total_seconds,
            m.source_rows as f64 / m.total_seconds.max(1e-9),
            m.peak_rss_mib
        );
    }
    println!();
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn print_targets(serve: &[ServeResult], mats: &[MaterializeResult]) {
    println!("Targets (latency targets at the fixed rate, Feast's conditions):");
    println!();
    println!("| target | measured | |");
    println!("|---|---|---|");
    let rated = |e: usize, f: usize| {
        serve.iter().find(|r| {
            r.target == "quiver" && r.rate.is_some() && r.entities == e && r.features == f
        })
    };
    for (e, f, limit_ms) in [(1, 50, 1.0), (100, 50, 5.0)] {
        if let Some(r) = rated(e, f) {
            let p99 = r.p99_us as f64 / 1000.0;
            println!(
                "| {e}x{f} p99 ≤ {limit_ms} ms | {p99:.3} ms | {} |",
                verdict(p99 <= limit_ms && r.errors == 0)
            );
        }
    }
    let wide: Vec<&ServeResult> = serve
        .iter()
        .filter(|r| r.target == "quiver" && r.entities == 100 && r.features == 250)
        .collect();
    if !wide.is_empty() {
        let ok: u64 = wide.iter().map(|r| r.ok).sum();
        let errors: u64 = wide.iter().map(|r| r.errors).sum();
        println!(
            "| 100x250 served without errors | {ok} ok, {errors} errors | {} |",
            verdict(errors == 0 && ok > 0)
        );
    }
    for (q, floor) in pairs(serve) {
        if let (Some(_), Some(f)) = (q.rate, floor) {
            let ratio = q.p99_us as f64 / f.p99_us.max(1) as f64;
            println!(
                "| {}x{} p99 quiver/floor ≤ 2 | {ratio:.2} ({} / {} ms) | {} |",
                q.entities,
                q.features,
                ms(q.p99_us),
                ms(f.p99_us),
                verdict(ratio <= 2.0)
            );
        }
    }
    for m in mats.iter().filter(|m| m.store == "redis") {
        println!(
            "| materialization ≥ 1M rows/s into Redis ({} repo, {} online rows) | {:.0} online rows/s ({:.0} source rows/s end to end) | {} |",
            m.tag,
            m.online_rows,
            m.online_rows_per_sec,
            m.source_rows as f64 / m.total_seconds.max(1e-9),
            verdict(m.online_rows_per_sec >= 1e6)
        );
    }
    for store in ["embedded", "redis"] {
        let sizes: Vec<&MaterializeResult> = mats
            .iter()
            .filter(|m| m.store == store && m.tag == "scaling")
            .collect();
        if let (Some(small), Some(large)) = (
            sizes.iter().min_by_key(|m| m.source_rows),
            sizes.iter().max_by_key(|m| m.source_rows),
        ) && large.source_rows > small.source_rows
        {
            println!(
                "| {store}: peak memory bounded by the batch, not the table | {:.0} MiB at {} rows, {:.0} MiB at {} rows ({:.1}× the table, {:.2}× the memory) | |",
                small.peak_rss_mib,
                small.source_rows,
                large.peak_rss_mib,
                large.source_rows,
                large.source_rows as f64 / small.source_rows.max(1) as f64,
                large.peak_rss_mib / small.peak_rss_mib.max(1e-9)
            );
        }
    }
    println!();
}
