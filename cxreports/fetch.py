"""The CX API client: page through the CX-log endpoint and keep every page exactly as received.

Pages land gzip-compressed as ``OUT/<since>_<until>/page_0001.json.gz``, the layout
:func:`cxreports.load` reads, so a load can be repeated and audited against what the API sent.
Each page and the folder's ``manifest`` are written atomically (temp file, then ``os.replace``),
so an interrupted fetch resumes where it stopped: pages already on disk are not asked for again.

The API token is read from the environment at call time and only ever sent in the
``Authorization`` header; it is never a parameter, never logged and never part of an error.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import os
import shlex
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from cxreports.exceptions import FetchError, ParameterError
from cxreports.iorw import ensure_dir, write_atomic

#: Environment variable the CLI reads the endpoint from when ``--base-url`` is not given.
BASE_URL_ENV = "CXREPORTS_API_BASE_URL"

#: The folder's record of the fetch. No ``.json`` ending: the loader must not read it as a page.
MANIFEST_NAME = "manifest"

#: Longest wait between two attempts, whatever ``Retry-After`` asks for.
MAX_WAIT_S = 60.0

#: Received records may fall short of the listing's ``total`` by this share at most (real
#: exports report a total a little off what they hold); a larger shortfall stops the fetch.
TOTAL_SHORTFALL = 0.10

#: Answers that send a client elsewhere; a fetch stops at them instead of following.
REDIRECTS = frozenset({301, 302, 303, 307, 308})

_JSON_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiSettings:
    """Where and how to ask the CX-log endpoint for pages.

    ``base_url`` is the full endpoint URL (``https://api.example.com/v1/cx-logs``); the query
    parameters are added to it. ``token_env`` names the environment variable holding the
    bearer token, read at call time so the token never lives in settings, reprs or logs.
    """

    base_url: str
    page_param: str = "page"
    page_size_param: str = "pageSize"
    since_param: str = "startDate"
    until_param: str = "endDate"
    page_size: int = 100
    timeout_s: float = 30  # for a page, from the request to its last byte
    max_retries: int = 5
    backoff_base_s: float = 1.0
    token_env: str = "CXREPORTS_API_TOKEN"
    max_pages: int = 10_000  # a listing longer than this is refused, not followed

    def page_url(self, since: date, until: date, page: int) -> str:
        """The URL of one page of the CX logs started between ``since`` and ``until``."""
        query = urllib.parse.urlencode(
            {
                self.since_param: since.isoformat(),
                self.until_param: until.isoformat(),
                self.page_param: page,
                self.page_size_param: self.page_size,
            }
        )
        return f"{self.base_url}{'&' if '?' in self.base_url else '?'}{query}"


@dataclass(frozen=True)
class FetchResult:
    """What a fetch did: the folder of pages and how they got there."""

    folder: Path
    pages_fetched: int
    pages_reused: int
    records: int
    seconds: float
    total: int | None = None  # the listing's own count, when it gives one


def resolve_base_url(base_url: str | None) -> str:
    """The endpoint URL given, else the one in ``CXREPORTS_API_BASE_URL``, checked by
    :func:`check_base_url` under the name it came by."""
    url = (base_url or os.environ.get(BASE_URL_ENV, "")).strip()
    if not url:
        raise ParameterError(
            f"no CX API endpoint: pass --base-url or set {BASE_URL_ENV} "
            "(for example https://api.example.com/v1/cx-logs)"
        )
    return check_base_url(url, "--base-url" if base_url else BASE_URL_ENV)


def check_base_url(url: str, name: str) -> str:
    """``url``, or a :class:`ParameterError` saying what keeps it from being the endpoint.

    ``name`` is how the user gave it (``--base-url``, ``[source] base_url``...). Checked
    before any request: urllib would raise a bare ``ValueError`` for some of these, and
    send others (a space) only to fail on every retry.
    """
    if problem := base_url_problem(url, name):
        raise ParameterError(problem)
    return url


def base_url_problem(url: str, name: str) -> str | None:
    """What is wrong with ``url`` as the endpoint, one sentence naming it ``name``; else None.

    The URL itself is never repeated: it may hold a password, and a config file's value in
    the wrong place may be a secret.

    Examples
    --------
    >>> base_url_problem("https://api.example.com/v1/cx-logs", "--base-url") is None
    True
    >>> print(base_url_problem("https:///v1/cx-logs", "--base-url"))
    --base-url must be an http:// or https:// URL such as https://api.example.com/v1/cx-logs: \
it names no host
    """
    found = _url_fault(url)
    if found is None:
        return None
    return (
        f"{name} must be an http:// or https:// URL such as "
        f"https://api.example.com/v1/cx-logs: {found}"
    )


def _url_fault(url: str) -> str | None:
    if any(c.isspace() for c in url):
        return "it holds a space or a line break"
    if not url.isprintable():
        return "it holds a control character"
    if not url.isascii():
        return "it holds a character outside ASCII (percent-encode it, and a host in its xn-- form)"
    if not url.lower().startswith(("http://", "https://")):
        return "it does not start with http:// or https://"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        # "Port could not be cast to integer value as 'x'": the part after "as" repeats the URL
        return f"it is not a valid URL ({str(exc).split(' as ')[0]})"
    if "@" in parts.netloc:
        return "it holds a user name or password (the token is read from the environment only)"
    if not parts.hostname:
        return "it names no host"
    if port == 0:
        return "its port is 0"
    if "#" in url:
        return "it holds a #fragment (a fragment is never sent to the server)"
    return None


def fetch(
    settings: ApiSettings,
    since: date,
    until: date,
    out: str | Path,
    *,
    progress: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
    out_name: str = "--out",
) -> FetchResult:
    """Download every page of the CX logs between ``since`` and ``until`` into ``out``.

    Parameters
    ----------
    settings
        The endpoint, parameter names, page size, timeout and retry policy.
    since, until
        The dates sent as ``startDate`` and ``endDate``; they also name the folder.
    out
        Parent folder; pages go to ``out/<since>_<until>/page_0001.json.gz``...
    progress
        Show a progress bar on stderr; by default only when stderr is a terminal.
    sleep
        Called with the seconds to wait before a retry; tests pass a recorder.
    out_name
        What the user calls ``out``, for messages: ``--out`` on the command line, the weekly
        job's ``[source] raw`` (its own ``--out`` is the reports' folder).

    Pages follow the ``lastPage`` of page 1, at most ``settings.max_pages`` of them. A listing
    that changes on the way (another ``lastPage`` or ``total``), an empty page before the last
    one, or far fewer records than ``total`` stops the fetch with :class:`FetchError`, and the
    folder is not marked complete. 429 and 5xx answers, timeouts (no answer, or not the whole
    page, within ``settings.timeout_s``), dropped connections and
    bodies that are not a CX-log page are retried with exponential backoff (``Retry-After``
    wins when the server sends it); a rejected token or a redirect (never followed) fails at
    once. Running the same fetch again reuses the pages already saved. A base URL that cannot
    be the endpoint (:func:`base_url_problem`) raises :class:`ParameterError` before any
    request or folder.

    Examples
    --------
    >>> settings = ApiSettings("https://api.example.com/v1/cx-logs")  # doctest: +SKIP
    >>> fetch(settings, date(2026, 3, 23), date(2026, 3, 30), "data/raw")  # doctest: +SKIP
    FetchResult(folder=PosixPath('data/raw/2026-03-23_2026-03-30'), pages_fetched=12, ...)
    """
    check_base_url(settings.base_url, "the API's base URL")
    if since > until:
        raise ParameterError(f"expected --since on or before --until, got {since} > {until}")
    if settings.page_size < 1:
        raise ParameterError(f"expected a page size of at least 1, got {settings.page_size}")
    token = _token(settings)
    started = time.monotonic()
    ensure_dir(out)  # a file in the way is named as the --out given, not as a folder in it
    folder = ensure_dir(Path(out) / f"{since.isoformat()}_{until.isoformat()}")
    manifest = _open_manifest(folder, settings, since, until, out_name)
    done: list[int] = manifest["pages_done"]
    fetched = reused = records = 0
    page = 1
    listing: tuple[int, object] | None = None  # lastPage and total, as page 1 gave them
    with _progress_bar(progress) as bar:
        while True:
            path = folder / _page_name(page)
            envelope = _saved_page(path, page) if page in done else None
            changed = envelope is None
            if envelope is not None:
                reused += 1
            else:
                body, envelope = _get_page(settings, token, since, until, page, sleep)
                write_atomic(path, gzip.compress(body, mtime=0))
                fetched += 1
                if page not in done:
                    done.append(page)
            last_page = envelope["lastPage"]
            listing = _check_listing(settings, folder, page, envelope, listing)
            finished = page >= last_page
            if finished:
                _check_total(folder, records + len(envelope["data"]), listing[1])
            now = {"last_page": last_page, "complete": finished}
            if changed or any(manifest.get(k) != v for k, v in now.items()):
                manifest.update(now)
                write_atomic(folder / MANIFEST_NAME, orjson.dumps(manifest, option=_JSON_OPTS))
            records += len(envelope["data"])
            bar.total = max(last_page, page)
            bar.update(1)
            if finished:
                break
            page += 1
    return FetchResult(
        folder=folder,
        pages_fetched=fetched,
        pages_reused=reused,
        records=records,
        seconds=time.monotonic() - started,
        total=listing[1] if listing and isinstance(listing[1], int) else None,
    )


def _check_listing(
    settings: ApiSettings,
    folder: Path,
    page: int,
    envelope: dict[str, Any],
    listing: tuple[int, object] | None,
) -> tuple[int, object]:
    """Stop a fetch whose listing is too long, changes length on the way, or has a hole.

    ``total`` is page 1's: real exports report a slightly different one on every page.
    """
    now = (envelope["lastPage"], envelope.get("total"))
    if listing is None:
        if now[0] > settings.max_pages:
            raise FetchError(
                f"{folder}: the API lists {now[0]:,} pages, more than the {settings.max_pages:,} "
                "a fetch follows; fetch a shorter date range or raise max_pages"
            )
        listing = now
    elif now[0] != listing[0]:
        raise FetchError(
            f"{folder}: page {page} says lastPage {now[0]!r}, page 1 said {listing[0]!r}: the "
            "listing changed during the fetch; delete the folder and fetch again once the "
            "source has settled"
        )
    if not envelope["data"] and page < listing[0]:
        raise FetchError(
            f"{folder}: page {page} of {listing[0]} is empty: the listing has a hole, so records "
            "would be missing; the fetch is not marked complete (run it again to retry)"
        )
    return listing


def _check_total(folder: Path, records: int, total: object) -> None:
    """Compare the records received with the listing's ``total``: warn, or stop if far short."""
    if not isinstance(total, int) or isinstance(total, bool) or records == total:
        return
    if records < total * (1 - TOTAL_SHORTFALL):
        raise FetchError(
            f"{folder}: received {records:,} records, the API's total says {total:,}: more than "
            f"{TOTAL_SHORTFALL:.0%} are missing; the fetch is not marked complete"
        )
    log.warning("%s: received %d records, the API's total says %d", folder, records, total)


