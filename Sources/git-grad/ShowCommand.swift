import ArgumentParser
import Foundation
import PromptRepo
import Optimizer
import Evaluation
import LLM

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one step: prompt, gradient, scores and verdict.")

    @Argument(help: "The step's commit or branch.")
    var revision: String

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var options: RepositoryOptions

    struct Output: Encodable {
        let commit: String
        let subject: String
        let gradient: String
        let trailers: [String: String]
        let promptPath: String
        let prompt: String
        let evaluation: EvaluationNote?
    }

    func run() throws {
        let repository = try options.open()
        let id = try options.resolve(revision, in: repository)
        let config = try repository.config(at: id, task: options.task)
        let message = try repository.stepMessage(id)
        let prompt = (try? repository.promptText(config.task.prompt, at: id)) ?? ""
        let note = try repository.evaluationNote(id, task: config.taskName)
        let output = Output(
            commit: id.hex, subject: message.subject, gradient: message.body,
            trailers: Dictionary(message.trailers.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }),
            promptPath: config.task.prompt, prompt: prompt, evaluation: note)
        if json { return try printJSON(output) }
        let t = Terminal.standardOutput
        print("\(t.paint("commit \(id.hex)", .yellow))")
        print(t.paint(message.subject, .bold))
        for trailer in message.trailers { print("\(t.paint(trailer.key + ":", .cyan)) \(trailer.value)") }
        if !message.body.isEmpty {
            print("\n" + t.paint("Gradient", .bold))
            print(indent(message.body))
        }
        print("\n" + t.paint("Prompt (\(config.task.prompt))", .bold))
        print(indent(prompt))
        if let note {
            print(t.paint("Evaluation", .bold))
            for split in note.splits {
                let partial = split.complete ? "" : " (stopped early)"
                print("    \(split.split): \(String(format: "%.3f", split.score)) (\(split.correct)/\(split.total))\(partial)")
            }
            if let verdict = note.verdict { print("    verdict: \(verdict)") }
        }
    }
}
