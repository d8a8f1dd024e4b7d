//! `inspect`'s numbers for one grouping and their tables: the overview, like-rate, exposure,
//! P and alignment change, rendered as terminal tables, CSV (one wide row per group, for pandas
//! or R), JSON (every number, with counts) or Markdown.

use std::fmt::Write as _;

use scrollsim_core::metrics::AlignmentMeasure;
use scrollsim_core::Value;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregation, GroupSummary, PairedDifference, ReadStats, BASELINE_POLICY};
use crate::central::estimate;
use crate::group::{GroupBy, GroupKey, Grouping};
use crate::stats::Interval;
use crate::table::{judge_text, mean_ci, pct, Format, Table};

/// The numbers of one grouping, ready to print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub grouping: Grouping,
    /// Whether parse failures and call errors were left out of like-rate denominators.
    pub exclude_unparsed: bool,
    pub groups: Vec<GroupSummary>,
    /// With a policy dimension: each policy's alignment change minus random's on the same
    /// seeds, per group and measure.
    pub paired: Vec<(GroupKey, PairedDifference)>,
    pub read: ReadStats,
}

impl Inspection {
    /// Grouping number `which` of an aggregation (in the order its options listed them).
    pub fn from_aggregation(agg: &Aggregation, which: usize, exclude_unparsed: bool) -> Self {
        let g = &agg.groups[which];
        Inspection {
            grouping: g.grouping.clone(),
            exclude_unparsed,
            groups: g.summaries(exclude_unparsed),
            paired: g.paired_differences(BASELINE_POLICY),
            read: agg.read.clone(),
        }
    }

    /// What judged these numbers, for titles.
    fn judge(&self) -> String {
        judge_text(&self.read.judges)
    }

    pub fn render(&self, format: Format) -> String {
        let joined = |render: fn(&Table) -> String| {
            let texts: Vec<String> = self.tables().iter().map(render).collect();
            texts.join("\n")
        };
        match format {
            Format::Table => joined(Table::to_terminal),
            Format::Md => joined(Table::to_markdown),
            Format::Csv => self.to_csv(),
            Format::Json => serde_json::to_string_pretty(self).expect("summaries serialize") + "\n",
        }
    }

