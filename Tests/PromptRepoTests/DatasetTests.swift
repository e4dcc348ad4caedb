import Foundation
import PromptRepo
import Testing

@Suite("Datasets")
struct DatasetTests {
    let loader = DatasetLoader(inputFields: ["message"], targetField: "label", idField: "id")

    func parse(_ text: String, file: String = "data/train.jsonl", loader: DatasetLoader? = nil) throws -> [Example] {
        try (loader ?? self.loader).parse(Data(text.utf8), file: file)
    }

    @Test("JSONL rows become examples with ids, string fields and their source line; blank lines are skipped")
    func jsonl() throws {
        let text = """
        {"id": "a", "message": "Hello", "label": "desk", "n": 3, "ok": true, "meta": {"k": [1, 2]}, "none": null}

        {"id": "b", "message": "Bye", "label": "field", "score": 0.5}
        """
        let examples = try parse(text)
        #expect(examples.map(\.id) == ["a", "b"])
        #expect(examples[0].target == "desk")
        #expect(examples[0].fields["message"] == "Hello")
        #expect(examples[0].fields["n"] == "3")
        #expect(examples[0].fields["ok"] == "true")
        #expect(examples[0].fields["meta"] == "{\"k\":[1,2]}")
        #expect(examples[0].fields["none"] == nil)
        #expect(examples[1].fields["score"] == "0.5")
        #expect(examples[0].source == "data/train.jsonl:1")
        #expect(examples[1].source == "data/train.jsonl:3")
    }

    @Test("without an id field the id is file name and line")
    func lineIDs() throws {
        let loader = DatasetLoader(inputFields: ["message"], targetField: "label", idField: nil)
        let examples = try parse("{\"message\": \"x\", \"label\": \"y\"}\n\n{\"message\": \"z\", \"label\": \"w\"}\n", loader: loader)
        #expect(examples.map(\.id) == ["train.jsonl:1", "train.jsonl:3"])
    }

    @Test("a line that is not JSON is an error naming file and line")
    func notJSON() throws {
        let text = "{\"id\": \"a\", \"message\": \"x\", \"label\": \"y\"}\n{\"id\": \"b\", \"message\": oops}\n"
        let error = #expect(throws: PromptRepoError.self) { try parse(text) }
        #expect(error?.datasetLine?.file == "data/train.jsonl")
        #expect(error?.datasetLine?.line == 2)
        #expect(error?.description.hasPrefix("data/train.jsonl:2: ") == true)
        #expect(error?.description.contains("JSON") == true)

        let array = #expect(throws: PromptRepoError.self) { try parse("[1, 2]\n") }
        #expect(array?.datasetLine?.line == 1)
    }

    @Test("a missing field is an error naming the field and the line")
    func missingField() throws {
        let text = """
        {"id": "a", "message": "x", "label": "y"}
        {"id": "b", "message": "x2", "label": "y2"}
        {"id": "c", "message": "x3"}
        """
        let error = #expect(throws: PromptRepoError.self) { try parse(text) }
        #expect(error?.datasetLine?.line == 3)
        #expect(error?.description.contains("'label'") == true)
        #expect(error?.description.hasPrefix("data/train.jsonl:3:") == true)

        let noID = #expect(throws: PromptRepoError.self) { try parse("{\"message\": \"x\", \"label\": \"y\"}\n") }
        #expect(noID?.datasetLine?.line == 1)
        #expect(noID?.description.contains("'id'") == true)
    }

    @Test("a duplicate id is an error naming both lines")
    func duplicateID() throws {
        let text = """
        {"id": "a", "message": "x", "label": "y"}
        {"id": "b", "message": "x2", "label": "y"}
        {"id": "a", "message": "x3", "label": "y"}
        """
        let error = #expect(throws: PromptRepoError.self) { try parse(text) }
        #expect(error?.datasetLine?.line == 3)
        #expect(error?.description.contains("duplicate id 'a'") == true)
        #expect(error?.description.contains("line 1") == true)
    }

