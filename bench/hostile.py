"""Hostile input against a running Switchboard (reliability matrix T8): the cases, a runner and the table.

Used by tests/e2e/test_hostile.py (which starts `switchboard up` with tests/fixtures/hostile-config and
asserts every status, that nothing was published and that memory stayed flat), and runnable by hand:

    python -m bench.hostile --url http://127.0.0.1:8000 --config tests/fixtures/hostile-config

with the HOSTILE_* variables of `hostile_env()` set for the server (see that function).

Every case is one HTTP request with the status contract 2 demands of it. Cases are grouped in
categories; each category's row in the table says how many requests it sent, the status expected, the
statuses seen, how many were 5xx and how many items the category made the server publish.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import httpx

from services.config.models import Config, SourceConfig
from services.demo.signing import signed_request
from services.ingest.adapters import adapter_for

MIB = 1024 * 1024
DEEP = 100_000  # nesting depth of the JSON/XML bombs


def hostile_env(seed: str = "hostile") -> dict[str, str]:
    """Secret and token values for every HOSTILE_* variable that tests/fixtures/hostile-config names.
    Deterministic for a seed; the secrets-not-logged test passes a random one."""
    def value(name: str, n: int = 32) -> str:
        return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:n]

    names = ("ZENDESK_SECRET", "ZENDESK_SECRET_NEXT", "INTERCOM_SECRET", "HUBSPOT_SECRET", "SEGMENT_SECRET",
             "JIRA_SECRET", "SLACK_SECRET", "GITHUB_SECRET", "PENDO_TOKEN", "FRESHDESK_TOKEN")
    env = {f"HOSTILE_{n}": f"{n.lower()}-{value(n)}" for n in names}
    env["HOSTILE_STANDARD_SECRET"] = "whsec_" + base64.b64encode(hashlib.sha256(f"{seed}:std".encode()).digest()).decode()
    env["HOSTILE_STRIPE_SECRET"] = "whsec_" + value("STRIPE_SECRET")
    return env


@dataclass
class Case:
    category: str
    expected: int
    path: str  # /webhooks/<source>[?query]
    headers: dict[str, str]
    body: bytes | Callable[[], Iterator[bytes]]  # a callable: sent chunked, without Content-Length
    valid: bool = False  # a control request that is supposed to publish (and to be counted as such)
    expect_retry_after: bool = False
    sign: Callable[[], tuple[dict[str, str], bytes, str]] | None = None  # sign at send time (timestamp cases)


@dataclass
class Row:
    category: str
    expected: str
    requests: int = 0
    got: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    published: int = 0  # items the category's 202 replies reported (only control requests may have any)
    wrong: list[str] = field(default_factory=list)


# ---- the cases ---------------------------------------------------------------------------------


class Cases:
    """Builds every case for the sources of a config (kinds without an adapter in this build are skipped)."""

    def __init__(self, config: Config, env: Mapping[str, str], rng: random.Random | None = None) -> None:
        self.config = config
        self.env = env
        self.rng = rng or random.Random(4)
        self.sources = [s for s in config.sources if adapter_for(s.kind) is not None and s.rate_limit is None]
        self.cases: list[Case] = []

    # signing helpers
    def secrets(self, s: SourceConfig) -> list[str]:
        return [self.env[n] for n in s.secrets if n in self.env]

    def tokens(self, s: SourceConfig) -> list[str]:
        return [self.env[n] for n in s.tokens if n in self.env]

    def signed(self, s: SourceConfig, body: bytes, now: float | None = None, delivery_id: str | None = None,
               secrets: list[str] | None = None, tokens: list[str] | None = None) -> tuple[dict[str, str], bytes, str]:
        secrets = self.secrets(s) if secrets is None else secrets
        tokens = self.tokens(s) if tokens is None else tokens
        now = time.time() if now is None else now
        try:
            return signed_request(s, secrets, tokens, body, now, delivery_id)
        except RecursionError:  # the demo GitHub signer json-parses the body to pick X-GitHub-Event
            h, _, p = signed_request(s, secrets, tokens, b"{}", now, delivery_id)
            h["x-hub-signature-256"] = "sha256=" + hmac.new(secrets[0].encode(), body, "sha256").hexdigest()
            return h, body, p

    def add(self, category: str, expected: int, path: str, headers: dict[str, str], body, **kw) -> None:  # type: ignore[no-untyped-def]
        self.cases.append(Case(category, expected, path, headers, body, **kw))

    def json_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources if "application/json" in adapter_for(s.kind).content_types]  # type: ignore[union-attr]

    def xml_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources if "text/xml" in adapter_for(s.kind).content_types]  # type: ignore[union-attr]

    def sample(self, s: SourceConfig) -> bytes:
        if s.kind == "salesforce":
            return SALESFORCE_OK.replace(b"ORG", (s.organization_id or "").encode())
        return json.dumps({"type": "feedback.created", "data": {"text": "hostile-suite sample"}, "id": "x"}).encode()

    def auth_kinds(self) -> list[SourceConfig]:
        """Sources whose authentication is a signature or a token (Salesforce authenticates by org id)."""
        return [s for s in self.sources if s.kind != "salesforce"]

    # categories
    def build(self, oversize_each: int = 15) -> list[Case]:
        r = self.rng
        native = self.config.source("native")
        assert native is not None
        good = json.dumps({"type": "feedback.created", "data": {"text": "Export to CSV times out"}}).encode()

        # control: valid, signed, unique delivery ids -> 202, each publishes one item
        for i in range(10):
            h, b, p = self.signed(native, good, delivery_id=f"msg_hostile_ok_{os.getpid()}_{time.time_ns()}_{i}")
            self.add("valid control (signed)", 202, p, h, b, valid=True)

        # lone surrogates (JavaScript senders cutting a string inside an emoji): valid JSON, accepted with U+FFFD
        for i, text in enumerate(["cut emoji \\ud83d", "\\udc00 low", "a\\ud800b\\udfffc", "pair ok \\ud83d\\ude00", "x\\ud800"]):
            body = b'{"type": "feedback.created", "data": {"text": "' + text.encode() + b'"}}'
            h, b, p = self.signed(native, body, delivery_id=f"msg_hostile_surrogate_{os.getpid()}_{time.time_ns()}_{i}")
            self.add("lone surrogates in JSON (signed)", 202, p, h, b, valid=True)
        # ...also in fields that are logged (event_type) and as raw UTF-8-encoded surrogate bytes
        for i, body in enumerate([b'{"type": "feedback.\\ud800", "data": {"text": "logged type"}}',
                                  b'{"type": "feedback.created", "data": {"text": "raw \xed\xa0\x80 bytes"}}']):
            h, b, p = self.signed(native, body, delivery_id=f"msg_hostile_surrogate_b_{os.getpid()}_{time.time_ns()}_{i}")
            self.add("lone surrogates in JSON (signed)", 202, p, h, b, valid=True)

        # 404: unknown sources (also with bodies that would fail every later check)
        names = ["nope", "NATIVE", "native_", "zendesk2", "x" * 300, "na%2Ftive", "%2e%2e", "native%00", "n%C3%A4tive",
                 "webhooks", "_unknown", "-", "limited-"]
        for i in range(120):
            name = names[i] if i < len(names) else "src" + "".join(r.choice("abcdef0123456789") for _ in range(10))
            body = [good, b"{" * 1000, b"\x00\xff" * 10, b""][i % 4]
            ctype = ["application/json", "text/plain", "", "application/xml"][i % 4]
            self.add("unknown source", 404, f"/webhooks/{name}", {"content-type": ctype} if ctype else {}, body)

        # 413: over the source's max_body_bytes, declared by Content-Length, and chunked (no Content-Length)
        for s in self.sources[:oversize_each]:
            limit = s.max_body_bytes
            ctype = sorted(adapter_for(s.kind).content_types)[0]  # type: ignore[union-attr]
            self.add("oversize (Content-Length)", 413, f"/webhooks/{s.name}", {"content-type": ctype}, b"{" + b" " * limit + b"}")
            self.add("oversize (chunked, no length)", 413, f"/webhooks/{s.name}", {"content-type": ctype},
                     _chunks(limit + 1, 64 * 1024))
            self.add("oversize (chunked, no length)", 413, f"/webhooks/{s.name}", {"content-type": ctype},
                     _chunks(limit * 4, 256 * 1024))

        # 415: a content type the source kind does not send (correctly signed otherwise)
        wrong_types = ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json-patch+json",
                       "", "application/x-www-form-urlencoded", "text/html", "application/octet-stream",
                       "application/jsonx", "json", "text/xml", "application/soap+xml"]
        for s in self.sources:
            allowed = adapter_for(s.kind).content_types  # type: ignore[union-attr]
            h, b, p = self.signed(s, self.sample(s))
            for ct in [t for t in wrong_types if t.split(";")[0] not in allowed][:8]:
                headers = {**h, "content-type": ct} if ct else {k: v for k, v in h.items() if k != "content-type"}
                self.add("wrong content type", 415, p, headers, b)

        # 401: no signature/token at all
        for s in self.auth_kinds():
            h, b, p = self.signed(s, self.sample(s))
            bare = {"content-type": h["content-type"]}
            for _ in range(6):
                self.add("missing signature/token", 401, p.split("?")[0], bare, b)

        # 401: bad signature: the right scheme under the wrong key, the body changed after signing,
        # the signature header garbled
        for s in self.auth_kinds():
            wrong_keys = {"secrets": ["whsec_" + base64.b64encode(os.urandom(32)).decode()]} if s.secrets else {"tokens": ["not-the-token"]}
            for i in range(8):
                body = self.sample(s)[:-1] + b" " * i + self.sample(s)[-1:]
                h, b, p = self.signed(s, body, **wrong_keys)  # type: ignore[arg-type]
                self.add("bad signature/token", 401, p, h, b)
                if s.secrets:  # a token does not cover the body; a signature does
                    h, b, p = self.signed(s, body)
                    self.add("bad signature/token", 401, p, h, b.replace(b"hostile", b"Hostile"))
                h, b, p = self.signed(s, body)
                self.add("bad signature/token", 401, p.split("?")[0], _garble(h, r), b)

        # 401: stale and future timestamps, for the kinds whose signature covers one (signed correctly otherwise)
        for s in self.sources:
            if not _signs_timestamp(s):
                continue
            for offset in (-302, -400, -3600, -86400 * 3, -10**9, 302, 400, 3600, 86400 * 3, 10**9):
                category = "stale timestamp (>300 s)" if offset < 0 else "future timestamp (>300 s)"
                for i in range(3):
                    self.add(category, 401, f"/webhooks/{s.name}", {}, b"",
                             sign=lambda s=s, offset=offset, i=i: self.signed(s, self.sample(s), now=time.time() + offset))

        # 400: malformed JSON, correctly signed (authentication passes, the body does not)
        for s in self.json_sources():
            for body in MALFORMED_JSON:
                h, b, p = self.signed(s, body)
                self.add("malformed JSON (signed)", 400, p, {**h, "content-type": "application/json"}, b)

        # 400: 100,000-deep nesting, correctly signed
        for s in self.json_sources():
            for body in (b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP + b"1" + b"}" * DEEP, b"[{\"a\":" * (DEEP // 2),
                         b'{"type":"x","data":{"text":"' + b"[" * 1000 + b'","x":' + b"[" * DEEP + b"]" * DEEP + b"}}"):
                h, b, p = self.signed(s, body)
                self.add("100k-deep JSON nesting", 400, p, {**h, "content-type": "application/json"}, b)

        # XML: malformed, entity bombs, external entities, deep nesting (Salesforce, authenticated by org id:
        # a body it cannot read is 401 from verify, which must read the org id first)
        for s in self.xml_sources():
            for name, body in xml_bombs(s.organization_id or ""):
                self.add(f"XML {name}", 401 if name != "malformed" else 401, f"/webhooks/{s.name}",
                         {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}, body)
            self.add("XML wrong org", 403, f"/webhooks/{s.name}", {"content-type": "text/xml"},
                     SALESFORCE_OK.replace(b"ORG", b"00D000000000001AAA"))
        return self.cases

    def burst(self, n: int = 120) -> list[Case]:
        """Valid, signed requests to the rate-limited source, as fast as possible: the first `burst` are
        accepted, then 429 with Retry-After (a token every second lets a few more through)."""
        limited = self.config.source("limited")
        assert limited is not None and limited.rate_limit is not None
        out = []
        for i in range(n):
            body = json.dumps({"type": "feedback.created", "data": {"text": f"burst {i}"}}).encode()
            h, b, p = self.signed(limited, body, delivery_id=f"msg_burst_{os.getpid()}_{time.time_ns()}_{i}")
            out.append(Case("burst over rate limit", 429, p, h, b, valid=True, expect_retry_after=True))
        return out


def _chunks(total: int, size: int) -> Callable[[], Iterator[bytes]]:
    def gen() -> Iterator[bytes]:
        yield b"{"
        sent = 1
        while sent < total:
            n = min(size, total - sent)
            yield b" " * n
            sent += n

    return gen


def _garble(headers: Mapping[str, str], r: random.Random) -> dict[str, str]:
    out = dict(headers)
    for k, v in headers.items():
        if k in ("content-type", "webhook-id", "x-github-event", "x-github-delivery", "x-github-hook-id", "soapaction"):
            continue
        if "timestamp" in k:
            continue
        choice = r.randrange(6)
        if choice == 0:
            out[k] = v[: len(v) // 2]
        elif choice == 1:
            out[k] = v[::-1]
        elif choice == 2:
            out[k] = v + "A"
        elif choice == 3:
            out[k] = "v1," + "A" * 44 + " sha256=" + "0" * 64
        elif choice == 4:
            out[k] = ""
        else:
            out[k] = "".join(r.choice("+/=,.;: ") for _ in range(20)).strip() or "="
    return out


def _signs_timestamp(s: SourceConfig) -> bool:
    return s.kind in ("standard", "zendesk", "slack", "stripe") or (s.kind == "hubspot" and bool(s.public_url))


MALFORMED_JSON: list[bytes] = [
    b"{",
    b"[",
    b'{"type": "x", "data": ',
    b'{"a" 1}',
    b"[1, 2",
    b'{"a": 1}}',
    b'{"a": 1,}',
    b"{'a': 1}",
    b'{"a": tru}',
    b'{"a": "\\x"}',
    b'{"a": 0123}',
    b'{"a": "\xff\xfe"}',
    b"[\x00]",
    b'{"a": ' + b"9" * 5000 + b"}",  # beyond CPython's int digit limit
    b'{"a": "unterminated}',
    b"{}garbage",
    b'{"a": [1, 2, 3}',
    b'{"a": "\\ud800\\u"}',
    b"[" + b"1," * 1000 + b"]",
    b'{"\xc3\x28": 1}',
]

SALESFORCE_OK = (
    b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>ORG</OrganizationId>'
    b"<ActionId>04k000000000001</ActionId><Notification><Id>04l000000000001</Id>"
    b'<sObject xsi:type="sf:Case" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    b'xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>500000000000001</sf:Id>'
    b"<sf:Subject>hostile</sf:Subject></sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"
)


def xml_bombs(org: str) -> list[tuple[str, bytes]]:
    o = org.encode()
    laughs = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    ) + b"]><notifications><OrganizationId>" + o + b"</OrganizationId><x>&lol9;</x></notifications>"
    xxe = (b'<?xml version="1.0"?><!DOCTYPE n [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           b"<notifications><OrganizationId>" + o + b"</OrganizationId><x>&xxe;</x></notifications>")
    xxe_param = (b'<?xml version="1.0"?><!DOCTYPE n [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>'
                 b"<notifications><OrganizationId>" + o + b"</OrganizationId></notifications>")
    ext_dtd = (b'<?xml version="1.0"?><!DOCTYPE notifications SYSTEM "http://127.0.0.1:1/x.dtd">'
               b"<notifications><OrganizationId>" + o + b"</OrganizationId></notifications>")
    quadratic = (b'<?xml version="1.0"?><!DOCTYPE n [<!ENTITY a "' + b"A" * 50_000 + b'">]><notifications><OrganizationId>'
                 + o + b"</OrganizationId><x>" + b"&a;" * 10_000 + b"</x></notifications>")
    deep = (b"<notifications><OrganizationId>" + o + b"</OrganizationId>" + b"<a>" * DEEP + b"</a>" * DEEP + b"</notifications>")
    out: list[tuple[str, bytes]] = []
    for _ in range(5):
        out += [("billion laughs", laughs), ("external entity (XXE)", xxe), ("external entity (XXE)", xxe_param),
                ("external entity (XXE)", ext_dtd), ("billion laughs", quadratic), ("100k-deep nesting", deep)]
    for bad in (b"<notifications>", b"<a><b></a>", b"not xml at all", b"<?xml version='1.0'?>", b"\xff\xfe<a/>",
                b"<notifications><OrganizationId>" + o + b"</OrganizationId>", b"<a>&undefined;</a>", b""):
        out.append(("malformed", bad))
    return out


# ---- running them ------------------------------------------------------------------------------


def run(base_url: str, cases: Sequence[Case], client: httpx.Client | None = None) -> tuple[list[Row], list[int]]:
    """Send every case (one connection pool, sequentially); the table rows in first-seen order and every status."""
    own = client is None
    client = client or httpx.Client(timeout=30)
    rows: dict[str, Row] = {}
    statuses: list[int] = []
    try:
        for case in cases:
            row = rows.setdefault(case.category, Row(case.category, str(case.expected)))
            row.requests += 1
            status, retry_after, accepted = send(client, base_url, case)
            statuses.append(status)
            row.got[str(status)] += 1
            if status >= 500:
                row.server_errors += 1
            if status == 202:
                row.published += accepted
            ok = status == case.expected or (case.valid and status == 202)
            if case.expect_retry_after and status == 429 and not (retry_after and retry_after.isdigit() and int(retry_after) >= 1):
                ok = False
            if not ok:
                row.wrong.append(f"{case.path[:60]} -> {status}")
    finally:
        if own:
            client.close()
    for row in rows.values():
        if any(c.valid for c in cases if c.category == row.category) and row.expected != "202":
            row.expected = f"202 then {row.expected}"
    return list(rows.values()), statuses


def send(client: httpx.Client, base_url: str, case: Case) -> tuple[int, str | None, int]:
    """(status, Retry-After, items accepted). A connection the server closed before answering counts as 0."""
    headers, body, path = case.headers, case.body() if callable(case.body) else case.body, case.path
    if case.sign is not None:
        headers, body, path = case.sign()
    try:
        resp = client.post(base_url + path, content=body, headers=headers)
    except httpx.LocalProtocolError:
        return -1, None, 0  # the client refused to send it: a broken case, not a server answer
    except httpx.HTTPError:
        return 0, None, 0
    accepted = 0
    if resp.status_code == 202:
        try:
            accepted = int(resp.json().get("accepted", 0))
        except (ValueError, AttributeError):
            accepted = 0
    return resp.status_code, resp.headers.get("retry-after"), accepted


def table(rows: Iterable[Row], events_delta: int | None = None, dlq_delta: int | None = None,
          rss: tuple[int, int] | None = None) -> str:
    rows = list(rows)
    head = ("category", "requests", "expected", "got", "5xx", "published")
    lines = [[r.category, str(r.requests), r.expected, " ".join(f"{k}x{v}" for k, v in sorted(r.got.items())),
              str(r.server_errors), str(r.published)] for r in rows]
    total = ["total", str(sum(r.requests for r in rows)), "", "", str(sum(r.server_errors for r in rows)),
             str(sum(r.published for r in rows))]
    widths = [max(len(x) for x in col) for col in zip(head, *lines, total)]
    fmt = "| " + " | ".join(f"{{:{'<' if i in (0, 2, 3) else '>'}{w}}}" for i, w in enumerate(widths)) + " |"
    out = [fmt.format(*head), "|" + "|".join(("-" * (w + 1) + ":") if i not in (0, 2, 3) else ("-" * (w + 2))
                                             for i, w in enumerate(widths)) + "|"]
    out += [fmt.format(*line) for line in lines]
    out.append(fmt.format(*total))
    if events_delta is not None:
        out.append("")
        out.append(f"SB_EVENTS grew by {events_delta} (= the accepted control requests), SB_DLQ by {dlq_delta}.")
    if rss is not None:
        out.append(f"RSS of the switchboard process: {rss[0] / MIB:.1f} MiB before, {rss[1] / MIB:.1f} MiB after "
                   f"({(rss[1] - rss[0]) / MIB:+.1f} MiB).")
    return "\n".join(out)


def rss_bytes(pid: int) -> int:
    """VmRSS of a process (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main() -> None:
    import argparse

    from services.config.loader import load_config

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--config", default="tests/fixtures/hostile-config")
    args = ap.parse_args()
    config = load_config(args.config)
    env = {**hostile_env(), **os.environ}
    builder = Cases(config, env)
    rows, _ = run(args.url, builder.build() + builder.burst())
    print(table(rows))


if __name__ == "__main__":
    main()