def retry_delay(settings: ApiSettings, attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2...); never more than a minute.

    A ``Retry-After`` in seconds wins over the exponential backoff (``backoff_base_s`` doubled
    each attempt). The HTTP-date form is not honoured; the backoff applies instead.

    Examples
    --------
    >>> s = ApiSettings("http://x", backoff_base_s=1.0)
    >>> retry_delay(s, 1), retry_delay(s, 3), retry_delay(s, 1, "7"), retry_delay(s, 1, "9999")
    (1.0, 4.0, 7.0, 60.0)
    """
    wait = settings.backoff_base_s * 2 ** (attempt - 1)
    if retry_after is not None:
        try:
            asked = float(retry_after.strip())
        except ValueError:
            asked = None
        if asked is not None and asked >= 0:
            wait = asked
    return min(wait, MAX_WAIT_S)


def validate_page(body: bytes, page: int | None = None) -> dict[str, Any]:
    """The ``cxLogs`` part of an API page; raises ``ValueError`` saying what is wrong.

    With ``page``, a page that says it is another page is wrong too: a server that ignores
    the page parameter would otherwise be read as the same page over and over.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        start = body[:60].decode("utf-8", "replace")
        raise ValueError(f"the body is not JSON ({exc}); it starts {start!r}") from None
    logs = doc.get("cxLogs") if isinstance(doc, dict) else None
    if not isinstance(logs, dict):
        got = ", ".join(list(doc)[:6]) if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"expected a page like {{'cxLogs': {{'data': [...], ...}}}}, got {got}")
    if not isinstance(logs.get("data"), list):
        raise ValueError("expected cxLogs.data to be a list of records")
    last = logs.get("lastPage")
    if not isinstance(last, int) or isinstance(last, bool):
        raise ValueError(f"expected cxLogs.lastPage to be a whole number, got {last!r}")
    if page is not None and logs.get("page", page) != page:
        raise ValueError(f"expected page {page}, got a page numbered {logs.get('page')!r}")
    return logs


