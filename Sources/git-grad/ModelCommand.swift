import ArgumentParser
import Foundation
import LLM

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "The embedded local model.", subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say what of the embedded models (task and optimizer) is installed.")

        @Flag(help: "Also check each model file's SHA-256 (reads 1.6 GB).")
        var verify = false

        func run() async throws {
            var missing: [String] = []
            for (role, model) in [("task", LocalModel.task), ("optimizer", LocalModel.optimizer)] {
                let installation = LocalModelInstallation(model: model)
                if role == "task" {
                    print("home:      \(installation.home.path)")
                    print("runtime:   \(installation.python.path) — \(installation.hasRuntime ? "installed" : "missing")")
                }
                let size = installation.modelSize.map { "\($0) bytes" } ?? "missing"
                print("\(role):\(String(repeating: " ", count: 10 - role.count))\(model.name) at \(installation.modelFile.path) — \(size)")
                if verify, installation.modelSize != nil {
                    let digest = try installation.modelDigest()
                    print("  sha256:  \(digest) — \(digest == model.sha256 ? "verified" : "MISMATCH")")
                }
                do {
                    try installation.validate()
                } catch {
                    missing.append("\(error)")
                }
            }
            guard missing.isEmpty else { throw CommandFailure(message: missing.joined(separator: "; ")) }
            print("ready: git-grad starts a local server for each model when grad.toml names no provider")
        }
    }
}
