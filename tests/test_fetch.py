"""The CX API client against a real HTTP server on 127.0.0.1 serving generated pages."""

from __future__ import annotations

import gzip
import logging
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

import cxreports
from cxreports.cli import main
from cxreports.exceptions import FetchError, OutputError, ParameterError
from cxreports.fetch import MANIFEST_NAME, ApiSettings, fetch, retry_delay, validate_page
from cxreports.sample import generate

TOKEN = "tok-5ecr3t-abc123"
SINCE, UNTIL = date(2026, 3, 16), date(2026, 3, 30)
PAGE_SIZE = 50


@dataclass
class Fault:
    """One scripted answer instead of the page: a status, a stall, or a body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    stall_s: float = 0.0
    trickle_s: float = 0.0  # seconds between the bytes of the body


@dataclass
class FakeApi:
    """The server's pages, scripted faults per page, and every request it saw."""

    url: str
    pages: dict[int, bytes]
    faults: dict[int, list[Fault]] = field(default_factory=dict)
    always: dict[int, Fault] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def count(self) -> Counter[int]:
        return Counter(int(r["page"]) for r in self.requests)


@pytest.fixture(scope="module")
def served_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    generate(folder, records=300, weeks=2, seed=11, end=UNTIL, page_size=PAGE_SIZE)
    return folder