def _get_page(
    settings: ApiSettings,
    token: str,
    since: date,
    until: date,
    page: int,
    sleep: Callable[[float], None],
) -> tuple[bytes, dict[str, Any]]:
    """One page's body and envelope, retrying what a retry can fix."""
    url = settings.page_url(since, until, page)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    # no redirect is followed (_NoRedirect); were one ever, an unredirected header stays behind
    request.add_unredirected_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(_NoRedirect)  # per call: proxies as the env says now
    attempts = settings.max_retries + 1
    problem = ""
    for attempt in range(1, attempts + 1):
        retry_after = None
        try:
            deadline = time.monotonic() + settings.timeout_s
            with opener.open(request, timeout=settings.timeout_s) as response:
                body = _read_by(response, deadline)
        except urllib.error.HTTPError as exc:
            status, retry_after = exc.code, exc.headers.get("Retry-After")
            location = exc.headers.get("Location")
            detail = _error_detail(exc)
            exc.close()
            if status in REDIRECTS and location:
                raise FetchError(
                    _scrub(_redirected(settings, url, page, status, location), token)
                ) from None
            if status in (401, 403):
                raise FetchError(
                    f"the API rejected the token in {settings.token_env} (HTTP {status}); "
                    "check it" + (" and its permissions" if status == 403 else "")
                ) from None
            problem = f"HTTP {status} {exc.reason}{detail}"
            if status != 429 and status < 500:
                raise FetchError(
                    _scrub(f"page {page}: the API refused the request: {problem} ({url})", token)
                ) from None
        except TimeoutError:
            problem = f"no answer within {settings.timeout_s:g} s"
        except (ConnectionError, http.client.HTTPException) as exc:
            problem = f"the connection failed ({type(exc).__name__}: {exc})"
        except urllib.error.URLError as exc:
            problem = (
                f"no answer within {settings.timeout_s:g} s"
                if isinstance(exc.reason, TimeoutError)
                else f"cannot reach the API: {exc.reason}"
            )
        else:
            if body is None:
                problem = f"the page did not arrive whole within {settings.timeout_s:g} s"
            else:
                try:
                    return body, validate_page(body, page)
                except ValueError as exc:
                    problem = str(exc)
        problem = _scrub(problem, token)
        if attempt < attempts:
            wait = retry_delay(settings, attempt, retry_after)
            log.warning(
                "page %d: %s; retrying in %.1f s (attempt %d of %d)",
                page,
                problem,
                wait,
                attempt + 1,
                attempts,
            )
            sleep(wait)
    raise FetchError(
        f"page {page}: gave up after {attempts} attempts; last problem: {problem}. "
        f"Run the same fetch again to resume: the pages already saved are kept ({url})"
    )


