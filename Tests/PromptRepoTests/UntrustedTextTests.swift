import Foundation
import PromptRepo
import Testing

@Suite struct UntrustedTextTests {
    @Test("stored text loses NUL, escape and C1 controls and lone carriage returns, and keeps CRLF, tabs and everything printable")
    func stored() {
        #expect("a\u{0}b\u{1B}[2Jc\u{9B}d\u{7F}e".withoutControlCharacters == "ab[2Jcde")
        #expect("line one\r\nline\ttwo\n".withoutControlCharacters == "line one\r\nline\ttwo\n")
        #expect("over\rwrite".withoutControlCharacters == "overwrite")
        #expect("Grüße — عربي \u{200F}ok".withoutControlCharacters == "Grüße — عربي \u{200F}ok")
    }

    @Test("shown text has every control and bidirectional override escaped, visibly, and keeps newlines and tabs")
    func shown() {
        #expect("\u{1B}[2J\u{1B}]0;title\u{07}".escapingControlCharacters == "\\x1b[2J\\x1b]0;title\\x07")
        #expect("a\u{0}b\rc\u{9B}d\u{202E}e".escapingControlCharacters == "a\\x00b\\x0dc\\u{9b}d\\u{202e}e")
        #expect("two\nlines\twith tab, ünïcödé".escapingControlCharacters == "two\nlines\twith tab, ünïcödé")
    }

    @Test("JSON keeps its value: DEL, C1 and bidi controls become \\u escapes that decode to the same string")
    func json() throws {
        let value = ["text": "a\u{7F}b\u{9B}c\u{202E}d\u{1B}e"]
        let encoded = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        let safe = encoded.jsonEscapingTerminalControls
        #expect(!safe.unicodeScalars.contains { $0.value == 0x7F || $0.value == 0x9B || $0.value == 0x202E || $0.value == 0x1B })
        #expect(try JSONDecoder().decode([String: String].self, from: Data(safe.utf8)) == value)
        let pretty = "{\n  \"a\" : 1\n}"
        #expect(pretty.jsonEscapingTerminalControls == pretty)
    }
}