@pytest.fixture
def api(served_pages: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    monkeypatch.setenv("CXREPORTS_API_TOKEN", TOKEN)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    pages = {
        int(p.stem.rsplit("_", 1)[1]): p.read_bytes()
        for p in sorted(served_pages.glob("cx_logs_page_*.json"))
    }
    state = FakeApi(url="", pages=pages)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            state.requests.append(query)
            state.auth.append(self.headers.get("Authorization"))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, b'{"message": "invalid token"}')
            expected = {"startDate": SINCE.isoformat(), "endDate": UNTIL.isoformat()}
            page = int(query.get("page", "0"))
            if (
                any(query.get(k) != v for k, v in expected.items())
                or query.get("pageSize") != str(PAGE_SIZE)
                or page not in state.pages
            ):
                return self._send(400, b'{"message": "bad query"}')
            scripted = state.faults.get(page)
            fault = scripted.pop(0) if scripted else state.always.get(page)
            if fault is None:
                return self._send(200, state.pages[page])
            if fault.stall_s:
                state.release.wait(fault.stall_s)
            body = state.pages[page] if fault.body is None else fault.body
            return self._send(fault.status, body, fault.headers, fault.trickle_s)

        def _send(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            trickle_s: float = 0.0,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if not trickle_s:
                self.wfile.write(body)
                return
            for at in range(len(body)):  # until the client gives up (a broken pipe)
                self.wfile.write(body[at : at + 1])
                state.release.wait(trickle_s)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        block_on_close = False

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a stalled answer finds its client gone; that is the point of the test

    server = Server(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/cx-logs"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def settings(api: FakeApi, **changes: object) -> ApiSettings:
    return ApiSettings(api.url, page_size=PAGE_SIZE, **changes)


def saved(folder: Path) -> dict[int, bytes]:
    return {
        int(p.name.split("_")[1].split(".")[0]): gzip.decompress(p.read_bytes())
        for p in sorted(folder.glob("page_*.json.gz"))
    }


def test_full_fetch_keeps_every_page_byte_for_byte(
    api: FakeApi, served_pages: Path, tmp_path: Path
) -> None:
    result = fetch(settings(api), SINCE, UNTIL, tmp_path, sleep=pytest.fail)

    assert result.folder == tmp_path / "2026-03-16_2026-03-30"
    assert saved(result.folder) == api.pages
    assert (result.pages_fetched, result.pages_reused) == (len(api.pages), 0)
    assert result.records == sum(len(orjson.loads(b)["cxLogs"]["data"]) for b in api.pages.values())
    assert set(api.auth) == {f"Bearer {TOKEN}"}
    assert [r["page"] for r in api.requests] == [str(n) for n in sorted(api.pages)]
    manifest = orjson.loads((result.folder / MANIFEST_NAME).read_bytes())
    assert manifest["pages_done"] == sorted(api.pages)
    assert manifest["last_page"] == len(api.pages)
    assert manifest["complete"] is True
    assert TOKEN not in (result.folder / MANIFEST_NAME).read_text()
    assert not list(result.folder.glob("*.part"))

    fetched, direct = cxreports.load(result.folder), cxreports.load(served_pages)
    assert fetched.summary() | {"fingerprint": ""} == direct.summary() | {"fingerprint": ""}
    assert fetched.quarantined == 0


def test_429_and_500_are_retried_honouring_retry_after(api: FakeApi, tmp_path: Path) -> None:
    api.faults[2] = [Fault(429, {"Retry-After": "7"}), Fault(500), Fault(503)]
    api.faults[4] = [Fault(429, {"Retry-After": "86400"})]
    sleeps: list[float] = []

    result = fetch(settings(api, backoff_base_s=0.5), SINCE, UNTIL, tmp_path, sleep=sleeps.append)

    assert api.count()[2] == 4
    assert api.count()[4] == 2
    # Retry-After wins, then the backoff doubles per attempt; a day-long wait is capped
    assert sleeps == [7.0, 1.0, 2.0, 60.0]
    assert saved(result.folder) == api.pages


def test_a_stalled_answer_times_out_and_is_retried(api: FakeApi, tmp_path: Path) -> None:
    api.faults[1] = [Fault(stall_s=5)]
    sleeps: list[float] = []
    started = time.monotonic()

    result = fetch(settings(api, timeout_s=0.5), SINCE, UNTIL, tmp_path, sleep=sleeps.append)

    assert time.monotonic() - started < 4
    assert api.count()[1] == 2
    assert sleeps == [1.0]
    assert saved(result.folder) == api.pages


def test_a_page_trickled_a_byte_at_a_time_times_out_as_a_whole_and_is_retried(
    api: FakeApi, tmp_path: Path
) -> None:
    # each byte came well within the socket timeout, so a server sending one every 0.1 s
    # held the fetch for hours on one page
    api.always[1] = Fault(trickle_s=0.1)
    sleeps: list[float] = []
    started = time.monotonic()

    with pytest.raises(FetchError) as info:
        fetch(
            settings(api, timeout_s=0.5, max_retries=2),
            SINCE,
            UNTIL,
            tmp_path,
            sleep=sleeps.append,
        )

    assert time.monotonic() - started < 5
    assert str(info.value).startswith(
        "page 1: gave up after 3 attempts; last problem: the page did not arrive whole within "
        "0.5 s. Run the same fetch again to resume"
    )
    assert api.count()[1] == 3
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    ("fault", "retried", "message"),
    [
        (Fault(body=b"<html>maintenance</html>"), True, "page 3: gave up after 3 attempts"),
        (Fault(body=b'{"error": "oops"}'), True, "expected a page like"),
        (
            Fault(body=b'{"cxLogs": {"data": [], "page": 1, "lastPage": 5}}'),
            True,
            "expected page 3",
        ),
        (Fault(502), True, "HTTP 502"),
        (Fault(404, body=b'{"message": "no such route"}'), False, "HTTP 404 Not Found"),
        (Fault(403), False, "rejected the token in CXREPORTS_API_TOKEN (HTTP 403)"),
    ],
)
def test_a_page_that_keeps_failing_names_the_page_and_the_problem(
    api: FakeApi, tmp_path: Path, fault: Fault, retried: bool, message: str
) -> None:
    api.always[3] = fault

    with pytest.raises(FetchError, match=r"page 3|HTTP 403") as info:
        fetch(settings(api, max_retries=2), SINCE, UNTIL, tmp_path, sleep=lambda s: None)

    assert message in str(info.value)
    assert api.count()[3] == (3 if retried else 1)
    assert TOKEN not in str(info.value)


def test_a_non_json_answer_is_retried_then_saved_when_good(api: FakeApi, tmp_path: Path) -> None:
    api.faults[2] = [Fault(body=b"<html>Bad gateway</html>")]

    result = fetch(settings(api), SINCE, UNTIL, tmp_path, sleep=lambda s: None)

    assert api.count()[2] == 2
    assert saved(result.folder) == api.pages


def test_a_wrong_token_fails_at_once_without_showing_it(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXREPORTS_API_TOKEN", "wrong-" + TOKEN)

    with pytest.raises(FetchError) as info:
        fetch(settings(api), SINCE, UNTIL, tmp_path, sleep=pytest.fail)

    assert str(info.value) == (
        "the API rejected the token in CXREPORTS_API_TOKEN (HTTP 401); check it"
    )
    assert len(api.requests) == 1
    assert TOKEN not in repr(info.value)


def test_a_missing_token_names_the_variable(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CXREPORTS_API_TOKEN")

    with pytest.raises(FetchError, match="CXREPORTS_API_TOKEN"):
        fetch(settings(api), SINCE, UNTIL, tmp_path)

    assert api.requests == []


@pytest.mark.parametrize(
    ("token", "found"),
    [
        ("tok-SECRET\n-123", "holds a line break"),
        ("tok-SECRET\r-123", "holds a line break"),
        ("tok-SECRET\t-123", "holds a control character"),
        ("tok-SECRET\u20ac-123", "holds a character outside ASCII"),
        ("tok-SECRET\u00e9-123", "holds a character outside ASCII"),
    ],
)
def test_a_token_that_cannot_go_in_a_header_is_refused_before_any_request(
    api: FakeApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    token: str,
    found: str,
) -> None:
    # it used to end in a traceback from http.client that printed the header, token and all
    monkeypatch.setenv("CXREPORTS_API_TOKEN", token)
    caplog.set_level(logging.DEBUG)
    argv = ["--since", "2026-03-16", "--until", "2026-03-30", "--out", str(tmp_path / "r")]

    code = main(["fetch", *argv, "--base-url", api.url, "--page-size", str(PAGE_SIZE)])

    assert code == FetchError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"the API token in CXREPORTS_API_TOKEN {found}" in err
    for text in (err, caplog.text):
        assert "SECRET" not in text
    assert api.requests == []
    assert not (tmp_path / "r").exists()


def test_an_interrupted_fetch_resumes_with_the_missing_pages_only(
    api: FakeApi, tmp_path: Path
) -> None:
    api.always[3] = Fault(500)
    with pytest.raises(FetchError, match="page 3: gave up"):
        fetch(settings(api, max_retries=1), SINCE, UNTIL, tmp_path, sleep=lambda s: None)
    folder = tmp_path / "2026-03-16_2026-03-30"
    assert sorted(saved(folder)) == [1, 2]
    manifest = orjson.loads((folder / MANIFEST_NAME).read_bytes())
    assert (manifest["pages_done"], manifest["complete"]) == ([1, 2], False)

    del api.always[3]
    result = fetch(settings(api), SINCE, UNTIL, tmp_path, sleep=pytest.fail)

    last = len(api.pages)
    assert api.count() == Counter({1: 1, 2: 1, 3: 3, **{n: 1 for n in range(4, last + 1)}})
    assert (result.pages_reused, result.pages_fetched) == (2, last - 2)
    assert saved(folder) == api.pages

    again = fetch(settings(api), SINCE, UNTIL, tmp_path, sleep=pytest.fail)
    assert (again.pages_reused, again.pages_fetched, again.records) == (last, 0, result.records)
    assert len(api.requests) == last + 2


def test_an_incomplete_fetch_is_refused_as_a_source_until_it_is_resumed(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # its pages were read as if they were all: a week's report of some of its interactions
    api.always[3] = Fault(500)
    raw, out, store = tmp_path / "raw", tmp_path / "out", tmp_path / "store"
    with pytest.raises(FetchError, match="page 3: gave up"):
        fetch(settings(api, max_retries=0), SINCE, UNTIL, raw, sleep=pytest.fail)
    folder = raw / f"{SINCE}_{UNTIL}"
    week = ["--week", "2026-W12", "--tz", "UTC"]

    for argv in (
        ["load", str(folder)],
        ["load", str(raw)],
        ["load", str(folder / "page_0001.json.gz")],
        ["load", str(folder), "--out", str(store)],
        ["metrics", "summary", str(folder), *week],
        [
            "report",
            "agent-performance",
            str(raw / "*" / "page_*.json.gz"),
            *week,
            "--out",
            str(out),
        ],
    ):
        code = main(argv)

        assert code == ParameterError.exit_code, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"{folder} holds an incomplete fetch (2 of {len(api.pages)} pages saved" in err
        assert f"fetch again (--since {SINCE} --until {UNTIL} --out {raw}) to resume it" in err
    assert not store.exists() and not out.exists()

    del api.always[3]
    fetch(settings(api), SINCE, UNTIL, raw, sleep=pytest.fail)
    assert main(["load", str(raw)]) == 0


def test_a_damaged_saved_page_is_fetched_again(api: FakeApi, tmp_path: Path) -> None:
    first = fetch(settings(api), SINCE, UNTIL, tmp_path)
    (first.folder / "page_0002.json.gz").write_bytes(b"not gzip")

    again = fetch(settings(api), SINCE, UNTIL, tmp_path)

    assert (again.pages_fetched, again.pages_reused) == (1, len(api.pages) - 1)
    assert saved(again.folder) == api.pages


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[str | None]]]:
    """Another server on 127.0.0.1, where a redirect points: its URL and the Authorization
    header of every request it got."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_stops_the_fetch_and_names_where_it_points_masked(
    api: FakeApi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    elsewhere: tuple[str, list[str | None]],
    status: int,
) -> None:
    # urllib followed it: pages (and, with a copied header, the token) went to an address
    # nobody chose
    host, seen = elsewhere
    query = "startDate=2026-03-16&page=1&sig=SECRET-sig"
    api.faults[1] = [Fault(status, {"Location": f"http://me:SECRET@{host}/v2/cx-logs?{query}"})]
    argv = ["--since", "2026-03-16", "--until", "2026-03-30", "--out", str(tmp_path)]

    code = main(["fetch", *argv, "--base-url", api.url, "--page-size", str(PAGE_SIZE)])

    assert code == FetchError.exit_code == 7
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        f"page 1: the API redirects to http://***@{host}/v2/cx-logs?sig=*** (HTTP {status})" in err
    )
    assert "if that address is trusted, set --base-url" in err
    assert "SECRET" not in err and TOKEN not in err
    assert seen == []  # not asked at all, with the token or without
    assert len(api.requests) == 1  # a redirect is no failure a retry mends
    assert not list(tmp_path.rglob("page_*"))


def test_the_progress_bar_counts_pages(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fetch(settings(api), SINCE, UNTIL, tmp_path, progress=True)

    assert f"{len(api.pages)}/{len(api.pages)}" in capsys.readouterr().err


def test_resuming_with_another_page_size_is_refused(api: FakeApi, tmp_path: Path) -> None:
    fetch(settings(api), SINCE, UNTIL, tmp_path)

    with pytest.raises(FetchError, match="page_size 50, not 100"):
        fetch(ApiSettings(api.url), SINCE, UNTIL, tmp_path)


def test_resuming_from_another_base_url_is_refused_with_its_query_values_masked(
    api: FakeApi, tmp_path: Path
) -> None:
    first = ApiSettings(f"{api.url}?tenant=acme&key=SECRET-1", page_size=PAGE_SIZE)
    fetch(first, SINCE, UNTIL, tmp_path)

    with pytest.raises(FetchError) as refused:
        fetch(
            replace(first, base_url=f"{api.url}?tenant=acme&key=SECRET-2"), SINCE, UNTIL, tmp_path
        )
    message = str(refused.value)
    assert f"holds pages fetched with base_url '{api.url}?tenant=***&key=***'" in message
    assert "SECRET" not in message


def _envelope(api: FakeApi, page: int) -> dict:
    return orjson.loads(api.pages[page])["cxLogs"]


def _listing(api: FakeApi, page: int, **changes: object) -> bytes:
    return orjson.dumps({"requestId": "r", "cxLogs": {**_envelope(api, page), **changes}})


def _complete(result_folder: Path) -> bool:
    return orjson.loads((result_folder / MANIFEST_NAME).read_bytes())["complete"]


def test_an_empty_page_before_the_last_stops_and_is_not_complete(
    api: FakeApi, tmp_path: Path
) -> None:
    assert len(api.pages) >= 4
    api.always[2] = Fault(body=_listing(api, 2, data=[]))
    folder = tmp_path / f"{SINCE}_{UNTIL}"

    with pytest.raises(FetchError, match=f"page 2 of {len(api.pages)} is empty"):
        fetch(settings(api), SINCE, UNTIL, tmp_path)
    assert not _complete(folder)
    # the next run, once the server is right again, fetches the missing pages
    del api.always[2]
    result = fetch(settings(api), SINCE, UNTIL, tmp_path)
    assert _complete(folder) and saved(result.folder) == api.pages


def test_a_listing_that_grows_on_every_call_is_refused(api: FakeApi, tmp_path: Path) -> None:
    for page in api.pages:
        if page > 1:
            api.always[page] = Fault(body=_listing(api, page, lastPage=len(api.pages) + page))

    with pytest.raises(FetchError, match="the listing changed during the fetch"):
        fetch(settings(api), SINCE, UNTIL, tmp_path)
    assert len(api.requests) == 2


def test_a_listing_longer_than_max_pages_is_refused(api: FakeApi, tmp_path: Path) -> None:
    api.always[1] = Fault(body=_listing(api, 1, lastPage=10**9))

    with pytest.raises(FetchError, match="more than the 10,000 a fetch follows"):
        fetch(settings(api), SINCE, UNTIL, tmp_path)
    assert len(api.requests) == 1


def test_records_far_below_the_total_stop_the_fetch(api: FakeApi, tmp_path: Path) -> None:
    received = sum(len(_envelope(api, p)["data"]) for p in api.pages)
    for page in api.pages:
        api.always[page] = Fault(body=_listing(api, page, total=received * 2))

    with pytest.raises(FetchError, match=f"received {received:,} records"):
        fetch(settings(api), SINCE, UNTIL, tmp_path)
    assert not _complete(tmp_path / f"{SINCE}_{UNTIL}")


def test_a_total_a_little_off_is_reported(api: FakeApi, tmp_path: Path) -> None:
    result = fetch(settings(api), SINCE, UNTIL, tmp_path)
    assert result.total == _envelope(api, 1)["total"]  # page 1's: pages differ
    assert result.records == sum(len(_envelope(api, p)["data"]) for p in api.pages)


def test_the_cli_fetches_then_loads(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "raw"
    argv = ["--since", "2026-03-16", "--until", "2026-03-30", "--out", str(out)]

    code = main(["fetch", *argv, "--base-url", api.url, "--page-size", str(PAGE_SIZE)])

    assert code == 0
    printed = capsys.readouterr().out
    assert f"fetched {len(api.pages)} pages" in printed
    assert "2026-03-16_2026-03-30" in printed
    assert main(["load", str(out / "2026-03-16_2026-03-30")]) == 0


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_the_cli_names_an_out_folder_it_cannot_write(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    # it used to end in a NotADirectoryError / FileNotFoundError traceback, exit 1
    (tmp_path / "a-file").write_text("not a folder")
    argv = ["--since", "2026-03-16", "--until", "2026-03-30", "--out", str(tmp_path / where)]

    code = main(["fetch", *argv, "--base-url", api.url, "--page-size", str(PAGE_SIZE)])

    assert code == OutputError.exit_code == 11
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{tmp_path / where}: a file is in the way where a folder is needed" in err
    assert (tmp_path / "a-file").read_text() == "not a folder"
    assert api.requests == []


def test_the_cli_takes_the_base_url_from_the_environment(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXREPORTS_API_BASE_URL", api.url)
    argv = ["--since", "2026-03-16", "--until", "2026-03-30", "--out", str(tmp_path)]

    assert main(["fetch", *argv, "--page-size", str(PAGE_SIZE)]) == 0
    assert len(api.requests) == len(api.pages)


def test_the_cli_reports_a_rejected_token_without_printing_it(
    api: FakeApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "wrong-" + TOKEN
    monkeypatch.setenv("CXREPORTS_API_TOKEN", wrong)
    caplog.set_level(logging.DEBUG)
    argv = ["--since", "2026-03-16", "--until", "2026-03-30", "--out", str(tmp_path)]

    code = main(["fetch", *argv, "--base-url", api.url, "--page-size", str(PAGE_SIZE)])

    assert code == FetchError.exit_code == 7
    captured = capsys.readouterr()
    assert "HTTP 401" in captured.err
    for text in (captured.out, captured.err, caplog.text):
        assert wrong not in text
        assert TOKEN not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(wrong.encode() in p.read_bytes() for p in files)


def test_retry_warnings_do_not_show_an_echoed_token(
    api: FakeApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api.faults[1] = [Fault(500, body=f"debug: Authorization: Bearer {TOKEN}".encode())]

    fetch(settings(api), SINCE, UNTIL, tmp_path, sleep=lambda s: None)

    assert "page 1: HTTP 500" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "2026-03-30", "--until", "2026-03-16"], "on or before --until"),
        (["--since", "2026-03-16", "--until", "2026-03-30", "--base-url", "ftp://x"], "http"),
        (["--since", "2026-03-16", "--until", "2026-03-30", "--page-size", "0"], "at least 1"),
    ],
)
def test_the_cli_rejects_bad_parameters(
    api: FakeApi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    base = [] if "--base-url" in argv else ["--base-url", api.url]
    code = main(["fetch", *argv, *base, "--out", str(tmp_path)])

    assert code == ParameterError.exit_code
    assert message in capsys.readouterr().err
    assert api.requests == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "it is not a valid URL (Invalid IPv6 URL)"),
        ("http://127.0.0.1:8765/v1 x", "it holds a space or a line break"),
        ("http://127.0.0.1:8765/v1\tx", "it holds a space or a line break"),
        ("http://127.0.0.1:8765/v1\x1bx", "it holds a control character"),
        ("http://127.0.0.1:8765/v\u00e9", "it holds a character outside ASCII"),
        ("http:///v1/cx-logs", "it names no host"),
        ("http:127.0.0.1/v1", "it does not start with http:// or https://"),
        ("127.0.0.1:8765/v1", "it does not start with http:// or https://"),
        ("http://127.0.0.1:99999/v1", "it is not a valid URL (Port out of range 0-65535)"),
        ("http://127.0.0.1:port/v1", "it is not a valid URL (Port could not be cast"),
        ("http://127.0.0.1:0/v1", "its port is 0"),
        ("http://me:pw-SECRET@127.0.0.1/v1", "it holds a user name or password"),
        ("http://127.0.0.1/v1#cx", "it holds a #fragment"),
    ],
)
@pytest.mark.parametrize("given", ["flag", "environment"])
def test_a_malformed_base_url_is_one_line_exit_2_before_any_request(
    api: FakeApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    problem: str,
    given: str,
) -> None:
    # 'http://[::1' used to end in a ValueError traceback; a URL with a space was retried six
    # times (InvalidURL, ~31 s), then "Run the same fetch again to resume"
    argv = ["--since", "2026-03-16", "--until", "2026-03-30", "--out", str(tmp_path / "r")]
    if given == "flag":
        argv += ["--base-url", url]
    else:
        monkeypatch.setenv("CXREPORTS_API_BASE_URL", url)
    started = time.monotonic()

    code = main(["fetch", *argv])

    assert code == ParameterError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    where = "--base-url" if given == "flag" else "CXREPORTS_API_BASE_URL"
    assert f"error: {where} must be an http:// or https:// URL such as https://" in err
    assert problem in err
    assert "SECRET" not in err
    assert time.monotonic() - started < 5
    assert not (tmp_path / "r").exists()


def test_fetch_checks_the_base_url_of_its_settings(api: FakeApi, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"^the API's base URL must be .*: it names no host"):
        fetch(ApiSettings("https://"), SINCE, UNTIL, tmp_path, sleep=pytest.fail)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 1.0),
        (2, None, 2.0),
        (4, None, 8.0),
        (10, None, 60.0),
        (1, "3", 3.0),
        (3, "0", 0.0),
        (1, "2.5", 2.5),
        (1, "100000", 60.0),
        (2, "Wed, 21 Oct 2026 07:28:00 GMT", 2.0),
        (2, "-4", 2.0),
    ],
)
def test_retry_delay(attempt: int, retry_after: str | None, expected: float) -> None:
    assert retry_delay(ApiSettings("http://x"), attempt, retry_after) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not JSON"),
        (b"[1, 2]", "got list"),
        (b'{"cxLogs": {"data": {}}}', "cxLogs.data to be a list"),
        (b'{"cxLogs": {"data": []}}', "lastPage to be a whole number"),
        (b'{"cxLogs": {"data": [], "lastPage": true}}', "lastPage to be a whole number"),
    ],
)
def test_validate_page_says_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_page(body)
