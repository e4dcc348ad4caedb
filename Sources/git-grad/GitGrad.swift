import ArgumentParser
import Foundation
import PromptRepo
import LLM
import Evaluation
import Optimizer

/// `git-grad`: the command-line face of the library. Commands parse, call the library, print.
@main
struct GitGrad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git-grad",
        abstract: "Optimize the prompts in a git repository, with every step recorded in git.",
        version: "0.1.0",
        subcommands: [
            InitCommand.self, EvalCommand.self, OptimizeCommand.self, LogCommand.self, ShowCommand.self, DiffCommand.self,
            RevertCommand.self, CheckCommand.self, RunsCommand.self, ExperimentCommand.self, ReportCommand.self, ModelCommand.self,
            LabelCommand.self, BlameCommand.self, BisectCommand.self, PushCommand.self, PullCommand.self, RemoteCommand.self,
            CompletionCommand.self,
        ])

    /// Runs the command and turns every error into one line on stderr and a non-zero exit.
    static func main() async {
        // Piped output (CI logs, `| tee`) should show each step as it happens.
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot(applyingDirectoryOptions(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if let (message, code) = ErrorReport.line(for: error) { fail(message, code: code) }
            // Help and --version exit cleanly with their text; usage errors get one line.
            if exitCode(for: error) == .success { exit(withError: error) }
            let firstLine = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail("\(firstLine.replacingOccurrences(of: "Error: ", with: "")) (see git-grad --help)", code: exitCode(for: error).rawValue)
        }
    }

    /// git takes `-C DIR` before the subcommand (`git grad -C repo label list`) and means "run as
    /// if started in DIR"; so does git-grad, at any depth of subcommands: leading `-C DIR` pairs
    /// change the working directory (each relative to the one before, as git's) and are removed.
    /// `-C` after a subcommand name stays that command's option.
    static func applyingDirectoryOptions(_ arguments: [String]) throws -> [String] {
        var rest = arguments[...]
        while rest.count >= 2, rest.first == "-C" {
            let path = rest[rest.startIndex + 1]
            guard FileManager.default.changeCurrentDirectoryPath(path) else {
                throw CommandFailure(message: "-C \(path): cannot change to that directory (no such directory, or not one)")
            }
            rest = rest.dropFirst(2)
        }
        return Array(rest)
    }

    static func fail(_ message: String, code: Int32 = 1) -> Never {
        // A progress bar left on the line is cleared first, so the error stays one clean line.
        let clear = isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[2K" : ""
        writeStandardError("\(clear)git-grad: error: \(terminalText(message))\n")
        Foundation.exit(code)
    }
}

/// An error the command layer raises itself, with the exit code to use.
struct CommandFailure: Error {
    let message: String
    var exitCode: Int32 = 1
}

/// `-C DIR`, as git has it: run as if started in DIR.
struct RepositoryOptions: ParsableArguments {
    @Option(name: .customShort("C"), help: ArgumentHelp("Run as if git-grad was started in <dir>.", valueName: "dir"))
    var directory: String?

    var url: URL {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        guard let directory else { return cwd }
        return URL(fileURLWithPath: directory, relativeTo: cwd).standardizedFileURL
    }

    func open() throws -> PromptRepository {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CommandFailure(message: "\(url.path): no such directory")
        }
        return try PromptRepository.open(url)
    }

    @Option(help: ArgumentHelp(
        "The task, by its [tasks.NAME] name or its prompt's path, when grad.toml has several.", valueName: "name"))
    var task: String?

    /// Resolves a revision (labels included, the task's own), naming it in the error when it does not exist.
    func resolve(_ revision: String, in repository: PromptRepository) throws -> ObjectID {
        // Labels are the selected task's; with several tasks and none selected, the plain ones.
        try repository.resolveRevision(revision, task: (try? taskName(in: repository)) ?? nil)
    }

    /// The selected task's name (nil for a `[task]` file), read from main's grad.toml, else the working tree's.
    func taskName(in repository: PromptRepository) throws -> String? {
        let tasks = try repository.tasks(at: try? repository.mainTip())
        return try tasks.select(task).name
    }
}
