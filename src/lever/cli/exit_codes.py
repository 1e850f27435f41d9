"""Exit codes of `lever exec` (and the other commands): each says what happened."""

OK = 0
ERROR = 1
USAGE = 2
LIMIT = 3
CONTEXT = 4
MODEL_AUTH = 5
SANDBOX = 6
DENIED = 7
STUCK = 8
INTERRUPTED = 130

HELP = """\
exit codes:
  0    the run finished (the model gave its final answer)
  1    error (model error after retries, bad, empty or cut-off reply, internal error)
  2    usage error (bad flags or configuration, no model configured)
  3    a limit was reached (--max-turns, --max-tokens, --timeout: 4 h by default for exec),
       or the disk is full (the session stopped recording)
  4    the context window is exhausted
  5    the model refused the credentials (authentication or quota)
  6    the sandbox is unavailable: no mechanism confines commands here, so none ran
       (`lever sandbox --status` says why; --sandbox danger-full-access runs them unconfined)
  7    a person denied a command and stopped the run
  8    the model was stuck (the same call with the same result, again and again)
  130  interrupted (Ctrl-C)"""

BY_REASON = {
    "done": OK,
    "limit": LIMIT,
    "interrupted": INTERRUPTED,
    "denied": DENIED,
    "stuck": STUCK,
}
BY_ERROR_KIND = {"auth": MODEL_AUTH, "context": CONTEXT}
