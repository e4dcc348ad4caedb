import Foundation

// Helpers shared by the test targets: temporary folders, running programs (the real git CLI, the
// built git-grad) and reading files back.

/// The package root: the nearest folder above this file that holds Package.swift.
public let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        url = url.deletingLastPathComponent()
    }
    fatalError("Package.swift not found above \(#filePath)")
}()

/// sample-repo/ as it is: two tasks (`[tasks.router]`, `[tasks.reviews]`).
public let sampleRepoWithTasks = packageRoot.appendingPathComponent("sample-repo")

/// sample-repo/ with its router task alone, in the one-`[task]` form grad.toml had before tasks
/// had names: what most tests drive, and proof that such a file still means one task.
public let sampleRepo: URL = {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("git-grad-sample-router-\(getpid())", isDirectory: true)
    try? FileManager.default.removeItem(at: copy)
    try! FileManager.default.copyItem(at: sampleRepoWithTasks, to: copy)
    try! FileManager.default.removeItem(at: copy.appendingPathComponent("prompts/reviews.prompt.yml"))
    var config = try! String(contentsOf: copy.appendingPathComponent("grad.toml"), encoding: .utf8)
    if let reviews = config.range(of: "\n[tasks.reviews]") { config = String(config[..<reviews.lowerBound]) + "\n" }
    if let router = config.range(of: "[tasks.router]\n") {
        config = "# git-grad prompt repository: route Brightwave support messages to one of five queues.\n"
            + "# The queue names do not explain themselves; RULES.md has the rules a good prompt must teach.\n\n"
            + config[router.lowerBound...]
    }
    config = config.replacingOccurrences(of: "[tasks.router.metric]", with: "[metric]").replacingOccurrences(of: "[tasks.router]", with: "[task]")
    try! config.write(to: copy.appendingPathComponent("grad.toml"), atomically: true, encoding: .utf8)
    return copy
}()

/// A temporary directory removed when the value goes away.
public final class TemporaryDirectory {
    public let url: URL
    public init(prefix: String = "git-grad-tests") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A fresh directory under the system temporary directory, removed when the test body returns.
public func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    return try withExtendedLifetime(directory) { try body(directory.url) }
}

public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// A program that exited with a failure status.
public struct ProcessFailure: Error, CustomStringConvertible {
    public let command: String
    public let result: ProcessResult
    public init(command: String, result: ProcessResult) {
        self.command = command
        self.result = result
    }
    public var description: String { "\(command) failed (\(result.status)): \(result.stderr)" }
}

/// Runs a program; stdout and stderr go to temporary files so that large outputs cannot deadlock.
public func runProcess(_ executable: String, _ arguments: [String], in directory: URL, stdin: String? = nil,
                       environment extra: [String: String] = [:]) throws -> ProcessResult {
    let scratch = try TemporaryDirectory(prefix: "proc")
    let outURL = scratch.url.appendingPathComponent("out"), errURL = scratch.url.appendingPathComponent("err")
    let inURL = scratch.url.appendingPathComponent("in")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: inURL.path, contents: Data((stdin ?? "").utf8))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    var environment = ProcessInfo.processInfo.environment
    for (key, value) in extra { environment[key] = value }
    process.environment = environment
    let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)
    let inHandle = try FileHandle(forReadingFrom: inURL)
    process.standardOutput = outHandle
    process.standardError = errHandle
    process.standardInput = inHandle
    try process.run()
    process.waitUntilExit()
    try outHandle.close(); try errHandle.close(); try inHandle.close()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Runs the real git CLI with a fixed identity and no system or global configuration.
@discardableResult
public func runGit(_ arguments: [String], in directory: URL, stdin: String? = nil) throws -> ProcessResult {
    try runProcess("/usr/bin/git", arguments, in: directory, stdin: stdin, environment: [
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_PAGER": "cat", "PAGER": "cat", "LC_ALL": "C",
    ])
}

/// Runs git, throwing when it fails, and returns its standard output.
@discardableResult
public func git(_ arguments: [String], in directory: URL, stdin: String? = nil) throws -> String {
    let result = try runGit(arguments, in: directory, stdin: stdin)
    guard result.status == 0 else { throw ProcessFailure(command: "git \(arguments.joined(separator: " "))", result: result) }
    return result.stdout
}

@discardableResult
public func git(_ arguments: String..., in directory: URL, stdin: String? = nil) throws -> String {
    try git(arguments, in: directory, stdin: stdin)
}

/// Writes a file in the working tree, creating parent directories.
public func writeFile(_ text: String, _ path: String, in directory: URL) throws {
    let url = directory.appendingPathComponent(path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
}

public func readFile(_ path: String, in directory: URL) throws -> String {
    String(decoding: try Data(contentsOf: directory.appendingPathComponent(path)), as: UTF8.self)
}

/// The non-empty lines of a program's output.
public func lines(_ text: String) -> [String] {
    text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
}