    /// The tables shown in the terminal, in Markdown and in reports.
    pub fn tables(&self) -> Vec<Table> {
        let dims: Vec<String> = self
            .grouping
            .dims()
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        let codes: Vec<String> = Value::ALL.iter().map(|v| v.code().to_string()).collect();
        let keyed = |extra: &[&str], values: bool| {
            let mut h = dims.clone();
            h.extend(extra.iter().map(|s| s.to_string()));
            if values {
                h.extend(codes.iter().cloned());
            }
            h
        };
        let key = |g: &GroupSummary| g.key.0.clone();
        let denominators = if self.exclude_unparsed {
            "Parse failures and call errors are left out of the denominators."
        } else {
            "Parse failures and call errors count as skips, as in the paper."
        };

        // With a policy dimension, what each feed learned from (dwell, likes, both; '-' for a
        // feed that learns nothing), as in the central table.
        let by_policy = self.grouping.dims().contains(&GroupBy::Policy);
        let learns = |g: &GroupSummary| {
            g.signal.as_deref().map_or_else(
                || "-".to_string(),
                |s| s.strip_prefix("feedback: ").unwrap_or(s).to_string(),
            )
        };
        let overview = Table {
            id: "overview",
            title: format!("Overview by {} ({})", self.grouping, self.judge()),
            note: Some(format!(
                "{} traces, {} steps read{}. Steering: like-rate on the persona's own values \
                 minus like-rate on the others, points, mean ± 95 % CI across sessions. failed: \
                 sessions that ended in error.",
                self.read.traces,
                self.read.steps,
                read_problems(&self.read)
            )),
            header: keyed(
                &[
                    &["learns from"][..by_policy as usize],
                    &[
                        "sessions",
                        "seeds",
                        "steps",
                        "likes",
                        "like %",
                        "steering",
                        "parse fail",
                        "call err",
                        "failed",
                    ][..],
                ]
                .concat(),
                false,
            ),
            rows: self
                .groups
                .iter()
                .map(|g| {
                    let mut r = key(g);
                    if by_policy {
                        r.push(learns(g));
                    }
                    r.extend([
                        g.sessions.to_string(),
                        g.seeds.to_string(),
                        g.steps.to_string(),
                        g.likes.to_string(),
                        pct(g.like_rate_overall),
                        mean_ci(g.steering.as_ref()),
                        g.parse_failures.to_string(),
                        g.call_errors.to_string(),
                        g.failed_sessions.to_string(),
                    ]);
                    r
                })
                .collect(),
        };

        // One row per group: its keys, then one cell per value.
        let per_value =
            |id, title: &str, note: String, cells: &dyn Fn(&GroupSummary) -> Vec<String>| Table {
                id,
                title: format!("{title} ({})", self.judge()),
                note: Some(note),
                header: keyed(&[], true),
                rows: self
                    .groups
                    .iter()
                    .map(|g| {
                        let mut r = key(g);
                        r.extend(cells(g));
                        r
                    })
                    .collect(),
            };
        let like = per_value(
            "like_rate",
            "Like-rate per value (%)",
            format!("Likes / videos labelled with the value. {denominators} '-': never shown."),
            &|g| g.like_rate.values().iter().map(|x| pct(*x)).collect(),
        );
        let exposure = per_value(
            "exposure",
            "Exposure share per value (%)",
            "Share of the steps that showed a video labelled with the value; a video with two \
             labels counts for both, so rows may sum above 100."
                .into(),
            &|g| {
                g.exposure_share
                    .values()
                    .iter()
                    .map(|x| pct(Some(*x)))
                    .collect()
            },
        );

        let p =
            Table {
                id: "preference",
                title: format!("Preference score P(value) and spread ({})", self.judge()),
                note: Some(format!(
                    "P = 100 x likes / images for the value; keyword runs group by the value each \
                 image was retrieved for (the paper's table), other policies by the videos' \
                 labels ('over'). Second row: Wilson 95 % interval of each P. std: population \
                 std of the ten P (low = balanced), with a percentile bootstrap 95 % interval \
                 over videos ({} replicates, each value's videos resampled). noise floor: the \
                 mean std (and its 95th percentile) of a simulated value-neutral judge liking \
                 every video at the group's overall like-rate, with the same denominators: only \
                 a std above it says anything about preferences. {denominators}",
                    crate::stats::BOOTSTRAP_REPLICATES
                )),
                header: {
                    let mut h = keyed(&["over"], true);
                    h.extend(["std", "std 95 % CI", "noise floor (p95)"].map(String::from));
                    h
                },
                rows: self
                    .groups
                    .iter()
                    .flat_map(|g| {
                        let mut r = key(g);
                        r.push(g.p_attribution.name().into());
                        r.extend(g.preference.p.values().iter().map(|x| pct(*x)));
                        r.push(pct(g.preference.std));
                        r.push(interval(g.p_std_ci95.as_ref()));
                        r.push(g.p_std_floor.map_or_else(
                            || "-".into(),
                            |f| format!("{:.1} ({:.1})", f.mean, f.p95),
                        ));
                        let mut ci = vec![String::new(); g.key.0.len()];
                        ci.push("95 % CI".into());
                        ci.extend(g.p_ci95.values().iter().map(|x| interval(x.as_ref())));
                        ci.extend([String::new(), String::new(), String::new()]);
                        [r, ci]
                    })
                    .collect(),
            };

        let mut align_rows = Vec::new();
        for g in &self.groups {
            for a in &g.alignment {
                let mut r = key(g);
                r.extend([
                    a.measure.name().to_string(),
                    format!("{}/{}", a.complete, a.sessions),
                    pct(a.first.map(|m| m.mean)),
                    pct(a.last.map(|m| m.mean)),
                    estimate(a.bootstrap.as_ref()),
                    mean_ci(a.points.as_ref()),
                    mean_ci(a.percent.as_ref()),
                ]);
                align_rows.push(r);
            }
        }
        let windows = "first window vs last window of each session (the paper: first 50 vs last \
                       50 after about 100)";
        let align = Table {
            id: "alignment",
            title: format!("Alignment change ({})", self.judge()),
            note: Some(format!(
                "{windows}; only sessions whose two windows are full count (n = \
                 complete/sessions). change: mean over sessions [hierarchical bootstrap 95 % \
                 interval: sessions, then the videos of each window; aligned_exposure and \
                 like_rate]; ± t: the same mean ± Student-t 95 % half-width across sessions; \
                 change (%): the paper's relative change. aligned_exposure: share of videos with \
                 one of the persona's values; like_rate: likes; trait_match_rate: videos \
                 matching a persona trait."
            )),
            header: keyed(
                &[
                    "measure",
                    "n",
                    "first %",
                    "last %",
                    "change (pts)",
                    "change ± t",
                    "change (%)",
                ],
                false,
            ),
            rows: align_rows,
        };
        let mut tables = vec![overview, like, exposure, p, align];
        if !self.paired.is_empty() {
            tables.push(Table {
                id: "paired",
                title: format!(
                    "Paired difference against {BASELINE_POLICY} ({})",
                    self.judge()
                ),
                note: Some(format!(
                    "The group's alignment change minus the change of the {BASELINE_POLICY} group \
                     with the same other keys, pairing sessions with the same persona, model, \
                     strategy and seed (both with full windows); points, mean [95 % interval \
                     {}] and ± Student-t across pairs.",
                    crate::stats::PAIRED_INTERVAL
                )),
                header: keyed(
                    &["measure", "pairs", "difference (pts)", "difference ± t"],
                    false,
                ),
                rows: self
                    .paired
                    .iter()
                    .map(|(k, d)| {
                        let mut r = k.0.clone();
                        r.extend([
                            d.measure.name().to_string(),
                            d.difference.map_or(0, |e| e.n).to_string(),
                            estimate(d.difference.as_ref()),
                            mean_ci(d.t.as_ref()),
                        ]);
                        r
                    })
                    .collect(),
            });
        }
        tables
    }