def _read_by(response: http.client.HTTPResponse, deadline: float) -> bytes | None:
    """The whole body, or None once ``deadline`` (of ``time.monotonic``) has passed.

    The socket timeout bounds each read, not the page: a server that trickles a byte a
    second never trips it and would hold the fetch for hours. ``read1`` returns what has
    arrived, so the deadline is looked at between bytes, not after the whole body.
    """
    chunks = []
    while chunk := response.read1(1 << 16):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            return None
    return b"".join(chunks)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Leave every redirect as the HTTPError it is: a fetch asks the endpoint it was given.

    urllib follows redirects silently; pages would then come from an address nobody chose
    (and be saved as the endpoint's), and a handler that copied headers would hand it the token.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> None:
        return None


def _redirected(settings: ApiSettings, url: str, page: int, status: int, location: str) -> str:
    """The message for a redirect: where to, masked, and what to do if it is trusted."""
    return (
        f"page {page}: the API redirects to {_masked_target(settings, url, location)} "
        f"(HTTP {status}); a fetch follows no redirect, so neither the request nor the token "
        "went there: if that address is trusted, set --base-url (or [source] base_url) to it "
        "and fetch again"
    )


def _masked_target(settings: ApiSettings, url: str, location: str) -> str:
    """A redirect's ``Location``, fit to print: a user name or password as ``***@``, the
    values of query parameters other than the fetch's own as ``***`` (a signed URL carries
    its key there), our own parameters and any #fragment left out.

    Examples
    --------
    >>> s = ApiSettings("https://a.example/v1")
    >>> _masked_target(s, s.base_url, "https://u:pw@b.example/v2?page=1&sig=abc#x")
    'https://***@b.example/v2?sig=***'
    >>> _masked_target(s, s.base_url, "/v2/cx-logs?page=1")
    'https://a.example/v2/cx-logs'
    """
    try:
        target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location.strip()))
    except ValueError:
        return "an address that is not a valid URL"
    netloc = target.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    ours = {
        settings.since_param,
        settings.until_param,
        settings.page_param,
        settings.page_size_param,
    }
    query = "&".join(
        f"{urllib.parse.quote(name)}=***"
        for name, _ in urllib.parse.parse_qsl(target.query, keep_blank_values=True)
        if name not in ours
    )
    shown = urllib.parse.urlunsplit((target.scheme, netloc, target.path, query, ""))
    # a header is the server's text: no escape sequence of it reaches the terminal
    return "".join(c if c.isprintable() else "\ufffd" for c in shown)


