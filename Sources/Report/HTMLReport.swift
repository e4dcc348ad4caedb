import Evaluation
import Foundation
import PromptRepo

/// `git grad report`: one self-contained HTML file (inline CSS and SVG, no script, no network)
/// for a run or an experiment, read from what git holds.
public struct ReportBuilder: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    /// The report of `run`, or of the newest run on main (of `task`, when given) when nil.
    public func runReport(_ run: String?, task: String? = nil) throws -> String {
        let ledger = RunLedger(try PromptRepository.open(directory))
        let tip = try ledger.repository.mainTip()
        let selected = try ledger.repository.tasks(at: tip).select(task ?? run.flatMap { try? ledger.runManifest($0)?.task }).name
        let config = try ledger.repository.config(at: tip, task: selected)
        guard let name = try run ?? ledger.manifests().last(where: { $0.trunk == nil && $0.task == selected })?.run else {
            throw PromptRepoError.conflict("no run yet; start one with `git grad optimize`")
        }
        let record = try ledger.runRecord(name, promptPath: config.task.prompt)
        return HTMLReport.page(
            title: "git-grad run \(name)", body: HTMLReport.runSection(record, labels: labels(config, examples: record.seedExamples), heading: "h1"))
    }

    /// The report of experiment `id`: its cells' distributions and p-values, and every run.
    public func experimentReport(_ id: String) throws -> String {
        let ledger = RunLedger(try PromptRepository.open(directory))
        guard let manifest = try ledger.experiment(try ExperimentManifest.validID(id)) else {
            throw PromptRepoError.conflict("no experiment named \(id); `git grad experiment --list` lists them")
        }
        let config = try ledger.repository.config(at: try manifest.baseCommit(), task: manifest.task)
        let report = try ExperimentReport.read(manifest, from: ledger, config: config)
        let records = try report.runs.filter { $0.status != "not started" }.map { try ledger.runRecord($0.run, promptPath: config.task.prompt) }
        return HTMLReport.page(
            title: "git-grad experiment \(id)", body: HTMLReport.experimentSection(
                report, manifest: manifest, runs: records, labels: labels(config, examples: records.first?.seedExamples ?? [])))
    }

    /// The classes the per-class section shows, as `eval` and the audit see them.
    func labels(_ config: GradConfig, examples: [EvaluationNote.ExampleResult]) -> [String] {
        config.metric.classLabels(targets: examples.map(\.expected))
    }
}

enum HTMLReport {
    static let style = """
        body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1240px;color:#111827;padding:0 16px}
        h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #e5e7eb}h3{font-size:15px}
        table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}
        th{background:#f9fafb}.num{text-align:right;font-variant-numeric:tabular-nums}
        pre{background:#f9fafb;border:1px solid #e5e7eb;padding:8px;overflow-x:auto;white-space:pre-wrap}
        .add{color:#047857}.del{color:#b91c1c}.muted{color:#6b7280}
        svg.chart{display:block;margin:8px 0;max-width:100%;height:auto}
        .grid{stroke:#e5e7eb}.tick,.legend,.axis{font-size:11px;fill:#374151}
        .series{fill:none;stroke-width:2}.trunk{stroke:#111827;stroke-width:3}.edge{stroke:#9ca3af}.edge.accepted{stroke:#059669;stroke-width:2}
        .node{stroke:#fff;stroke-width:1.5}.node.accepted{fill:#059669}.node.rejected{fill:#dc2626}.node.audit{fill:#d97706}.node.open{fill:#9ca3af}
        .trunk-node{fill:#111827}.reference{stroke:#6b7280;stroke-dasharray:4 3}.mean{stroke-width:3}
        .accepted-text{color:#047857}.rejected-text{color:#b91c1c}
        """

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <meta name="generator" content="git-grad"><style>\(style)</style></head>
        <body>
        \(body)
        <p class="muted">Written by git-grad from the repository's git record (commits, trailers and notes under refs/notes/grad).</p>
        </body></html>

