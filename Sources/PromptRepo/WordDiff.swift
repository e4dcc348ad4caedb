import Foundation

/// A word-level diff in git's `--word-diff=plain` notation: `[-removed-]{+added+}`.
public enum WordDiff {
    public enum Piece: Equatable, Sendable { case same(String), removed(String), added(String) }

    /// Splits into words and the whitespace between them, so whitespace survives the round trip.
    static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var currentIsSpace: Bool?
        for character in text {
            let isSpace = character.isWhitespace
            if currentIsSpace != nil && isSpace != currentIsSpace { tokens.append(current); current = "" }
            current.append(character)
            currentIsSpace = isSpace
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    public static func pieces(old: String, new: String) -> [Piece] {
        let a = tokens(old), b = tokens(new)
        // Longest common subsequence table, from the end.
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var pieces: [Piece] = []
        func append(_ piece: Piece) {
            switch (pieces.last, piece) {
            case (.same(let x)?, .same(let y)): pieces[pieces.count - 1] = .same(x + y)
            case (.removed(let x)?, .removed(let y)): pieces[pieces.count - 1] = .removed(x + y)
            case (.added(let x)?, .added(let y)): pieces[pieces.count - 1] = .added(x + y)
            default: pieces.append(piece)
            }
        }
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] { append(.same(a[i])); i += 1; j += 1 }
            else if i < a.count, j == b.count || table[i + 1][j] >= table[i][j + 1] { append(.removed(a[i])); i += 1 }
            else { append(.added(b[j])); j += 1 }
        }
        return pieces
    }

    public static func plain(old: String, new: String) -> String {
        pieces(old: old, new: new).map { piece in
            switch piece {
            case .same(let text): return text
            case .removed(let text): return "[-\(text)-]"
            case .added(let text): return "{+\(text)+}"
            }
        }.joined()
    }
}
