"""The one masker every output passes through: terminal, Prefect logs, artifacts, state
messages, ``plan`` in every format, error messages, ``run``, ``exec`` and ``logs``.

Pure (no docker, no prefect). What is masked, as ``********``:

- the value after a secret-looking name, wherever a line shows one: ``DB_PASSWORD=x``,
  ``API_TOKEN: x``, ``"SECRET_KEY": "x"`` (names containing PASSWORD, PASSWD, PASSPHRASE,
  SECRET, TOKEN or CREDENTIAL, or with a ``KEY``, ``APIKEY``, ``PASS`` or ``PWD`` part);
- the password of any URL, ``scheme://user:PASSWORD@host``, known or not;
- known secret values, wherever they appear: values of secret-looking variables (in the
  environment, ``.env``, ``environment:``, ``env_file``, build args), URL passwords found in
  the project, the contents of ``secrets:`` (file, environment, content), and values read from
  Prefect ``Secret`` blocks, wherever they appear (even inside a longer word).

What is *not* masked by value (it would blank ordinary words): values shorter than
``MIN_LEN`` (8) characters, common defaults (``postgres``, ``password``, ``changeme``, ...)
and values that are also a public word of the project (a project, service or image name or a
part of one, or a non-secret value). Such values are still masked after their name and as URL
passwords, but a container that prints one bare shows it.

Known values are registered in one process-wide set (``register``): masking only ever grows,
so a process that loads several projects masks the secrets of all of them. The patterns are
cheap to skip: a line is searched for a pattern only when a C-level substring test says it
may hold one (``://`` and ``@`` for URLs, a keyword for names, a known value), and the known
values are then replaced by one precompiled trie-shaped alternation.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "********"
MIN_LEN = 8

_WORDS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL")
_PARTS = ("KEY", "APIKEY", "PASS", "PWD", "PRIVATEKEY", "ACCESSKEY")
_SECRET_NAME = re.compile(  # PWD/OLDPWD are the shell's working directories, not passwords
    r"(?!(?i:(?:OLD)?PWD)(?![A-Za-z0-9_]))"
    rf"(?i:[A-Z0-9_]*(?:{'|'.join(_WORDS)})[A-Z0-9_]*"
    rf"|(?:[A-Z0-9]+_)*(?:{'|'.join(_PARTS)})(?:_[A-Z0-9]+)*)")

# Defaults and words too common to blank wherever they appear.
COMMON = frozenset("""
    admin administrator changeme changeit default example guest letmein master mysql mariadb
    mongo mongodb nopass none null open password passwd pass postgres postgresql rabbitmq
    redis root secret secrets sesame superuser test testing token user username welcome
    qwerty true false yes no local localhost minio minioadmin keycloak django rails app
