"""tinygen: turn a change request into a validated git diff, and on request a pull request.

Importing this package has no side effects and imports no heavy libraries; the CLI and
the stages load what they need when they run.
"""

__version__ = "0.1.0"

from tinygen.errors import TinygenError

__all__ = ["TinygenError", "__version__"]
