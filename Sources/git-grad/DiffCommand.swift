import ArgumentParser
import Foundation
import PromptRepo
import Optimizer
import Evaluation
import LLM

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "Diff the prompt between two versions, with their scores and the examples that flipped.")

    @Argument(help: "The older version.")
    var a: String

    @Argument(help: "The newer version (default: main).")
    var b: String = "main"

    @Flag(help: "Show changed words inline instead of changed lines.")
    var wordDiff = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var options: RepositoryOptions

    func run() throws {
        let repository = try options.open()
        let idA = try options.resolve(a, in: repository)
        let idB = try options.resolve(b, in: repository)
        let config = try repository.config(at: idB, task: options.task)
        let comparison = try repository.compare(idA, idB, config: config)
        if json { return try printJSON(comparison) }
        let t = Terminal.standardOutput
        if wordDiff {
            print(t.paint("prompt \(comparison.promptPath): \(idA.short)..\(idB.short)", .bold))
            print(WordDiff.pieces(old: comparison.oldText, new: comparison.newText).map { piece -> String in
                switch piece {
                case .same(let text): return text
                case .removed(let text): return t.colored ? t.paint(text, .red) : "[-\(text)-]"
                case .added(let text): return t.colored ? t.paint(text, .green) : "{+\(text)+}"
                }
            }.joined())
        } else if comparison.patch.isEmpty {
            print("prompt \(comparison.promptPath) is the same in \(idA.short) and \(idB.short)")
        } else {
            print(t.patch(comparison.patch), terminator: comparison.patch.hasSuffix("\n") ? "" : "\n")
        }
        print("")
        print(t.paint("Scores", .bold))
        for key in Set(comparison.trailerScoresA.keys).union(comparison.trailerScoresB.keys).sorted() {
            let a = comparison.trailerScoresA[key] ?? "-", b = comparison.trailerScoresB[key] ?? "-"
            print("    \(key) trailer:  \(idA.short) \(a)  |  \(idB.short) \(b)")
        }
        if comparison.splits.isEmpty {
            print("    no evaluation notes on both versions; run `git grad eval` on each to compare examples")
        }
        for split in comparison.splits {
            print(String(format: "    %@: %.3f -> %.3f  (%d right->wrong, %d wrong->right)",
                         split.split, split.scoreA, split.scoreB, split.regressions.count, split.improvements.count))
            for flip in split.regressions {
                print(t.paint("      - \(flip.id): expected \(flip.expected), was \(oneLine(flip.before)), now \(oneLine(flip.after))", .red))
            }
            for flip in split.improvements {
                print(t.paint("      + \(flip.id): expected \(flip.expected), was \(oneLine(flip.before)), now \(oneLine(flip.after))", .green))
            }
        }
    }

    func oneLine(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 60 ? String(line.prefix(59)) + "…" : line
    }
}
