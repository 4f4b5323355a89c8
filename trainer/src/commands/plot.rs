//! `alro plot`: training curves of one or more runs as an SVG — loss parts by step (left) and
//! validation NDCG@10 by step (right), one colour per run, so an ablation reads at a glance.

use anyhow::{bail, Context, Result};
use clap::Args;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct PlotArgs {
    /// Run directories (each with a metrics.jsonl written by `alro train`)
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Output SVG [default: <first run>/curves.svg]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One run's curves.
struct Curves {
    name: String,
    /// (step, loss, sft, sll, psl)
    train: Vec<(f64, f64, f64, f64, f64)>,
    /// (step, NDCG@10)
    validation: Vec<(f64, f64)>,
}

fn read(run: &Path) -> Result<Curves> {
    let path = run.join("metrics.jsonl");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut c = Curves {
        name: run
            .file_name()
            .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into()),
        train: Vec::new(),
        validation: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
        let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
        match v.get("kind").and_then(|k| k.as_str()) {
            Some("train") => c
                .train
                .push((f("step"), f("loss"), f("sft"), f("sll"), f("psl"))),
            Some("validation") => c.validation.push((f("step"), f("ndcg@10"))),
            _ => bail!("{}:{}: unknown metrics line", path.display(), n + 1),
        }
    }
    if c.train.is_empty() {
        bail!("{}: no training steps yet", path.display());
    }
    Ok(c)
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    }
}

pub fn run(args: PlotArgs) -> Result<()> {
    let runs: Vec<Curves> = args.runs.iter().map(|r| read(r)).collect::<Result<_>>()?;
    let out = args.out.unwrap_or_else(|| args.runs[0].join("curves.svg"));
    draw(&runs, &out).map_err(|e| anyhow::anyhow!("drawing {}: {e}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

fn draw(runs: &[Curves], out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(out, (1200, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let max_step = runs
        .iter()
        .flat_map(|r| r.train.iter().map(|t| t.0))
        .fold(1.0, f64::max);

    // Loss parts: solid = total, dashed-looking thinner lines for the parts.
    let (lo, hi) = range(
        runs.iter()
            .flat_map(|r| r.train.iter().flat_map(|t| [t.1, t.2, t.3, t.4])),
    );
    let mut chart = ChartBuilder::on(&left)
        .caption(
            "training loss (thick: total; thin: SFT, SLL, PSL)",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..max_step, lo.min(0.0)..hi)?;
    chart.configure_mesh().x_desc("step").draw()?;
    for (i, r) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                r.train.iter().map(|t| (t.0, t.1)),
                color.stroke_width(2),
            ))?
            .label(r.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        for part in [2usize, 3, 4] {
            let pts: Vec<(f64, f64)> = r
                .train
                .iter()
                .map(|t| (t.0, [t.2, t.3, t.4][part - 2]))
                .filter(|p| p.1 != 0.0)
                .collect();
            chart.draw_series(LineSeries::new(pts, color.mix(0.45).stroke_width(1)))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let (lo, hi) = range(runs.iter().flat_map(|r| r.validation.iter().map(|v| v.1)));
    let mut chart = ChartBuilder::on(&right)
        .caption("validation NDCG@10", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..max_step, lo..hi)?;
    chart.configure_mesh().x_desc("step").draw()?;
    for (i, r) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                r.validation.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(r.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(
            r.validation
                .iter()
                .map(|&p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
