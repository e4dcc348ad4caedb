import Evaluation
import Foundation
import Optimizer

/// How `check --against` shows a regression check: both versions side by side, the examples that
/// flipped, and the verdict the preservation rule gives.
enum RegressionTable {
    static func render(_ result: RegressionCheck.Result, model: String, terminal t: Terminal) -> String {
        let base = result.baseStatistics, head = result.headStatistics
        if result.unchanged {
            return "holdout: \(result.head.short) against \(result.base.short): the prompt is unchanged, nothing to evaluate\n"
                + "verdict: " + t.paint(result.verdict.text, result.passed ? .green : .red)
        }
        var lines = [t.paint("holdout: \(result.head.short) against \(result.base.short) — \(model) — \(base.total) examples", .bold)]
        let width = max(16, (base.classes.map(\.label.count).max() ?? 0) + 8)
        func row(_ name: String, _ a: Double?, _ b: Double?) {
            guard let a, let b else { return }
            let change = b - a
            let mark = abs(change) < 0.0005 ? "" : change > 0 ? t.paint(String(format: "  +%.3f", change), .green) : t.paint(String(format: "  %.3f", change), .red)
            lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "%7.3f  %7.3f", a, b) + mark)
        }
        lines.append("".padding(toLength: width, withPad: " ", startingAt: 0) + "   base     head")
        row("score", base.score, head.score)
        row("balanced acc.", base.balancedAccuracy, head.balancedAccuracy)
        let headRecall = Dictionary(head.classes.map { ($0.label, $0.recall) }, uniquingKeysWith: { a, _ in a })
        for c in base.classes where c.support > 0 { row("recall \(c.label)", c.recall, headRecall[c.label]) }

        let fixed = result.flips.filter(\.improved), broken = result.flips.filter { !$0.improved }
        lines.append("")
        lines.append("flipped: \(fixed.count) fixed, \(broken.count) broken")
        // Every broken example matters more than the fixed ones; long lists are cut (--json has all).
        for (flips, shown) in [(broken, 20), (fixed, 10)] {
            for flip in flips.prefix(shown) {
                let kind = flip.improved ? t.paint("fixed ", .green) : t.paint("broken", .red)
                lines.append("  \(kind)  \(flip.id)  expected \(quote(flip.expected)); base said \(quote(flip.baseOutput)), head says \(quote(flip.headOutput))")
            }
            if flips.count > shown { lines.append("  … and \(flips.count - shown) more (--json lists every flip)") }
        }
        lines.append("")
        if let significance = result.verdict.significance { lines.append("test: \(significance.summary)") }
        lines.append("verdict: " + t.paint(result.verdict.text, result.passed ? .green : .red))
        if let audit = result.verdict.audit { lines.append("prevalence audit: \(audit.verdictText)") }
        return lines.joined(separator: "\n")
    }

    /// Model output on one short line.
    static func quote(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return "\"" + (line.count > 40 ? String(line.prefix(39)) + "…" : line) + "\""
    }

    struct Output: Encodable {
        struct Flip: Encodable {
            let id: String
            let expected: String
            let base: String
            let head: String
            let improved: Bool
        }

        let base: String
        let head: String
        /// `not-worse` (the regression gate) or `as-step`.
        let question: String
        let unchanged: Bool
        let passed: Bool
        let verdict: String
        let regressions: Int
        let improvements: Int
        let prevalence: String?
        let test: String?
        let pValue: Double?
        let alpha: String?
        let baseStatistics: SplitStatistics
        let headStatistics: SplitStatistics
        let flips: [Flip]

        init(_ result: RegressionCheck.Result, asStep: Bool) {
            base = result.base.hex
            head = result.head.hex
            question = asStep ? "as-step" : "not-worse"
            unchanged = result.unchanged
            test = result.verdict.significance?.test
            pValue = result.verdict.significance?.p
            alpha = result.verdict.significance?.level
            passed = result.passed
            verdict = result.verdict.text
            regressions = result.verdict.tally.regressions
            improvements = result.verdict.tally.improvements
            prevalence = result.verdict.audit?.verdictText
            baseStatistics = result.baseStatistics
            headStatistics = result.headStatistics
            flips = result.flips.map { Flip(id: $0.id, expected: $0.expected, base: $0.baseOutput, head: $0.headOutput, improved: $0.improved) }
        }
    }
}
