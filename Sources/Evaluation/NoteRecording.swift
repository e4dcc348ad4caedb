import Foundation
import PromptRepo

extension PromptRepository {
    /// Records a split's outcomes in the commit's evaluation note, keeping the other splits when
    /// the note was made with the same prompt and model. `git grad eval` and the optimizer both
    /// write notes through this, so the score in a note has one definition (`meanScore`).
    @discardableResult
    public func recordEvaluation(
        _ outcomes: [ExampleOutcome], split: String, total: Int, complete: Bool = true, verdict: String? = nil,
        of commit: ObjectID, config: GradConfig
    ) throws -> EvaluationNote {
        var note = EvaluationNote.recording(
            .init(split: split, score: meanScore(outcomes), correct: outcomes.filter(\.correct).count, total: total, complete: complete,
                  examples: outcomes.map(\.noteResult)),
            in: try evaluationNote(commit), promptBlob: try promptBlob(config.task.prompt, at: commit)?.hex ?? "",
            model: .init(config.model), metric: config.metric.kind.rawValue)
        if let verdict { note.verdict = verdict }
        try writeEvaluationNote(note, on: commit)
        return note
    }
}