    @Test("an empty file and a missing file are file errors; invalid UTF-8 names its line")
    func fileErrors() throws {
        #expect((#expect(throws: PromptRepoError.self) { try parse("\n\n") })?.isDatasetFile == true)
        let invalid = #expect(throws: PromptRepoError.self) {
            try loader.parse(Data("{\"id\": \"1\"}\n".utf8) + Data([0xFF, 0xFE, 0x0A]), file: "x.jsonl")
        }
        #expect(invalid?.description.contains("x.jsonl:2") == true && invalid?.description.contains("UTF-8") == true, "\(String(describing: invalid))")
        try withTemporaryDirectory { url in
            let error = #expect(throws: PromptRepoError.self) { try loader.load("data/none.jsonl", root: url) }
            #expect(error == .missingFile(path: "data/none.jsonl", role: "dataset"))
        }
    }

    @Test("CSV handles quoted commas, doubled quotes, newlines inside quotes and CRLF, with correct line numbers")
    func csv() throws {
        let text = "id,message,label\r\n1,\"Hello, world\",desk\r\n2,\"two\nline \"\"quoted\"\" message\",field\r\n3,plain,ledger\r\n\r\n"
        let examples = try parse(text, file: "data/train.csv")
        #expect(examples.map(\.id) == ["1", "2", "3"])
        #expect(examples[0].fields["message"] == "Hello, world")
        #expect(examples[1].fields["message"] == "two\nline \"quoted\" message")
        #expect(examples[1].target == "field")
        #expect(examples[2].fields["message"] == "plain")
        #expect(examples.map(\.source) == ["data/train.csv:2", "data/train.csv:3", "data/train.csv:5"])
    }

    @Test("CSV errors name the line: wrong column count and an unterminated quote")
    func csvErrors() throws {
        let columns = #expect(throws: PromptRepoError.self) {
            try parse("id,message,label\n1,a,b\n2,\"x\ny\",c,extra\n", file: "d.csv")
        }
        #expect(columns?.datasetLine?.line == 3)
        #expect(columns?.description.contains("columns") == true)

        let quote = #expect(throws: PromptRepoError.self) { try parse("id,message,label\n1,\"never closed,b\n", file: "d.csv") }
        #expect(quote?.datasetLine?.line == 2)
        #expect(quote?.description.contains("unterminated") == true)
    }

    @Test("the sample repository's splits load and do not overlap")
    func sampleDatasets() throws {
        let config = try GradConfig.load(from: sampleRepo)
        let loader = DatasetLoader(task: config.task)
        let train = try loader.load(config.task.train, root: sampleRepo)
        let holdout = try loader.load(config.task.holdout, root: sampleRepo)
        let test = try loader.load(try #require(config.task.test), root: sampleRepo)
        #expect(train.count == 48)
        #expect(holdout.count == 64)
        #expect(test.count == 64)
        let labels = Set(config.metric.labels)
        #expect((train + holdout + test).allSatisfy { labels.contains($0.target) })
        #expect(loader.overlapWarnings([("train", train), ("holdout", holdout), ("test", test)]).isEmpty)
    }

    @Test("overlapWarnings reports shared ids and shared inputs (ignoring case and surrounding space)")
    func overlapWarnings() throws {
        let train = try parse("""
        {"id": "a", "message": "Move my internet", "label": "field"}
        {"id": "b", "message": "Refund please", "label": "ledger"}
        """)
        let holdout = try parse("""
        {"id": "a", "message": "Something else", "label": "desk"}
        {"id": "h2", "message": "  refund PLEASE ", "label": "ledger"}
        {"id": "h3", "message": "Unique", "label": "desk"}
        """, file: "data/holdout.jsonl")
        let warnings = loader.overlapWarnings([("train", train), ("holdout", holdout)])
        #expect(warnings.count == 2)
        #expect(warnings.contains { $0.message.contains("share 1 id(s): a") })
        #expect(warnings.contains { $0.message.contains("overlap in 1 example(s)") && $0.message.contains("data/train.jsonl:2 = data/holdout.jsonl:2") })

        let clean = try parse("{\"id\": \"z\", \"message\": \"new\", \"label\": \"desk\"}", file: "data/test.jsonl")
        #expect(loader.overlapWarnings([("train", train), ("test", clean)]).isEmpty)
    }
}
