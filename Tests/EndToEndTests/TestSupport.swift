import Foundation
@_exported import TestSupport
import Testing

/// The built command: `$GIT_GRAD_BIN`, else `.build/debug/git-grad` in the package.
let gitGradBinary: String = {
    if let override = ProcessInfo.processInfo.environment["GIT_GRAD_BIN"], !override.isEmpty { return override }
    return packageRoot.appendingPathComponent(".build/debug/git-grad").path
}()

/// Runs the built git-grad.
@discardableResult
func runGrad(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> ProcessResult {
    try #require(FileManager.default.isExecutableFile(atPath: gitGradBinary),
                 "git-grad is not built at \(gitGradBinary); run `swift build` or set GIT_GRAD_BIN")
    return try runProcess(gitGradBinary, arguments, in: directory, environment: environment)
}

/// Runs git-grad and requires it to succeed, returning its standard output.
@discardableResult
func grad(_ arguments: String..., in directory: URL, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    try grad(arguments, in: directory, sourceLocation: sourceLocation)
}

@discardableResult
func grad(_ arguments: [String], in directory: URL, environment: [String: String] = [:],
          sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let result = try runGrad(arguments, in: directory, environment: environment)
    try #require(result.status == 0, "git-grad \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)",
                 sourceLocation: sourceLocation)
    return result.stdout
}

/// `git commit -qam MESSAGE` with a fixed identity.
func commitAll(_ repo: URL, _ message: String = "Edit") throws {
    try git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", message, in: repo)
}

/// `git-grad init <repo> --from sample-repo`, then the test body with the new repository.
func withSampleRepository<T>(_ body: (URL) throws -> T) throws -> T {
    try withTemporaryDirectory { temp in
        let repo = temp.appendingPathComponent("prompts-repo")
        try grad("init", repo.path, "--from", sampleRepo.path, in: temp)
        return try body(repo)
    }
}

/// Every reference, the object counts and the porcelain status: what a failed command must
/// leave unchanged.
func repositoryState(_ repo: URL) throws -> String {
    let status = try git("status", "--porcelain", in: repo)
    let refs = try git("for-each-ref", "--format=%(refname) %(objectname)", in: repo)
    let objects = try git("count-objects", "-v", in: repo)
    return "refs:\n" + refs + "objects:\n" + objects + "status:\n" + status
}
