//! What several test files share: the scripted participants (`mod common;` in each).

/// Two scripted participants' trials on one stimulus list, as the page records them: each
/// answers every stimulus right but for one digit, which they call 7.
pub fn scripted_people() -> (
    microlearning::human::StimulusDesign,
    microlearning::human::StimulusList,
    Vec<(&'static str, Vec<microlearning::human::TrialRecord>)>,
) {
    use microlearning::data::{DataSplit, Task};
    use microlearning::human::{
        ObserverKind, StimulusDesign, TrialRecord, build_list, templates_from_list,
    };
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let test = DataSplit::load_task(&data, Task::Mnist).unwrap().test;
    let design = StimulusDesign {
        noise_levels: vec![0.0, 0.5],
        durations_ms: vec![Some(100), None],
        ..StimulusDesign::new(Task::Mnist, 11)
    };
    let list = build_list(&design, &test).unwrap();
    let people = [("alice", 1u8), ("bob", 4u8)]
        .into_iter()
        .map(|(id, wrong)| {
            let trials: Vec<TrialRecord> = templates_from_list(&list)
                .into_iter()
                .map(|t| {
                    let response = if t.label == wrong { 7 } else { t.label };
                    TrialRecord {
                        participant_id: id.into(),
                        session_id: format!("session-{id}"),
                        observer_kind: ObserverKind::Human,
                        rt: Some(700.0),
                        measured_duration_ms: t.requested_duration_ms,
                        response,
                        correct: response == t.label,
                        ..t
                    }
                })
                .collect();
            (id, trials)
        })
        .collect();
    (design, list, people)
}
