import ArgumentParser
import Foundation
import PromptRepo

/// `git grad blame`: which step (or which person) wrote each line of the prompt, and why.
struct BlameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blame",
        abstract: "Each prompt line with the step that wrote it (run, step, operator, merge, gradient) or the commit that edited it.")

    @Argument(help: "The prompt file (default: grad.toml's prompt).")
    var prompt: String?

    @Option(help: ArgumentHelp("The version to blame (default: main).", valueName: "rev"))
    var rev: String = "main"

    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var options: RepositoryOptions

    struct Output: Encodable {
        let line: Int
        let text: String
        let commit: String
        let run: String?
        let step: Int?
        let operatorName: String?
        let mergedBy: String?
        let gradient: String?
        let summary: String?
        let author: String?

        enum CodingKeys: String, CodingKey {
            case line, text, commit, run, step, operatorName = "operator", mergedBy, gradient, summary, author
        }
    }

    func run() throws {
        let repository = try options.open()
        let revision = try options.resolve(rev, in: repository)
        let path = try prompt ?? repository.config(at: revision, task: options.task).task.prompt
        let lines = try repository.blame(path: path, at: revision)
        if json {
            return try printJSON(lines.map { line -> Output in
                switch line.origin {
                case .step(let run, let step, let op, let merge, let gradient):
                    return Output(line: line.number, text: line.text, commit: line.commit.hex, run: run, step: step, operatorName: op,
                                  mergedBy: merge?.hex, gradient: gradient, summary: nil, author: nil)
                case .commit(let summary, let author):
                    return Output(line: line.number, text: line.text, commit: line.commit.hex, run: nil, step: nil, operatorName: nil,
                                  mergedBy: nil, gradient: nil, summary: summary, author: author)
                }
            })
        }
        let t = Terminal.standardOutput
        let labels = lines.map { Self.label($0.origin) }
        let width = min(40, labels.map(\.count).max() ?? 0)
        let digits = String(lines.count).count
        for (line, label) in zip(lines, labels) {
            let shown = label.count > width ? String(label.prefix(width - 1)) + "…" : label.padding(toLength: width, withPad: " ", startingAt: 0)
            let number = String(line.number).leftPadded(to: digits)
            print("\(t.paint(line.commit.short, .yellow)) \(t.paint(shown, .cyan)) \(number)│ \(line.text)")
        }
        // Each step once, with what it was told and where it was merged.
        var seen = Set<ObjectID>()
        let steps = lines.filter { if case .step = $0.origin { return seen.insert($0.commit).inserted } else { return false } }
        guard !steps.isEmpty else { return }
        print("")
        for line in steps {
            guard case .step(let run, let step, let op, let merge, let gradient) = line.origin else { continue }
            let merged = merge.map { "merged in \($0.short)" } ?? "not on this version's first-parent history"
            print("\(t.paint(line.commit.short, .yellow)) run \(run), step \(step)\(op.map { " (\($0))" } ?? ""): \(merged)")
            if let first = gradient.split(whereSeparator: \.isNewline).first {
                print("    gradient: \(first.count > 100 ? String(first.prefix(99)) + "…" : String(first))")
            }
        }
    }

    static func label(_ origin: LineOrigin) -> String {
        switch origin {
        case .step(_, let step, let op, _, _): return "step \(step)" + (op.map { " \($0)" } ?? "")
        case .commit(let summary, let author): return "\(author): \(summary)"
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
