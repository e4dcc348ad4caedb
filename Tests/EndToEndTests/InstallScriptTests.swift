import Foundation
import Testing
import TestSupport

/// The install script's verification step, run for real on small files: a model whose hash or
/// size is wrong is refused, deleted and never put where git-grad would load it.
@Suite struct InstallScriptTests {
    let script = packageRoot.appendingPathComponent("scripts/lib/verify-model.sh").path

    func assembled(_ text: String, in directory: URL) throws -> URL {
        let file = directory.appendingPathComponent("model.gguf.partial")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test func aWrongHashIsRefused() throws {
        let directory = try TemporaryDirectory()
        let file = try assembled("not the optimizer model", in: directory.url)
        let destination = directory.url.appendingPathComponent("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
        let result = try runProcess("/bin/bash", [
            script, file.path, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "23", destination.path,
        ], in: directory.url)
        #expect(result.status != 0)
        #expect(result.stderr.contains("sha256 is"))
        #expect(result.stderr.contains("refusing to install it"))
        #expect(!FileManager.default.fileExists(atPath: destination.path))
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test func aWrongSizeIsRefusedAndTheRightFileInstalled() throws {
        let directory = try TemporaryDirectory()
        let text = "tiny model"
        let sha = "f5b5e7a2f4f1e0a8e6d2c1fb6a9b2f08a6f5d2b0f1e9c6f0b5a1e2d3c4b5a6f7"
        let destination = directory.url.appendingPathComponent("m.gguf")
        let wrongSize = try runProcess("/bin/bash", [script, try assembled(text, in: directory.url).path, sha, "999", destination.path],
                                       in: directory.url)
        #expect(wrongSize.status != 0)
        #expect(wrongSize.stderr.contains("expected 999"))
        #expect(!FileManager.default.fileExists(atPath: destination.path))

        let realSHA = try runProcess("/usr/bin/sha256sum", [try assembled(text, in: directory.url).path], in: directory.url)
            .stdout.split(separator: " ").first.map(String.init) ?? ""
        let ok = try runProcess("/bin/bash", [script, try assembled(text, in: directory.url).path, realSHA, String(text.utf8.count), destination.path],
                                in: directory.url)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try String(contentsOf: destination, encoding: .utf8) == text)
    }
}