def _token(settings: ApiSettings) -> str:
    """The bearer token, checked before any request: it must fit in one header line.

    A line break or a character outside ASCII cannot be sent in a header; http.client would
    raise with the header, and so the token, in its message. Ours say what is wrong with it,
    never what it is, nor where in it (a position narrows a secret down).
    """
    token = os.environ.get(settings.token_env, "").strip()
    if not token:
        raise FetchError(
            f"no API token: set the environment variable {settings.token_env} "
            "(it is read from the environment only, never from the command line)"
        )
    if not all(" " <= c <= "~" for c in token):
        found = (
            "a line break"
            if any(c in "\r\n" for c in token)
            else "a control character"
            if any(not c.isprintable() for c in token)
            else "a character outside ASCII"
        )
        raise FetchError(
            f"the API token in {settings.token_env} holds {found}, which cannot be sent in an "
            "HTTP header; a token is one line of ASCII characters: set the variable again "
            "(copy the token without what surrounds it)"
        )
    return token


def _scrub(text: str, token: str) -> str:
    """Servers sometimes echo request headers back; keep the token out of any message."""
    return text.replace(token, "***")


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read(300).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        return ""
    return f": {' '.join(body.split())[:200]}" if body else ""


def _page_name(page: int) -> str:
    return f"page_{page:04d}.json.gz"


def _saved_page(path: Path, page: int) -> dict[str, Any] | None:
    """The envelope of a page saved by an earlier run, or None when it must be fetched again."""
    try:
        return validate_page(gzip.decompress(path.read_bytes()), page)
    except (OSError, EOFError, ValueError):
        return None


def unfinished_fetch(folder: Path) -> str | None:
    """Why ``folder`` is no source yet, when its ``manifest`` is a fetch's that did not finish.

    A fetch stopped part way (retries used up, a listing that changed, Ctrl-C) leaves its
    pages on disk; read as they are, they make a week's report of some of its interactions
    with nothing to show it. None for a finished fetch and for any other folder (one without
    a manifest, or a file of that name that is not a fetch's).
    """
    try:
        manifest = orjson.loads((folder / MANIFEST_NAME).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(manifest, dict) or manifest.get("complete") is not False:
        return None
    done, last = manifest.get("pages_done"), manifest.get("last_page")
    count = len(done) if isinstance(done, list) else 0
    of = f" of {last}" if isinstance(last, int) and not isinstance(last, bool) else ""
    since, until = manifest.get("since"), manifest.get("until")
    again = (
        f" (--since {since} --until {until} --out {shlex.quote(str(folder.parent))})"
        if all(isinstance(d, str) and _is_date(d) for d in (since, until))
        else ""
    )
    return (
        f"{folder} holds an incomplete fetch ({count}{of} pages saved, not marked complete): "
        f"run the same cxreports fetch again{again} to resume it before reading it, or leave "
        "the folder out"
    )


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _open_manifest(
    folder: Path, settings: ApiSettings, since: date, until: date, out_name: str
) -> dict[str, Any]:
    fresh = {
        "base_url": settings.base_url,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "page_size": settings.page_size,
        "last_page": None,
        "complete": False,
        "pages_done": [],
    }
    path = folder / MANIFEST_NAME
    try:
        manifest = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return fresh
    except (OSError, orjson.JSONDecodeError):
        log.warning("%s is unreadable; fetching every page again", path)
        return fresh
    for key in ("base_url", "page_size"):
        if manifest.get(key) != fresh[key]:
            was, now = manifest.get(key), fresh[key]
            if key == "base_url":  # a query value may be a key: masked as a redirect's is
                was = _masked_target(settings, settings.base_url, str(was))
                now = _masked_target(settings, settings.base_url, str(now))
            raise FetchError(
                f"{folder} holds pages fetched with {key} {was!r}, not {now!r}; use the same "
                f"settings to resume, or another {out_name} folder"
            )
    return {**fresh, **manifest, "pages_done": list(manifest.get("pages_done", []))}


@contextmanager
def _progress_bar(progress: bool | None) -> Iterator[Any]:
    from tqdm import tqdm

    show = progress if progress is not None else sys.stderr.isatty()
    with tqdm(desc="Fetching pages", unit="page", file=sys.stderr, disable=not show) as bar:
        yield bar