    /// One wide CSV row per group; the `judged_by` column names what judged every row (the
    /// offline persona model's label says it is not a VLM).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = self
            .grouping
            .dims()
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        header.extend(
            [
                "judged_by",
                "sessions",
                "failed_sessions",
                "seeds",
                "steps",
                "likes",
                "like_rate",
                "parse_failures",
                "call_errors",
            ]
            .map(String::from),
        );
        for prefix in ["like_rate", "exposure", "p", "p_lo", "p_hi"] {
            header.extend(Value::ALL.iter().map(|v| format!("{prefix}_{}", v.code())));
        }
        header.extend(
            [
                "p_std",
                "p_std_lo",
                "p_std_hi",
                "p_std_floor",
                "p_std_floor_p95",
                "p_over",
            ]
            .map(String::from),
        );
        for m in AlignmentMeasure::ALL {
            for col in [
                "complete",
                "first",
                "last",
                "points",
                "points_ci95",
                "points_lo",
                "points_hi",
                "percent",
                "percent_ci95",
            ] {
                header.push(format!("{}_{col}", m.name()));
            }
        }
        header.extend(["steering_points", "steering_ci95", "steering_n"].map(String::from));
        w.write_record(&header).expect("in-memory write");
        let num = |x: Option<f64>| x.map(|x| format!("{x:.4}")).unwrap_or_default();
        let judged_by = self.read.judges.join("; ");
        for g in &self.groups {
            let mut r = g.key.0.clone();
            r.extend([
                judged_by.clone(),
                g.sessions.to_string(),
                g.failed_sessions.to_string(),
                g.seeds.to_string(),
                g.steps.to_string(),
                g.likes.to_string(),
                num(g.like_rate_overall),
                g.parse_failures.to_string(),
                g.call_errors.to_string(),
            ]);
            r.extend(g.like_rate.values().iter().map(|x| num(*x)));
            r.extend(g.exposure_share.values().iter().map(|x| num(Some(*x))));
            r.extend(g.preference.p.values().iter().map(|x| num(*x)));
            r.extend(g.p_ci95.values().iter().map(|x| num(x.map(|i| i.lo))));
            r.extend(g.p_ci95.values().iter().map(|x| num(x.map(|i| i.hi))));
            r.push(num(g.preference.std));
            r.push(num(g.p_std_ci95.map(|i| i.lo)));
            r.push(num(g.p_std_ci95.map(|i| i.hi)));
            r.push(num(g.p_std_floor.map(|f| f.mean)));
            r.push(num(g.p_std_floor.map(|f| f.p95)));
            r.push(g.p_attribution.name().into());
            for a in &g.alignment {
                let boot = a.bootstrap.and_then(|b| b.ci95);
                r.push(a.complete.to_string());
                r.push(num(a.first.map(|m| m.mean)));
                r.push(num(a.last.map(|m| m.mean)));
                r.push(num(a.points.map(|m| m.mean)));
                r.push(num(a.points.and_then(|m| m.ci95)));
                r.push(num(boot.map(|i| i.lo)));
                r.push(num(boot.map(|i| i.hi)));
                r.push(num(a.percent.map(|m| m.mean)));
                r.push(num(a.percent.and_then(|m| m.ci95)));
            }
            r.push(num(g.steering.map(|m| m.mean)));
            r.push(num(g.steering.and_then(|m| m.ci95)));
            r.push(g.steering.map(|m| m.n.to_string()).unwrap_or_default());
            w.write_record(&r).expect("in-memory write");
        }
        String::from_utf8(w.into_inner().expect("in-memory flush")).expect("CSV of UTF-8 strings")
    }
}

fn read_problems(r: &ReadStats) -> String {
    let mut s = String::new();
    if r.unfinished > 0 {
        let _ = write!(s, "; {} unfinished session(s) included", r.unfinished);
    }
    if r.truncated_lines > 0 {
        let _ = write!(s, "; {} truncated last line(s) left out", r.truncated_lines);
    }
    if !r.skipped.is_empty() {
        let _ = write!(s, "; {} malformed trace(s) LEFT OUT", r.skipped.len());
    }
    s
}

/// `66.3-89.0`, '-' when undefined.
fn interval(i: Option<&Interval>) -> String {
    i.map_or_else(|| "-".into(), |i| format!("{:.1}-{:.1}", i.lo, i.hi))
}
