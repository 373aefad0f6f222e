"""Repository access, built on GitPython.

    git       running git (GitPython command objects; subprocess on `tinygen map`'s path),
              repo_root, state_dir, resolve_commit, temporary worktrees (serialized)
    spec      --repo parsed into a RepoSpec: the URL policy, GitHub's hosts
    auth      which token goes to which URL, as a per-command header; scrubbing
    network   ls-remote/fetch/push: GitPython's guards, timeout, typed failures
    clone     open_repository: a checkout in place, or the clone cache (init, fetch, lock)
    texts     files as texts for the patch engine: at a commit, in the working tree
    atomic    one file replaced atomically (caches, run records, the summary guide)
    files     atomic all-or-nothing writes; which files have uncommitted changes
    apply     apply_diff: a diff into a checkout (`tinygen apply`, `run --apply`)
    trees     trees and commits made without a working tree

Inert on purpose: importing ``tinygen.repo`` (or any module of it) loads nothing heavy;
GitPython is imported only by the functions that run git, so ``tinygen map`` stays fast.
"""
