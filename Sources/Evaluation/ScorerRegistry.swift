import Foundation
import LLM
import PromptRepo

extension MetricSettings {
    /// The one registration point of metrics: the scorer grad.toml's `[metric]` asks for. A new
    /// metric is a case of `MetricSettings.Kind` (with its keys in `GradConfig.readMetric`), a
    /// `Scorer`, and a line here.
    public func makeScorer(judge: LLMClient, root: URL, judgeTemperature: Double = 0) -> any Scorer {
        switch kind {
        case .exact: return ExactScorer(caseSensitive: caseSensitive)
        case .choice: return ChoiceScorer(labels: labels, caseSensitive: caseSensitive)
        case .number: return NumberScorer(tolerance: tolerance)
        case .regex: return RegexScorer(pattern: pattern ?? "", caseSensitive: caseSensitive)
        case .contains: return ContainsScorer(caseSensitive: caseSensitive, labels: labels)
        case .judge:
            return JudgeScorer(client: judge, rubric: rubric ?? "", scale: judgeScale, passThreshold: passThreshold, temperature: judgeTemperature)
        case .command: return CommandScorer(command: command, workingDirectory: root, passThreshold: passThreshold)
        case .evaluators: return EvaluatorsScorer(evaluators: evaluators, judge: judge, temperature: judgeTemperature)
        }
    }
}
