import ArgumentParser
import Foundation
import Report

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML file (inline SVG, no network) showing a run or an experiment.")

    @Option(help: "The run to show (default: the newest run on main).") var run: String?
    @Option(help: "The experiment to show.") var experiment: String?
    @Option(name: .shortAndLong, help: "The HTML file to write.") var output: String

    @OptionGroup var options: RepositoryOptions

    func validate() throws {
        if run != nil, experiment != nil { throw ValidationError("give --run or --experiment, not both") }
    }

    func run() async throws {
        let repository = try options.open()
        let builder = ReportBuilder(directory: repository.root)
        let html = if let experiment { try builder.experimentReport(experiment) } else { try builder.runReport(run, task: options.task) }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let url = URL(fileURLWithPath: output, relativeTo: cwd)
        do {
            try Data(html.utf8).write(to: url, options: .atomic)
        } catch {
            throw CommandFailure(message: "\(output): cannot write the report (\((error as NSError).localizedDescription)); pick a writable path with -o")
        }
        print("wrote \(output) (\(html.utf8.count / 1024) KB); open it in a browser")
    }
}
