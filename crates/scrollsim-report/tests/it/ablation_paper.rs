//! The text-only ablation's agreement table and the comparison with the paper's published P,
//! on hand-made traces.

use scrollsim_core::*;
use scrollsim_report::{Published, Summary};

use crate::common::{header, step, write_trace};

use Value::*;

#[test]
fn image_and_text_only_decisions_pair_by_video() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("ablation");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    // Ten videos; image likes 1-6, text-only likes 3-8 and cannot read video 9.
    let image: Vec<Step> = (0..10)
        .map(|i| step(i, Power, (1..=6).contains(&i)))
        .collect();
    let mut text: Vec<Step> = (0..10)
        .map(|i| step(i, Power, (3..=8).contains(&i)))
        .collect();
    text[9].decision.status = ParseStatus::ParseFailure {
        detail: "rambling".into(),
    };
    write_trace(
        &run.join("sessions/family__m1__simple__keyword__s1.jsonl"),
        header("family__m1__simple__keyword__s1", "m1", 1, "keyword"),
        &image,
        true,
    );
    let mut h = header("family__m1__text-only__keyword__s1", "m1", 1, "keyword");
    h.judge.kind = JudgeKind::TextOnly;
    h.judge.strategy = "text-only".into();
    write_trace(
        &run.join("sessions/family__m1__text-only__keyword__s1.jsonl"),
        h,
        &text,
        true,
    );
    let s = Summary::of_run(&run, None, 1).unwrap();
    assert_eq!(s.ablation.len(), 1);
    let a = &s.ablation[0];
    assert_eq!(
        (a.model.as_str(), a.image_strategy.as_str()),
        ("m1", "simple")
    );
    assert_eq!(a.unreadable, 1);
    // Videos 0-8: both like 3-6 (4), image only 1-2 (2), text only 7-8 (2), both skip 0 (1).
    let g = &a.agreement;
    assert_eq!(
        (g.n, g.both_yes, g.first_only, g.second_only, g.both_no),
        (9, 4, 2, 2, 1)
    );
    assert!((g.agreement.unwrap() - 500.0 / 9.0).abs() < 1e-9);
    // pe = (6 x 6 + 3 x 3) / 81 = 45/81; kappa = (5/9 - 45/81) / (1 - 45/81) = 0.
    assert!(g.kappa.unwrap().abs() < 1e-12, "{:?}", g.kappa);
    assert_eq!(g.mcnemar_p, 1.0);
    let text: String = s.tables(0.05).iter().map(|t| t.to_terminal()).collect();
    assert!(text.contains("Image vs text-only decisions"), "{text}");
}

#[test]
fn a_run_of_a_published_model_gets_spearmans_rho_with_caveats() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("paper");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    // A keyword session of "openai/gpt-4o" (control arm) liking, out of 10 images per value,
    // as many as the paper's order implies: SD 7, UN 10, BE 9, ST 5, PO 8, AC 6 (ranks equal to
    // the paper's 78, 90, 88, 56, 80, 86 except AC and PO swapped).
    let likes = [
        (SelfDirection, 7),
        (Universalism, 10),
        (Benevolence, 9),
        (Stimulation, 5),
        (Power, 8),
        (Achievement, 6),
    ];
    let mut steps = Vec::new();
    for (v, k) in likes {
        for j in 0..10 {
            let mut s = step(steps.len() as u32, v, j < k);
            s.retrieved_for = Some(v);
            steps.push(s);
        }
    }
    let mut h = header(
        "control__gpt__plain__keyword__s1",
        "openai/gpt-4o",
        1,
        "keyword",
    );
    h.persona = None;
    write_trace(&run.join("sessions/k.jsonl"), h, &steps, true);
    let s = Summary::of_run(&run, None, 1).unwrap();
    assert_eq!(s.paper.len(), 1, "{:?}", s.paper);
    let c = &s.paper[0];
    assert_eq!(c.paper_model, "GPT-4o");
    // Ranks ours 3,6,5,1,4,2 vs paper's 2,6,5,1,3,4: d^2 = 1+0+0+0+1+4 = 6; rho = 1 - 36/210.
    let rho = c.spearman.unwrap();
    assert!((rho.rho - (1.0 - 36.0 / 210.0)).abs() < 1e-9, "{rho:?}");
    assert_eq!(rho.n, 6);
    assert!(rho.p_value.unwrap() > 0.0 && rho.p_value.unwrap() < 0.1);
    let table = scrollsim_report::paper_table(&Published::shipped(), &s.paper);
    let note = table.note.unwrap();
    assert!(
        note.contains("secondary") && note.contains("only 6 of the ten"),
        "{note}"
    );
}
