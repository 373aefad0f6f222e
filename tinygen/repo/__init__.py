"""Repository access: git commands, repository specs and the clone cache, worktrees, texts at a
commit, atomic writes and applying a diff to a checkout.

Inert on purpose: importing ``tinygen.repo`` loads nothing heavy (GitPython is imported only
by the functions that need it), so ``tinygen map`` stays fast.
"""
