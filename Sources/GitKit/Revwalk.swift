internal import CLibgit2

extension Repository {
    /// Commits reachable from `start`, newest first (topological, then time order), optionally
    /// following only first parents (main's own line) and stopping after `limit`.
    /// The corresponding libgit2 functions are `git_revwalk_push` and `git_revwalk_next`.
    public func walk(from start: ObjectID, firstParentOnly: Bool = false, hiding hidden: [ObjectID] = [], limit: Int? = nil) throws -> [ObjectID] {
        try walk(from: [start], firstParentOnly: firstParentOnly, hiding: hidden, limit: limit)
    }

    public func walk(from starts: [ObjectID], firstParentOnly: Bool = false, hiding hidden: [ObjectID] = [], limit: Int? = nil) throws -> [ObjectID] {
        var walker: OpaquePointer?
        try check(git_revwalk_new(&walker, pointer), "git_revwalk_new")
        defer { git_revwalk_free(walker) }
        try check(git_revwalk_sorting(walker, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue), "git_revwalk_sorting")
        if firstParentOnly { try check(git_revwalk_simplify_first_parent(walker), "git_revwalk_simplify_first_parent") }
        for start in starts {
            var oid = start.raw
            try check(git_revwalk_push(walker, &oid), "git_revwalk_push")
        }
        for hide in hidden {
            var oid = hide.raw
            try check(git_revwalk_hide(walker, &oid), "git_revwalk_hide")
        }
        var result: [ObjectID] = []
        var oid = git_oid()
        while true {
            if let limit, result.count >= limit { break }
            let code = git_revwalk_next(&oid, walker)
            if code == GIT_ITEROVER.rawValue { break }
            try check(code, "git_revwalk_next")
            result.append(ObjectID(oid))
        }
        return result
    }

    /// The merge base of two commits, or nil when they share no history.
    /// The corresponding libgit2 function is `git_merge_base`.
    public func mergeBase(_ a: ObjectID, _ b: ObjectID) throws -> ObjectID? {
        var out = git_oid(), one = a.raw, two = b.raw
        guard try found(git_merge_base(&out, pointer, &one, &two), "git_merge_base") else { return nil }
        return ObjectID(out)
    }
}
