import ArgumentParser
import Foundation
import PromptRepo

/// `git grad label`: deployment labels with a history that travels with push and clone.
struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Name prompt versions for deployment (production, staging); every move is recorded.",
        subcommands: [Set.self, List.self, Show.self, Log.self, Remove.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Point a label at a prompt version.")

        @Argument(help: "The label's name (letters, digits, '-', '_', '.').")
        var name: String
        @Argument(help: "The prompt version (default: main).")
        var revision: String = "main"
        @Option(name: .shortAndLong, help: "Why it moves (kept in the label's history).")
        var message: String = ""
        @Option(help: ArgumentHelp(
            "Move only if the label still points at <rev> ('none': only if it does not exist).", valueName: "rev"))
        var expect: String?
        @OptionGroup var options: RepositoryOptions

        func run() throws {
            let repository = try options.open()
            let target = try options.resolve(revision, in: repository)
            let expected: Labels.Expectation = try expect.map {
                $0 == "none" ? .nothing : .version(try options.resolve($0, in: repository))
            } ?? .anything
            guard let move = try Labels(repository, task: options.taskName(in: repository)).set(name, to: target, expecting: expected, reason: message) else {
                return print("label \(name) already points at \(target.short)")
            }
            print("label \(name): \(move.previousTarget?.short ?? "none") -> \(target.short)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the labels and the versions they point at.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var options: RepositoryOptions

        func run() throws {
            let repository = try options.open()
            let moves = try Labels(repository, task: options.taskName(in: repository)).list()
            if json { return try printJSON(moves.map(MoveOutput.init)) }
            let width = moves.map(\.label.count).max() ?? 0
            for move in moves {
                let target = move.target!
                let subject = (try? repository.commitSummary(target)) ?? ""
                print("\(move.label.padding(toLength: width, withPad: " ", startingAt: 0))  \(target.short)  \(subject)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what a label points at, who moved it last and why, and its scores.")
        @Argument var name: String
        @OptionGroup var options: RepositoryOptions

        func run() throws {
            let repository = try options.open()
            let task = try options.taskName(in: repository)
            guard let move = try Labels(repository, task: task).history(name, limit: 1).first, let target = move.target else {
                throw PromptRepoError.label("label \(name) was removed; `git grad label log \(name)` shows its history")
            }
            let t = Terminal.standardOutput
            print(t.paint("label \(name)", .bold) + " -> " + t.paint(target.short, .yellow) + "  " + (try repository.commitSummary(target)))
            print("moved by \(move.movedBy.name) <\(move.movedBy.email)> on \(LabelCommand.date(move.movedBy))"
                + " from \(move.previousTarget?.short ?? "none")")
            if !move.reason.isEmpty { print("why: \(move.reason)") }
            for split in try repository.evaluationNote(target, task: task)?.splits ?? [] {
                print("\(split.split): \(String(format: "%.3f", split.score)) (\(split.correct)/\(split.total))")
            }
        }
    }

    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every move of a label, newest first.")
        @Argument var name: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var options: RepositoryOptions

        func run() throws {
            let moves = try Labels(try options.open()).history(name)
            if json { return try printJSON(moves.map(MoveOutput.init)) }
            for move in moves {
                let reason = move.reason.isEmpty ? "" : "  \(move.reason.split(separator: "\n").first ?? "")"
                print("\(LabelCommand.date(move.movedBy))  \(move.previousTarget?.short ?? "none") -> \(move.target?.short ?? "none")"
                    + "  \(move.movedBy.name) <\(move.movedBy.email)>\(reason)")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Stop using a label; its history is kept.")
        @Argument var name: String
        @Option(name: .shortAndLong, help: "Why it is removed.") var message: String = ""
        @OptionGroup var options: RepositoryOptions

        func run() throws {
            let repository = try options.open()
            guard let move = try Labels(repository, task: options.taskName(in: repository)).remove(name, reason: message) else {
                return print("label \(name) was already removed")
            }
            print("label \(name) removed (was \(move.previousTarget?.short ?? "none"))")
        }
    }

    struct MoveOutput: Encodable {
        let label: String
        let target: String?
        let from: String?
        let reason: String
        let movedBy: String
        let date: String

        init(_ move: LabelMove) {
            label = move.label
            target = move.target?.hex
            from = move.previousTarget?.hex
            reason = move.reason
            movedBy = "\(move.movedBy.name) <\(move.movedBy.email)>"
            date = LabelCommand.date(move.movedBy)
        }
    }

    static func date(_ signature: Signature) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: signature.timeZoneOffsetMinutes * 60)
        return formatter.string(from: signature.time)
    }
}