        """
    }

    /// An experiment: the per-cell table with p-values, distributions, and each run's scores.
    static func experimentSection(_ report: ExperimentReport, manifest: ExperimentManifest, runs: [RunRecord], labels: [String]) -> String {
        var html = "<h1>Experiment \(escape(report.experiment))</h1>"
        html += "<p>\(report.runs.count) runs: \(manifest.grid.cells.count) cells × seeds \(manifest.grid.seeds.map(String.init).joined(separator: ", ")), \(manifest.grid.steps) steps each, from <code>\(report.base.prefix(7))</code>. Each seed's run is compared with the baseline's run of the same seed on the \(escape(report.comparedSplit)) split (<b>\(escape(report.baseline))</b>): the mean difference over seeds with its 95% t interval and a sign-flip test over seeds; &ldquo;p pooled&rdquo; pools every (seed, example) pair and ignores run-to-run variance. p-values Bonferroni-corrected across \(max(1, report.cells.count - 1)) comparison(s).\(report.complete ? "" : " <b>Unfinished:</b> only finished runs are counted.")</p>"
        html += "<table><tr><th>cell</th><th>settings</th><th>runs</th><th>holdout mean ± σ</th><th>test mean ± σ</th><th>min–max (test)</th><th>Δ vs baseline over seeds [95% CI]</th><th>p seeds</th><th>p seeds (Bonferroni)</th><th>p pooled</th><th>calls/run</th><th>tokens/run</th><th>wall/run</th><th>accepted</th></tr>"
        for cell in report.cells {
            let c = cell.comparison
            html += "<tr><td>\(escape(cell.cell))</td><td>\(escape(cell.settings))</td><td class=\"num\">\(cell.runsFinished)/\(cell.runsPlanned)</td>"
            html += "<td class=\"num\">\(spread(cell.holdout))</td><td class=\"num\">\(spread(cell.test))</td>"
            html += "<td class=\"num\">\(cell.test.map { String(format: "%.3f–%.3f", $0.min, $0.max) } ?? "–")</td>"
            html += "<td class=\"num\">\(c?.seedDifferenceText ?? (cell.cell == report.baseline ? "baseline" : "–"))</td>"
            html += "<td class=\"num\">\(c?.seedPValue.map(pValue) ?? "–")</td><td class=\"num\">\(c?.seedAdjustedPValue.map(pValue) ?? "–")</td>"
            html += "<td class=\"num\">\(c.map { pValue($0.pValue) } ?? "–")</td>"
            html += "<td class=\"num\">\(cell.calls.map { String(format: "%.0f", $0) } ?? "–")</td><td class=\"num\">\(cell.tokens.map { String(format: "%.0f", $0) } ?? "–")</td>"
            html += "<td class=\"num\">\(cell.wallSeconds.map { String(format: "%.0fs", $0) } ?? "–")</td><td class=\"num\">\(cell.accepted)</td></tr>"
        }
        html += "</table>"
        let finished = report.runs.filter { $0.status == "finished" }
        let seedTest = report.runs.compactMap(\.seedTest).first, seedHoldout = report.runs.compactMap(\.seedHoldout).first
        html += "<h2>Final \(escape(report.comparedSplit)) score per cell</h2>"
        html += SVGChart.strips(
            report.cells.map { cell in (cell.cell, finished.filter { $0.cell == cell.cell }.compactMap { report.comparedSplit == "test" ? $0.finalTest : $0.finalHoldout }) },
            reference: report.comparedSplit == "test" ? seedTest : seedHoldout, axis: "\(report.comparedSplit) score (dots: seeds; bar: mean; dashed: seed prompt)")
        html += "<h2>Holdout score per step, every run</h2>"
        let cellIndex = Dictionary(manifest.grid.cells.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        let resultByRun = Dictionary(report.runs.map { ($0.run, $0) }, uniquingKeysWith: { a, _ in a })
        html += SVGChart.lines(runs.map { record in
            let cell = resultByRun[record.run]?.cell ?? ""
            return SVGChart.Series(
                name: "\(cell) s\(resultByRun[record.run]?.seed ?? 0)", color: SVGChart.palette[(cellIndex[cell] ?? 0) % SVGChart.palette.count],
                points: [(x: 0, y: record.seedHoldout)] + record.steps.map { (x: Double($0.step), y: $0.holdoutAfter) })
        }, xMax: Double(manifest.grid.steps), height: 260)
        html += "<h2>Runs</h2><table><tr><th>run</th><th>cell</th><th>seed</th><th>status</th><th>holdout</th><th>test</th><th>accepted</th><th>calls</th></tr>"
        for result in report.runs {
            html += "<tr><td><a href=\"#run-\(escape(result.run))\">\(escape(result.run))</a></td><td>\(escape(result.cell))</td><td class=\"num\">\(result.seed)</td><td>\(escape(result.status))</td>"
            html += "<td class=\"num\">\(score(result.seedHoldout)) → \(score(result.finalHoldout))</td><td class=\"num\">\(score(result.seedTest)) → \(score(result.finalTest))</td>"
            html += "<td class=\"num\">\(result.accepted)</td><td class=\"num\">\(result.calls.map(String.init) ?? "–")</td></tr>"
        }
        html += "</table>"
        for record in runs { html += runSection(record, labels: labels, heading: "h2") }
        return html
    }

    /// Recall per label: of the examples whose expected answer is the label, the share answered right.
    static func recall(_ examples: [EvaluationNote.ExampleResult], labels: [String]) -> [Double?] {
        let labelSet = LabelSet(labels)
        return labels.map { label in
            let support = examples.filter { labelSet.canonical($0.expected) == label }
            return support.isEmpty ? nil : Double(support.filter(\.correct).count) / Double(support.count)
        }
    }

    static func diffHTML(_ diff: String) -> String {
        diff.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let text = escape(String(line))
            if line.hasPrefix("+") && !line.hasPrefix("+++") { return "<span class=\"add\">\(text)</span>" }
            if line.hasPrefix("-") && !line.hasPrefix("---") { return "<span class=\"del\">\(text)</span>" }
            return text
        }.joined(separator: "\n")
    }

    static func score(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "–" }
    static func spread(_ s: Spread?) -> String { s.map { String(format: "%.3f ± %.3f", $0.mean, $0.standardDeviation) } ?? "–" }
    static func pValue(_ p: Double) -> String { p < 0.001 ? "&lt;0.001" : String(format: "%.3f", p) }
}
