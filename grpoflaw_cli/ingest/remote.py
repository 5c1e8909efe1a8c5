"""Logs in object storage: ``s3://``, ``gs://``, ``az://`` and ``hf://`` files, prefixes
and globs.

Polars reads a remote file itself: its scans take the URL and find credentials and the
endpoint in the environment (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``, ``HF_TOKEN``). What it
cannot do is list a prefix or a glob, or give the few bytes ingest looks at itself (the
first line, a byte-order mark, the line at fault after a failed read). Here a remote file
is a :class:`RemotePath`: a ``Path`` whose ``stat`` and ``open`` ask the store (obstore,
the Python face of the Rust crate Polars reads through, for s3/gs/az; ``huggingface_hub``
for hf), so the rest of ingest handles it as a file. Both are the optional extra
``grpoflaw[cloud]``, imported only for a remote path.

>>> is_remote("s3://runs/grpo/"), is_remote("runs/s3/2.jsonl")
(True, False)
>>> str(remote_path("s3://runs/grpo/10.jsonl").parent)
's3://runs/grpo'
>>> split("gs://bucket/a/b.parquet")
('gs', 'bucket', 'a/b.parquet')
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from grpoflaw_cli.errors import InputError, UsageError

SCHEMES = {"s3": "s3", "gs": "gs", "gcs": "gs", "az": "az", "abfs": "az", "abfss": "az", "hf": "hf"}
"""URL scheme → the store that serves it (the schemes Polars' cloud readers take)."""

_URL = re.compile(r"^([a-z0-9]+):/+(.*)$", re.IGNORECASE)
"""A URL, or one a ``Path`` made of it (``s3:/bucket/key``: the double slash collapsed)."""

INSTALL = "pip install 'grpoflaw[cloud]'"

FORMS = {
    "s3": "s3://BUCKET/PREFIX",
    "gs": "gs://BUCKET/PREFIX",
    "az": "az://CONTAINER/PREFIX",
    "hf": "hf://datasets/ORG/NAME/PREFIX",
}
"""How a URL of each store is written."""


def is_remote(raw: str | os.PathLike[str]) -> bool:
    """Does ``raw`` name a file in object storage (a scheme of :data:`SCHEMES`)?"""
    if isinstance(raw, RemotePath):
        return True
    match = _URL.match(os.fspath(raw))
    return match is not None and match.group(1).lower() in SCHEMES


def split(url: str) -> tuple[str, str, str]:
    """(store kind, bucket, key) of a URL; for hf the "bucket" is the repository,
    ``datasets/ORG/NAME`` (with ``@revision`` if given)."""
    match = _URL.match(url)
    if not match or match.group(1).lower() not in SCHEMES:
        raise UsageError(f"'{url}' is not a storage URL", hint="write s3://BUCKET/PREFIX")
    kind, rest = SCHEMES[match.group(1).lower()], match.group(2)
    parts = rest.split("/")
    width = 3 if kind == "hf" and parts[0] in ("datasets", "spaces", "models") else 1
    if kind == "hf" and width == 1:  # a model repository: ORG/NAME
        width = 2
    bucket, key = "/".join(parts[:width]), "/".join(parts[width:])
    if not bucket or "" in parts[:width]:
        raise InputError(f"'{url}' names no bucket", hint=f"write {FORMS[kind]}")
    return kind, bucket, key


if TYPE_CHECKING:
    _Base = Path
else:
    _Base = type(Path())  # the concrete Path class of this system


class RemotePath(_Base):
    """A file in object storage, handled by ingest as a file: ``str`` is its URL (what
    Polars scans), ``stat`` its size and time (from the listing, else asked), ``open``
    a seekable byte stream read in ranges. ``parent``, ``name`` and ``suffixes`` are
    the URL's."""

    def __str__(self) -> str:
        head, *rest = self.parts
        return f"{head.lower()}//{'/'.join(rest)}"

    def __fspath__(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        size, mtime_ns = _STATS.get(str(self)) or _store(str(self)).head(str(self))
        _STATS[str(self)] = (size, mtime_ns)
        # Files named twice are read once by (device, inode): a URL's is 64 bits of its hash
        # (a 32-bit one would make two of 10,000 files "the same" about once in a hundred).
        ino = int.from_bytes(hashlib.blake2b(str(self).encode(), digest_size=8).digest(), "big")
        t, ns = mtime_ns // 1_000_000_000, mtime_ns
        return os.stat_result((stat.S_IFREG | 0o444, ino, -1, 1, 0, 0, size, *[t] * 6, ns, ns, ns))

    def open(self, mode: str = "rb", *args: Any, **kwargs: Any) -> IO[Any]:  # type: ignore[override]
        if mode != "rb":
            raise UsageError(f"'{self}': remote files are read, never written")
        ranges = _Ranges(_store(str(self)).fetch, str(self), self.stat().st_size)
        return io.BufferedReader(ranges, buffer_size=READ_BYTES)

    def exists(self, *, follow_symlinks: bool = True) -> bool:
        return self.is_file()

    def is_file(self) -> bool:
        try:
            self.stat()
        except (InputError, OSError):
            return False
        return True

    def is_dir(self) -> bool:
        return False

    def is_symlink(self) -> bool:
        return False

    def resolve(self, strict: bool = False) -> RemotePath:
        return self

    def absolute(self) -> RemotePath:
        return self


def remote_path(url: str) -> RemotePath:
    """The :class:`RemotePath` of a URL (or of a ``Path`` made of one)."""
    _, bucket, key = split(os.fspath(url))
    return RemotePath(f"{_scheme(url)}://{bucket}/{key}".rstrip("/"))


def _scheme(url: str) -> str:
    """The scheme as written (``gcs``, ``abfss``: Polars takes each), in lower case."""
    return os.fspath(url).split(":", 1)[0].lower()


_STATS: dict[str, tuple[int, int]] = {}
"""URL → (size, mtime in ns), as the last listing or head found it."""


# --------------------------------------------------------------------------- listing


def expand(raw: str, is_log: Callable[[Path], bool]) -> list[RemotePath]:
    """The log files a URL stands for, in natural order as for a local folder: a file, a
    prefix (a "folder": every log file below it) or a glob (``*``, ``?``, ``[...]``
    within a name, ``**`` across folders). ``is_log`` says which names in a listing are
    log files."""
    url = str(remote_path(raw)) + ("/" if raw.endswith("/") else "")
    kind, bucket, key = split(url)
    store = _store(url)
    root = url[: len(url) - len(key)] if key else url.rstrip("/") + "/"
    if any(ch in key for ch in "*?[") and not (
        not key.endswith("/") and (single := store.head_or_none(url)) is not None
    ):  # a glob, unless an object has that very name ("run [1].jsonl"), as locally
        fixed = key[: min(key.find(c) for c in "*?[" if c in key)]
        prefix = fixed[: fixed.rfind("/") + 1]
        pattern = _glob_regex(key)
        found = [(k, s) for k, s in store.list(prefix) if pattern.fullmatch(k)]
        what = f"glob '{raw}' matches no log files"
    else:
        if key and not key.endswith("/"):
            single = single if any(ch in key for ch in "*?[") else store.head_or_none(url)
            if single is not None:
                _STATS[url] = single
                return [remote_path(url)]  # whatever its format: the caller says if unknown
        prefix = key.rstrip("/") + "/" if key else ""
        found = store.list(prefix)
        what = f"'{raw}' holds no log files"
        if not found:
            what = f"'{raw}': no such object or prefix in '{kind}://{bucket}'"
    paths = []
    for name, stamp in found:
        path = remote_path(root + name)
        if is_log(path):
            _STATS[str(path)] = stamp
            paths.append(path)
    if not paths:
        raise NoLogFiles(what, hint="list it with your storage's tool (aws s3 ls, gcloud, az)")
    return paths


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob over keys as a regex: ``*`` and ``?`` stay within a folder, ``**`` crosses.

    >>> bool(_glob_regex("run/*.jsonl").fullmatch("run/a/1.jsonl"))
    False
    >>> bool(_glob_regex("run/**/*.jsonl").fullmatch("run/a/1.jsonl"))
    True
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def listing(
    url: str, is_log: Callable[[Path], bool], order: Callable[[Path], Any]
) -> tuple[tuple[str, int, int], ...]:
    """The log files below a prefix as ``watch`` compares its looks: (URL, size, mtime),
    in ``order``. A prefix that holds none yet is an empty listing; a store that cannot
    be read is an :class:`InputError`."""
    try:
        paths = expand(str(remote_path(url)) + "/", is_log)
    except NoLogFiles:
        return ()
    return tuple((str(p), *_STATS[str(p)]) for p in sorted(paths, key=order))


# --------------------------------------------------------------------------- stores


def _store(url: str) -> _Store:
    kind, bucket, _ = split(url)
    key = (kind, bucket)
    if key not in _STORES:
        _STORES[key] = _HfStore(bucket) if kind == "hf" else _ObjectStore(url, bucket)
    return _STORES[key]


class _Store:
    """What ingest asks of a store: a listing, a head, a reader."""

    url: str

    def list(self, prefix: str) -> list[tuple[str, tuple[int, int]]]:
        raise NotImplementedError

    def head(self, url: str) -> tuple[int, int]:
        raise NotImplementedError

    def fetch(self, url: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (excluded) of a file, in one request."""
        raise NotImplementedError

    def head_or_none(self, url: str) -> tuple[int, int] | None:
        try:
            return self.head(url)
        except MissingObject:
            return None


class NoLogFiles(InputError):
    """A URL that names no log file: nothing there, or nothing in a log format."""


class MissingObject(NoLogFiles):
    """No object under that name (it may still be a prefix)."""


_STORES: dict[tuple[str, str], _Store] = {}
"""(kind, bucket) → its store, made once per process (they hold connection pools)."""


class _ObjectStore(_Store):
    """s3, gs and az through obstore: the object_store crate Polars reads with, so both
    take the same environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...)."""

    def __init__(self, url: str, bucket: str) -> None:
        try:
            import obstore
            from obstore.store import from_url
        except ImportError:
            raise UsageError(
                f"reading '{url}' needs obstore, which is not installed",
                hint=f"install the cloud extra: {INSTALL}",
            ) from None
        self.obstore = obstore
        scheme = _scheme(url)
        self.url = f"{scheme}://{bucket}"
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        client = {"connect_timeout": "10s", "timeout": "120s"}
        if scheme == "s3" and (endpoint or "").startswith("http://"):
            client["allow_http"] = "true"  # as Polars does for an http:// endpoint
        retry = {"max_retries": 2, "retry_timeout": timedelta(seconds=20)}
        try:
            more = {"credential_provider": _boto3_credentials()} if scheme == "s3" else {}
            self.store = from_url(  # type: ignore[call-overload]
                self.url, client_options=client, retry_config=retry, **more
            )
        except Exception as exc:  # obstore's configuration errors share no base class
            raise _error(exc, self.url) from None

    def _key(self, url: str) -> str:
        return url[len(self.url) + 1 :]

    def list(self, prefix: str) -> list[tuple[str, tuple[int, int]]]:
        try:
            return [
                (meta["path"], (meta["size"], _ns(meta["last_modified"])))
                for chunk in self.obstore.list(self.store, prefix=prefix or None)
                for meta in chunk
            ]
        except Exception as exc:
            raise _error(exc, f"{self.url}/{prefix}") from None

    def head(self, url: str) -> tuple[int, int]:
        try:
            meta = self.obstore.head(self.store, self._key(url))
        except Exception as exc:
            raise _error(exc, url) from None
        return meta["size"], _ns(meta["last_modified"])

    def fetch(self, url: str, start: int, end: int) -> bytes:
        return bytes(self.obstore.get_range(self.store, self._key(url), start=start, end=end))


class _HfStore(_Store):
    """hf:// through ``huggingface_hub``'s file system (``HF_TOKEN`` for private repos)."""

    def __init__(self, repo: str) -> None:
        try:
            from huggingface_hub import HfFileSystem
        except ImportError:
            raise UsageError(
                f"reading 'hf://{repo}' needs huggingface_hub, which is not installed",
                hint=f"install the cloud extra: {INSTALL}",
            ) from None
        self.url, self.repo, self.fs = f"hf://{repo}", repo, HfFileSystem()

    def list(self, prefix: str) -> list[tuple[str, tuple[int, int]]]:
        try:
            found = self.fs.find(f"{self.repo}/{prefix}", detail=True)
        except Exception as exc:
            raise _error(exc, f"{self.url}/{prefix}") from None
        cut, files = len(self.repo) + 1, cast("dict[str, dict[str, Any]]", found)  # detail=True
        return [(name[cut:], (int(info["size"]), 0)) for name, info in files.items()]

    def head(self, url: str) -> tuple[int, int]:
        try:
            info = self.fs.info(url[len("hf://") :])
        except Exception as exc:
            raise _error(exc, url) from None
        if info.get("type") != "file":
            raise MissingObject(f"'{url}' is not a file")
        return int(info["size"]), 0

    def fetch(self, url: str, start: int, end: int) -> bytes:
        return bytes(self.fs.cat_file(url[len("hf://") :], start=start, end=end))


def has_boto3() -> bool:
    """Is boto3 installed (Polars then finds S3 credentials through it)?"""
    import importlib.util

    return importlib.util.find_spec("boto3") is not None


def _boto3_credentials() -> Any:
    """S3 credentials as Polars finds them: through boto3's chain (the environment,
    ``AWS_PROFILE`` and ``~/.aws``, SSO, instance roles) when boto3 is installed; else
    None, and object_store reads the environment and the instance's role."""
    if not has_boto3():
        return None
    from obstore.auth.boto3 import Boto3CredentialProvider

    return Boto3CredentialProvider()


def scan_options(paths: Sequence[Path]) -> dict[str, Any]:
    """What a Polars scan of several of ``paths`` needs besides the URLs: S3 credentials
    through boto3 (an AWS profile, SSO), which Polars 2.1's ``scan_ndjson`` of a list of
    URLs does not look for by itself as its single-URL scans do."""
    if not any(isinstance(p, RemotePath) and str(p).startswith("s3:") for p in paths):
        return {}
    if not has_boto3():
        return {}  # object_store reads the environment itself
    import polars as pl

    return {"credential_provider": pl.CredentialProviderAWS()}


def _ns(when: Any) -> int:
    return int(when.timestamp() * 1e9) if when is not None else 0


READ_BYTES = 1 << 16
"""The least one read of a remote file asks for: the first line, a byte-order mark or a
CSV's tail cost one request, not a download of the file."""


class _Ranges(io.RawIOBase):
    """A remote file as a seekable raw stream of ``size`` bytes: each read one ranged GET
    (``fetch``); no request on opening."""

    def __init__(self, fetch: Callable[[str, int, int], bytes], url: str, size: int) -> None:
        self.fetch, self.url, self.size, self.at = fetch, url, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        end = min(self.at + len(buffer), self.size)
        if end <= self.at:
            return 0
        try:
            data = self.fetch(self.url, self.at, end)
        except Exception as exc:  # the caller's read reports an OSError
            raise OSError(f"reading '{self.url}' failed: {_first_line(exc)}") from None
        buffer[: len(data)] = data
        self.at += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.at = max(0, {0: 0, 1: self.at, 2: self.size}[whence] + offset)
        return self.at

    def tell(self) -> int:
        return self.at


# --------------------------------------------------------------------------- errors


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


CREDENTIALS = {
    "s3": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN if temporary), "
    "or AWS_PROFILE with boto3 installed",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS (a service account's key file)",
    "az": "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or a SAS token",
    "hf": "HF_TOKEN (a token that can read the repository)",
}
"""Where each store's credentials come from (the variables Polars reads too)."""

_CAUSES: tuple[tuple[str, str, str], ...] = (
    (
        r"NoSuchBucket|bucket does not exist|ContainerNotFound|RepositoryNotFound",
        "no such bucket",
        "check the bucket's name, and the endpoint or region it lives in",
    ),
    (
        r"latest/api/token|latest/meta-data|computeMetadata|metadata/identity"
        r"|no credentials|credentials? not found|None from session.get_credentials"
        r"|Account must be specified",
        "no credentials found",
        "set {credentials}",
    ),
    (
        r"credential|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Unauthenticated"
        r"|PermissionDenied|\b40[13] (Forbidden|Unauth)",
        "access refused (wrong or insufficient credentials)",
        "check {credentials}, and that they may read this bucket",
    ),
    (
        r"error sending request|connect|dns|timed out|Connection refused|tcp"
        r"|Name or service not known|name resolution|getaddrinfo",
        "cannot reach the storage endpoint",
        "check the network{endpoint}",
    ),
)


def _error(exc: BaseException, url: str) -> InputError:
    """A store's failure as an :class:`InputError` that says which of the usual causes it
    is (a missing bucket or object, credentials, an endpoint out of reach)."""
    text = str(exc)
    missing = type(exc).__name__ == "NotFoundError" or isinstance(exc, FileNotFoundError)
    if missing and not re.search(_CAUSES[0][0], text):
        return MissingObject(f"'{url}': no such object")
    why = re.sub(r"^Generic \w+ error: | in [\d.]+[mµn]?s\b", "", _first_line(exc))
    for pattern, what, hint in _CAUSES:
        if re.search(pattern, text, re.IGNORECASE):
            kind = split(url)[0]
            endpoint = (
                ", and the endpoint (AWS_ENDPOINT_URL for an S3-compatible store)"
                if kind == "s3"
                else ""
            )
            hint = hint.format(credentials=CREDENTIALS[kind], endpoint=endpoint)
            return InputError(f"'{url}': {what} ({why})", hint=hint)
    return InputError(f"'{url}': cannot read ({why})")