""".split())

_URL = r"(?P<url>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)(?P<urlpw>[^\s@/]+)(?=@)"
_KEYWORDS = ("pass", "secret", "token", "credential", "key", "pwd")  # a cheap first test
_NAME = _SECRET_NAME.pattern
_KV = (rf"(?P<kv>(?:(?P<nq>[\"'])(?:{_NAME})(?P=nq)|(?<![A-Za-z0-9_])(?:{_NAME}))"
       r"[ \t]*[=:][ \t]*)"
       r"(?:(?P<q>[\"'])(?P<qv>[^\"'\n]+)(?P=q)|(?P<v>[^\s\"',;&]+))")
_URL_RE = re.compile(_URL)
_KV_RE = re.compile(_KV)


def is_secret_name(name: str) -> bool:
    """Whether a variable name looks secret (DB_PASSWORD, API_TOKEN, AWS_SECRET_ACCESS_KEY)."""
    return _SECRET_NAME.fullmatch(name) is not None


def url_passwords(text: str) -> list[str]:
    """The passwords of the URLs in ``text`` (``postgres://u:PW@db/x`` -> ``["PW"]``)."""
    return [m.group("urlpw") for m in _URL_RE.finditer(text)]


def _trie_regex(words: Iterable[str]) -> str:
    """One alternation for many literals, shared prefixes factored out (longest first)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def walk(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + walk(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return walk(trie)


class Masker:
    """Masks one fixed set of known values plus the patterns (names, URL passwords)."""

    def __init__(self, values: Iterable[str] = (), public: Iterable[str] = ()) -> None:
        public_words = {w.lower() for w in public if w}
        self.values = frozenset(v for v in _expand(values)
                                if len(v) >= MIN_LEN and v.lower() not in COMMON
                                and v.lower() not in public_words)
        # `in` (C substring search) finds which known values a line holds, then one cached
        # regex of just those replaces them: an alternation of many unrelated literals would
        # try every position of every line
        self._needles = tuple(sorted(self.values, key=len, reverse=True))

    def mask(self, text: str) -> str:
        if not text:
            return text
        if "://" in text and "@" in text:
            text = _URL_RE.sub(_url_repl, text)
        lowered = text.lower()
        if any(k in lowered for k in _KEYWORDS):
            text = _mask_after_names(text, lowered)
        hits = tuple(v for v in self._needles if v in text)
        if hits:
            text = _alternation(hits).sub(MASK, text)
        return text

    def mask_bytes(self, data: bytes) -> bytes:
        return self.mask(data.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape")

    def mask_obj(self, obj: Any) -> Any:
        """Strings inside dicts, lists and tuples (artifact tables, JSON), keys included."""
        if isinstance(obj, str):
            return self.mask(obj)
        if isinstance(obj, Mapping):
            return {self.mask_obj(k): self.mask_obj(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.mask_obj(v) for v in obj)
        return obj


def _expand(values: Iterable[str]) -> Iterable[str]:
    """Each value, its stripped lines (a multi-line secret file) and its URL passwords."""
    for v in values:
        if not v:
            continue
        yield v
        stripped = v.strip()
        if stripped != v:
            yield stripped
        if "\n" in stripped:
            yield from (line.strip() for line in stripped.splitlines())
        if "://" in v:
            yield from url_passwords(v)


@functools.lru_cache(maxsize=256)
def _alternation(values: tuple[str, ...]) -> re.Pattern:
    return re.compile(_trie_regex(values))


def _mask_after_names(text: str, lowered: str) -> str:
    """``NAME=value`` for secret-looking names: tried only where a keyword occurs, from the
    start of the identifier around it."""
    starts = set()
    for kw in _KEYWORDS:
        at = lowered.find(kw)
        while at >= 0:
            start = at
            while start > 0 and (lowered[start - 1].isalnum() or lowered[start - 1] == "_"):
                start -= 1
            starts.add(start)
            at = lowered.find(kw, at + len(kw))
    out, last = [], 0
    for start in sorted(starts):
        m = None
        if start > 0 and text[start - 1] in "\"'" and start - 1 >= last:
            m = _KV_RE.match(text, start - 1)  # a quoted name: "API_TOKEN": "x"
            start -= m is not None
        if m is None and start >= last and not _is_key_path(text, start):
            m = _KV_RE.match(text, start)
        if m:
            out.append(text[last:start])
            out.append(_kv_repl(m))
            last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


_KEY_PATH_WORDS = ("secrets", "secret")  # Compose keys, not variables


def _is_key_path(text: str, start: int) -> bool:
    """``services.a.build.secrets: ...`` in a message: the end of a key path, not a name."""
    if start == 0 or text[start - 1] != ".":
        return False
    return any(text.startswith(w, start)
               and not (text[start + len(w):start + len(w) + 1].isalnum()
                        or text[start + len(w):start + len(w) + 1] == "_")
               for w in _KEY_PATH_WORDS)


def _url_repl(m: re.Match) -> str:
    return m.group("url") + MASK


def _kv_repl(m: re.Match) -> str:
    q = m.group("q") or ""
    return f"{m.group('kv')}{q}{MASK}{q}"


# -- the process-wide set of known secrets -----------------------------------------------------
_lock = threading.Lock()
_values: set[str] = set()
_public: set[str] = set()
_current = Masker()


def register(values: Iterable[str], public: Iterable[str] = ()) -> None:
    """Add known secret values (and public words that must never be blanked)."""
    global _current
    new = {v for v in values if v} - _values
    new_public = {p for p in public if p} - _public
    if not new and not new_public:
        return
    with _lock:
        _values.update(new)
        _public.update(new_public)
        _current = Masker(_values, _public)
    if new:
        install_log_masking()


def register_env(env: Mapping[str, str | None]) -> None:
    """Values of the secret-looking names in an environment, and its URL passwords."""
    register(v for k, v in env.items()
             if v and (is_secret_name(k) or "://" in v and url_passwords(v)))


def register_project(project: Any, env: Mapping[str, str] | None = None) -> None:
    """The known secrets of a loaded project (``model.types.Project``)."""
    values, names, plain = project_secrets(project, env or {})
    # a value that came from a secret-looking variable of the environment or from a Secret
    # block (registered while loading) stays secret under any other name (`CONN: ${TOKEN}`)
    register(values, names | (plain - _values))


def project_secrets(project: Any,
                    env: Mapping[str, str]) -> tuple[set[str], set[str], set[str]]:
    """(secret values, names, plain values) of a project. Secrets: the values of its
    secret-looking environment variables and build args (services and pre_start hooks), the
    passwords of the URLs among all of them, and its secrets' contents (file, environment,
    content). Names (never masked bare): its project, service and image names and their
    parts. Plain values: those of its other variables."""
    values: set[str] = set()
    names: set[str] = {project.name, *re.split(r"[^A-Za-z0-9]+", project.name)}
    plain: set[str] = set()

    def scan(pairs: Mapping[str, str | None]) -> None:
        for k, v in pairs.items():
            if not v:
                continue
            if is_secret_name(k):
                values.add(v)
            else:
                plain.add(v)
                if "://" in v:
                    values.update(url_passwords(v))

    for svc in project.services.values():
        names.update((svc.name, *re.split(r"[^A-Za-z0-9]+", svc.name)))
        if svc.image:
            names.update(re.split(r"[^A-Za-z0-9]+", svc.image))
        scan(svc.environment)
        for hook in svc.pre_start:
            scan(hook.environment)
        if svc.build is not None:
            scan(svc.build.args)
    for spec in project.secrets.values():
        values.update(_secret_source(spec or {}, env))
    return values, names, plain


def _secret_source(spec: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    if isinstance(spec.get("content"), str):
        return [spec["content"]]
    if isinstance(spec.get("environment"), str) and env.get(spec["environment"]):
        return [env[spec["environment"]]]
    if isinstance(spec.get("file"), str):
        try:
            with open(spec["file"], encoding="utf-8", errors="replace") as f:
                return [f.read(1 << 20)]
        except OSError:  # missing or unreadable: the engine step will say so
            return []
    return []


def current() -> Masker:
    return _current


def mask(text: str) -> str:
    return _current.mask(text)


def mask_obj(obj: Any) -> Any:
    return _current.mask_obj(obj)


# -- channels: log records and text streams -------------------------------------------------------
_factory_installed = False


def install_log_masking() -> None:
    """Every log record created from now on (Prefect's API and console handlers included)
    carries its message and traceback already masked."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: leave it to the handler
            return record
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = mask(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class MaskingStream(io.TextIOBase):
    """A text stream that masks whole lines before they reach the wrapped one (a partial
    line goes out, masked, on flush)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._pending = ""
        self._lock = threading.Lock()
        raw = getattr(inner, "buffer", None)
        self.buffer = MaskingBinaryStream(raw, self) if raw is not None else None

    def write(self, s: str) -> int:
        with self._lock:
            self._pending += s
            if "\n" in self._pending:
                head, _, self._pending = self._pending.rpartition("\n")
                self._inner.write(mask(head + "\n"))
        return len(s)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._inner.write(mask(self._pending))
                self._pending = ""
        self._inner.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")

    @property
    def inner(self) -> Any:
        return self._inner


class MaskingBinaryStream(io.RawIOBase):
    """The ``.buffer`` of a MaskingStream: bytes, masked line by line."""

    def __init__(self, raw: Any, text: MaskingStream) -> None:
        self._raw = raw
        self._text = text
        self._pending = b""

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self._text.flush()  # keep the order of text and bytes written to the same stream
        self._pending += bytes(b)
        if b"\n" in self._pending:
            head, _, self._pending = self._pending.rpartition(b"\n")
            self._raw.write(current().mask_bytes(head + b"\n"))
        return len(b)

    def flush(self) -> None:
        if self._pending:
            self._raw.write(current().mask_bytes(self._pending))
            self._pending = b""
        self._raw.flush()

    def writable(self) -> bool:
        return True


class masked_errors(contextlib.ContextDecorator):
    """``with masked_errors():`` (or ``@masked_errors()``): an exception leaving the block has
    its message masked (in place, then re-raised); Prefect turns it into a state message."""

    def __enter__(self) -> masked_errors:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None:
            mask_exception(exc)
        return False


def mask_exception(exc: BaseException) -> BaseException:
    exc.args = tuple(mask(a) if isinstance(a, str) else a for a in exc.args)
    for attr in ("message", "tail"):
        value = getattr(exc, attr, None)
        if isinstance(value, str):
            try:
                setattr(exc, attr, mask(value))
            except AttributeError:  # a read-only property
                pass
    return exc


class masked_output:
    """``with masked_output():`` sys.stdout, sys.stderr and logging go through the masker."""

    def __enter__(self) -> masked_output:
        import sys

        install_log_masking()
        self._saved = sys.stdout, sys.stderr
        if not isinstance(sys.stdout, MaskingStream):
            sys.stdout = MaskingStream(sys.stdout)
        if not isinstance(sys.stderr, MaskingStream):
            sys.stderr = MaskingStream(sys.stderr)
        return self

    def __exit__(self, *exc: object) -> None:
        import sys

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed pipe
                pass
        sys.stdout, sys.stderr = self._saved
