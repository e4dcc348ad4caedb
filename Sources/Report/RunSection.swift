import Evaluation
import Foundation
import PromptRepo

/// One run's section of the report, part by part in the order they show.
extension HTMLReport {
    /// One run: scores per step, lineage, per-class recall, and the accepted steps' gradients and diffs.
    static func runSection(_ record: RunRecord, labels: [String], heading: String) -> String {
        runHeader(record, heading: heading) + scoreChart(record) + lineage(record) + classRecall(record, labels: labels)
            + acceptedSteps(record) + "</section>"
    }

    /// The run's settings and its seed and final scores.
    static func runHeader(_ record: RunRecord, heading: String) -> String {
        let m = record.manifest
        let html = "<section class=\"run\" id=\"run-\(escape(record.run))\"><\(heading)>Run \(escape(record.run))</\(heading)>"
            + "<p>\(escape(m.search.trailerText)) · seed \(m.search.seed) · \(m.search.steps) steps · task model \(escape(m.taskModel)) · optimizer \(escape(m.optimizerModel)) · merges into <code>\(escape(record.trunk))</code> · \(escape(m.ended == nil ? "unfinished" : m.outcome ?? "finished"))</p>"
        let rows = [("holdout", record.seedHoldout, record.finalHoldout), ("test", record.seedTest, record.finalTest)]
        return html + "<table><tr><th></th><th>seed prompt</th><th>final prompt</th></tr>"
            + rows.map { "<tr><td>\($0.0)</td><td class=\"num\">\(score($0.1))</td><td class=\"num\">\(score($0.2))</td></tr>" }.joined()
            + "</table>"
    }

    /// Holdout, train batch and test score per step.
    static func scoreChart(_ record: RunRecord) -> String {
        var html = "<h3>Score per step</h3>"
        let lastStep = Double(record.steps.map(\.step).max() ?? 1)
        let holdout = [(x: 0.0, y: record.seedHoldout)] + record.steps.map { (x: Double($0.step), y: $0.holdoutAfter) }
        let train = record.steps.map { (x: Double($0.step), y: $0.trainBatch) }
        var series = [
            SVGChart.Series(name: "holdout", color: SVGChart.palette[0], points: holdout),
            SVGChart.Series(name: "train batch", color: SVGChart.palette[1], points: train, dashed: true),
        ]
        if record.seedTest != nil || record.finalTest != nil {
            series.append(SVGChart.Series(name: "test", color: SVGChart.palette[2], points: [(x: 0, y: record.seedTest), (x: lastStep, y: record.finalTest)]))
        }
        html += SVGChart.lines(series, xMax: lastStep)
        html += "<p class=\"muted\">train batch: the minibatch score of the prompt each step started from; holdout: the trunk after the step; test: seed and final prompt.</p>"
        return html
    }

    /// Every candidate of every step with its verdict, as a tree and a table.
    static func lineage(_ record: RunRecord) -> String {
        var html = "<h3>Lineage</h3>"
        html += SVGChart.lineage(trunk: record.trunk, steps: record.steps.map { step in
            (step.step, step.candidates.map { candidate in
                let state = candidate.verdict == nil ? "open" : candidate.accepted ? "accepted"
                    : (candidate.prevalence?.contains("collapse") == true && candidate.verdict?.contains("prevalence") == true) ? "audit" : "rejected"
                return SVGChart.LineageNode(
                    label: "v\(candidate.variant) \(candidate.operatorName) \(candidate.holdout.map { String(format: "%.3f", $0) } ?? "")",
                    detail: "s\(step.step)v\(candidate.variant) [\(candidate.operatorName)] \(candidate.summary) — \(candidate.verdict ?? "no verdict")",
                    state: state)
            })
        })
        html += "<p class=\"muted\">green: merged · red: rejected · orange: rejected by the prevalence audit · grey: no verdict yet</p>"
        html += "<table><tr><th>step</th><th>variant</th><th>operator</th><th>holdout</th><th>test</th><th>prevalence</th><th>verdict</th><th>summary</th></tr>"
        for step in record.steps {
            for candidate in step.candidates {
                html += "<tr><td>\(step.step)</td><td>v\(candidate.variant) <code>\(candidate.commit.prefix(7))</code></td><td>\(escape(candidate.operatorName))</td>"
                html += "<td class=\"num\">\(score(candidate.holdout))</td><td>\(escape(candidate.test ?? "–"))</td>"
                html += "<td>\(escape(candidate.prevalence ?? "–"))</td>"
                html += "<td class=\"\(candidate.accepted ? "accepted-text" : "rejected-text")\">\(escape(candidate.verdict ?? "–"))</td><td>\(escape(candidate.summary))</td></tr>"
            }
        }
        html += "</table>"
        let judged = record.steps.flatMap(\.candidates).filter { $0.holdout != nil }.count
        html += "<p class=\"muted\">The holdout judged \(judged) candidates of this run: the final holdout score was selected on it and "
            + "reads high; the test score is the unbiased figure.</p>"
        return html
    }

    /// Per-class recall of the seed and final prompts on the holdout set.
    static func classRecall(_ record: RunRecord, labels: [String]) -> String {
        var html = "<h3>Per-class recall on the holdout set</h3>"
        if labels.isEmpty {
            html += "<p class=\"muted\">The metric has no classes; no per-class recall.</p>"
        } else {
            let before = recall(record.seedExamples, labels: labels), after = recall(record.finalExamples, labels: labels)
            html += SVGChart.bars(labels: labels, groups: [("seed", SVGChart.palette[5], before), ("final", SVGChart.palette[2], after)])
            html += "<table><tr><th>class</th><th>seed</th><th>final</th></tr>" + labels.indices.map { index in
                "<tr><td>\(escape(labels[index]))</td><td class=\"num\">\(score(before[index]))</td><td class=\"num\">\(score(after[index]))</td></tr>"
            }.joined() + "</table>"
        }
        return html
    }

    /// Each merged step's gradient and prompt diff.
    static func acceptedSteps(_ record: RunRecord) -> String {
        var html = "<h3>Accepted steps</h3>"
        let merges = record.steps.compactMap { step in step.merge.map { (step.step, $0) } }
        if merges.isEmpty { html += "<p class=\"muted\">No step was accepted; every candidate stays on its branch.</p>" }
        for (step, merge) in merges {
            html += "<h4 id=\"\(escape(record.run))-s\(step)\">\(escape(merge.subject)) <span class=\"muted\">(\(escape(merge.operatorName)), holdout \(score(merge.holdoutBefore)) → \(score(merge.holdoutAfter)), <code>\(merge.commit.prefix(7))</code>)</span></h4>"
            html += "<p>Gradient / feedback:</p><pre>\(escape(merge.gradient))</pre>"
            html += "<p>Prompt diff:</p><pre>\(diffHTML(merge.diff))</pre>"
        }
        return html
    }
}
