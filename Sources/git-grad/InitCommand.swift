import ArgumentParser
import Foundation
import PromptRepo
import Optimizer
import Evaluation
import LLM

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a prompt repository with a first commit on main (Grad-Step: 0).")

    @Argument(help: "Directory to create (default: the current directory).")
    var directory: String?

    @Option(help: "Copy this prompt repository template (e.g. sample-repo) instead of the minimal example.")
    var from: String?

    @OptionGroup var options: RepositoryOptions

    func run() throws {
        let base = options.url
        let target = directory.map { URL(fileURLWithPath: $0, relativeTo: base).standardizedFileURL } ?? base
        let template = from.map { URL(fileURLWithPath: $0, relativeTo: base).standardizedFileURL }
        let repository = try PromptRepository.initialize(at: target, template: template)
        let tip = try repository.mainTip()
        print("Initialized prompt repository in \(target.path) (main at \(tip.short))")
    }
}
