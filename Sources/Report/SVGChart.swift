import Foundation
import PromptRepo

/// Inline SVG charts for the HTML report: no script, no external reference, every text escaped.
enum SVGChart {
    static let palette = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"]

    /// One line of a line chart: points at x = step; a nil y leaves a gap.
    struct Series {
        var name: String
        var color: String
        var points: [(x: Double, y: Double?)]
        var dashed = false
    }

    /// Scores (0...1) against steps.
    static func lines(_ series: [Series], xMax: Double, xLabel: String = "step", height: Double = 240) -> String {
        let width = 640.0, left = 48.0, right = 150.0, top = 16.0, bottom = 36.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        func x(_ value: Double) -> Double { left + (xMax <= 0 ? 0 : value / xMax) * plotWidth }
        func y(_ value: Double) -> Double { top + (1 - min(1, max(0, value))) * plotHeight }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" role=\"img\">"
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            svg += "<line class=\"grid\" x1=\"\(fmt(left))\" x2=\"\(fmt(left + plotWidth))\" y1=\"\(fmt(y(tick)))\" y2=\"\(fmt(y(tick)))\"/>"
            svg += "<text class=\"tick\" x=\"\(fmt(left - 6))\" y=\"\(fmt(y(tick) + 4))\" text-anchor=\"end\">\(String(format: "%.2f", tick))</text>"
        }
        for step in 0...Int(max(0, xMax)) {
            svg += "<text class=\"tick\" x=\"\(fmt(x(Double(step))))\" y=\"\(fmt(top + plotHeight + 16))\" text-anchor=\"middle\">\(step)</text>"
        }
        svg += "<text class=\"axis\" x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(height - 4))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        for (index, line) in series.enumerated() {
            let present = line.points.compactMap { point in point.y.map { (x: point.x, y: $0) } }
            if present.count > 1 {
                let path = present.map { "\(fmt(x($0.x))),\(fmt(y($0.y)))" }.joined(separator: " ")
                svg += "<polyline class=\"series\" points=\"\(path)\" stroke=\"\(line.color)\"\(line.dashed ? " stroke-dasharray=\"5 4\"" : "")/>"
            }
            for point in present {
                svg += "<circle class=\"point\" cx=\"\(fmt(x(point.x)))\" cy=\"\(fmt(y(point.y)))\" r=\"4\" fill=\"\(line.color)\">"
                svg += "<title>\(escape(line.name)) step \(fmt(point.x)): \(String(format: "%.3f", point.y))</title></circle>"
            }
            let legendY = top + 14 + Double(index) * 18
            svg += "<rect x=\"\(fmt(width - right + 14))\" y=\"\(fmt(legendY - 9))\" width=\"12\" height=\"12\" fill=\"\(line.color)\"/>"
            svg += "<text class=\"legend\" x=\"\(fmt(width - right + 32))\" y=\"\(fmt(legendY + 1))\">\(escape(String(line.name.prefix(20))))</text>"
        }
        return svg + "</svg>"
    }

    /// Grouped bars: for each label, one bar per group (e.g. seed and final recall).
    static func bars(labels: [String], groups: [(name: String, color: String, values: [Double?])]) -> String {
        let barWidth = 18.0, gap = 22.0, left = 48.0, top = 16.0, plotHeight = 160.0
        let groupWidth = Double(groups.count) * barWidth + gap
        let width = max(360, left + Double(labels.count) * groupWidth + 160), height = top + plotHeight + 44
        func y(_ value: Double) -> Double { top + (1 - min(1, max(0, value))) * plotHeight }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" role=\"img\">"
        for tick in stride(from: 0.0, through: 1.0, by: 0.5) {
            svg += "<line class=\"grid\" x1=\"\(fmt(left))\" x2=\"\(fmt(left + Double(labels.count) * groupWidth))\" y1=\"\(fmt(y(tick)))\" y2=\"\(fmt(y(tick)))\"/>"
            svg += "<text class=\"tick\" x=\"\(fmt(left - 6))\" y=\"\(fmt(y(tick) + 4))\" text-anchor=\"end\">\(String(format: "%.1f", tick))</text>"
        }
        for (index, label) in labels.enumerated() {
            let x0 = left + Double(index) * groupWidth + gap / 2
            for (groupIndex, group) in groups.enumerated() {
                guard let value = group.values[index] else { continue }
                let x = x0 + Double(groupIndex) * barWidth
                svg += "<rect class=\"bar\" x=\"\(fmt(x))\" y=\"\(fmt(y(value)))\" width=\"\(fmt(barWidth - 2))\" height=\"\(fmt(max(1, top + plotHeight - y(value))))\" fill=\"\(group.color)\">"
                svg += "<title>\(escape(label)) \(escape(group.name)): \(String(format: "%.3f", value))</title></rect>"
            }
            svg += "<text class=\"tick\" x=\"\(fmt(x0 + Double(groups.count) * barWidth / 2))\" y=\"\(fmt(top + plotHeight + 16))\" text-anchor=\"middle\">\(escape(String(label.prefix(14))))</text>"
        }
        for (index, group) in groups.enumerated() {
            let legendX = width - 140, legendY = top + 14 + Double(index) * 18
            svg += "<rect x=\"\(fmt(legendX))\" y=\"\(fmt(legendY - 9))\" width=\"12\" height=\"12\" fill=\"\(group.color)\"/>"
            svg += "<text class=\"legend\" x=\"\(fmt(legendX + 18))\" y=\"\(fmt(legendY + 1))\">\(escape(group.name))</text>"
        }
        return svg + "</svg>"
    }

    /// A node of the lineage tree.
    struct LineageNode {
        var label: String
        var detail: String
        /// accepted, rejected, audit (rejected by the prevalence audit) or open (no verdict yet).
        var state: String
    }

    /// The trunk (main or the run's branch) as a row of merge nodes, each step's candidates below
    /// it, linked from the trunk node they branched from; an accepted one links back up.
    static func lineage(trunk: String, steps: [(step: Int, candidates: [LineageNode])]) -> String {
        let column = 150.0, left = 40.0, trunkY = 34.0, rowHeight = 46.0
        let rows = max(1, steps.map(\.candidates.count).max() ?? 1)
        let width = left + column * Double(steps.count + 1) + 60, height = trunkY + 40 + Double(rows) * rowHeight
        func trunkX(_ index: Int) -> Double { left + column * Double(index) }
        var svg = "<svg class=\"chart lineage\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" role=\"img\">"
        svg += "<line class=\"trunk\" x1=\"\(fmt(trunkX(0)))\" x2=\"\(fmt(trunkX(steps.count)))\" y1=\"\(fmt(trunkY))\" y2=\"\(fmt(trunkY))\"/>"
        svg += "<text class=\"legend\" x=\"\(fmt(trunkX(0)))\" y=\"\(fmt(trunkY - 14))\">\(escape(trunk))</text>"
        for (index, step) in steps.enumerated() {
            let from = trunkX(index), to = trunkX(index + 1)
            for (row, node) in step.candidates.enumerated() {
                let nodeX = (from + to) / 2, nodeY = trunkY + 40 + Double(row) * rowHeight
                svg += "<line class=\"edge\" x1=\"\(fmt(from))\" y1=\"\(fmt(trunkY))\" x2=\"\(fmt(nodeX))\" y2=\"\(fmt(nodeY))\"/>"
                if node.state == "accepted" {
                    svg += "<line class=\"edge accepted\" x1=\"\(fmt(nodeX))\" y1=\"\(fmt(nodeY))\" x2=\"\(fmt(to))\" y2=\"\(fmt(trunkY))\"/>"
                }
                svg += "<circle class=\"node \(node.state)\" cx=\"\(fmt(nodeX))\" cy=\"\(fmt(nodeY))\" r=\"7\"><title>\(escape(node.detail))</title></circle>"
                svg += "<text class=\"tick\" x=\"\(fmt(nodeX + 11))\" y=\"\(fmt(nodeY + 4))\">\(escape(String(node.label.prefix(18))))</text>"
            }
            svg += "<circle class=\"node trunk-node\" cx=\"\(fmt(to))\" cy=\"\(fmt(trunkY))\" r=\"6\"><title>after step \(step.step)</title></circle>"
            svg += "<text class=\"tick\" x=\"\(fmt(to))\" y=\"\(fmt(trunkY - 12))\" text-anchor=\"middle\">s\(step.step)</text>"
        }
        svg += "<circle class=\"node trunk-node\" cx=\"\(fmt(trunkX(0)))\" cy=\"\(fmt(trunkY))\" r=\"6\"><title>seed</title></circle>"
        return svg + "</svg>"
    }

    /// Each cell's per-seed values as dots, with the cell's mean as a bar and the seed prompt's
    /// score as a dashed line.
    static func strips(_ cells: [(name: String, values: [Double])], reference: Double?, axis: String) -> String {
        let rowHeight = 34.0, left = 150.0, plotWidth = 420.0, top = 20.0
        let height = top + Double(cells.count) * rowHeight + 40, width = left + plotWidth + 40
        let values = cells.flatMap(\.values) + (reference.map { [$0] } ?? [])
        let low = max(0, ((values.min() ?? 0) - 0.05)), high = min(1, ((values.max() ?? 1) + 0.05))
        let span = max(0.01, high - low)
        func x(_ value: Double) -> Double { left + (value - low) / span * plotWidth }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" role=\"img\">"
        for tick in 0...4 {
            let value = low + span * Double(tick) / 4
            svg += "<line class=\"grid\" x1=\"\(fmt(x(value)))\" x2=\"\(fmt(x(value)))\" y1=\"\(fmt(top - 6))\" y2=\"\(fmt(height - 34))\"/>"
            svg += "<text class=\"tick\" x=\"\(fmt(x(value)))\" y=\"\(fmt(height - 20))\" text-anchor=\"middle\">\(String(format: "%.2f", value))</text>"
        }
        svg += "<text class=\"axis\" x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(height - 4))\" text-anchor=\"middle\">\(escape(axis))</text>"
        if let reference {
            svg += "<line class=\"reference\" x1=\"\(fmt(x(reference)))\" x2=\"\(fmt(x(reference)))\" y1=\"\(fmt(top - 6))\" y2=\"\(fmt(height - 34))\"><title>seed prompt \(String(format: "%.3f", reference))</title></line>"
        }
        for (index, cell) in cells.enumerated() {
            let rowY = top + Double(index) * rowHeight + rowHeight / 2
            let color = palette[index % palette.count]
            svg += "<text class=\"legend\" x=\"\(fmt(left - 10))\" y=\"\(fmt(rowY + 4))\" text-anchor=\"end\">\(escape(String(cell.name.prefix(22))))</text>"
            if !cell.values.isEmpty {
                let mean = cell.values.reduce(0, +) / Double(cell.values.count)
                svg += "<line class=\"mean\" x1=\"\(fmt(x(mean)))\" x2=\"\(fmt(x(mean)))\" y1=\"\(fmt(rowY - 11))\" y2=\"\(fmt(rowY + 11))\" stroke=\"\(color)\"><title>mean \(String(format: "%.3f", mean))</title></line>"
            }
            for (seedIndex, value) in cell.values.enumerated() {
                svg += "<circle class=\"point\" cx=\"\(fmt(x(value)))\" cy=\"\(fmt(rowY + Double(seedIndex % 3 - 1) * 4))\" r=\"5\" fill=\"\(color)\"><title>\(escape(cell.name)): \(String(format: "%.3f", value))</title></circle>"
            }
        }
        return svg + "</svg>"
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// Text from git, a model or a dataset, made safe for HTML: control characters dropped, markup escaped.
func escape(_ text: String) -> String {
    var result = ""
    for character in text.withoutControlCharacters {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        case "'": result += "&#39;"
        default: result.append(character)
        }
    }
    return result
}
