"""The weekly digest e-mail: build (numbers from the store), render (Jinja2 templates,
matplotlib charts), send (SMTP), and the runner that records each run (docs/digest.md)."""

from monitor.digest.build import Digest, Scope, build_digest
from monitor.digest.render import Rendered, render
from monitor.digest.runner import DigestRunner, RunResult
from monitor.digest.send import smtp_targets, validate_digests

__all__ = ["Digest", "DigestRunner", "Rendered", "RunResult", "Scope", "build_digest", "render",
           "smtp_targets", "validate_digests"]
