#!/usr/bin/env python3
"""Generate a synthetic multi-base SQLAlchemy project for benchmarking unibase.

    python benchmarks/generate.py OUT --files 2000 --relevant 200 --bases 3 --models 60 --seed 1

The tree is deterministic: the same arguments give the same bytes. It has exactly ``--files``
``.py`` files, ``--relevant`` of which matter to unibase (the modules defining the bases and
their models, the ``models/__init__.py`` re-export modules, the engine/session module, an
Alembic-style ``env.py``, and importers of the models that use every import form unibase
rewrites). The rest are irrelevant but realistic modules: docstrings, stdlib imports, constants,
functions, classes, dataclasses, enums, 100-300 lines each, spread over a package layout with
``__init__.py`` files (half inside the application package, half in sibling library packages).

The relevant files depend only on ``--relevant/--bases/--models/--seed`` and the three realism
knobs, never on ``--files``: a 2,000-file and a 20,000-file tree generated with the same
arguments share the same relevant set, byte for byte.

Realism knobs (the words irrelevant code shares with relevant code in real projects):

``--abs-imports F``  share of the intra-project imports of irrelevant modules written absolutely
                     (``from shopapp.billing.utils.money import fmt``): they name the
                     application package, as relevant files do (default 0.3).
``--loggers F``      share of modules, relevant and irrelevant, with the module-level
                     ``logger = logging.getLogger(__name__)`` (default 0.5).
``--lookalikes F``   share of irrelevant modules using a SQLAlchemy-ish word in another sense:
                     ``self.metadata``, a plugin ``registry``, a text ``Table(...)`` (default 0.02).
``--dunder-all F``   share of irrelevant modules with an ``__all__`` (the ``models/__init__.py``
                     re-export modules have one) (default 0.1).
``--clean``          all four set to 0: irrelevant code shares no word with relevant code.

A ``bench-manifest.json`` at the root lists the bases, models and relevant files by construction.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = 1
MANIFEST = "bench-manifest.json"

APP_NAMES = ("shopapp", "ledgerly", "fleetdesk", "clinicore", "tradepost", "eventhub")
BASE_DOMAINS = ("core", "billing", "catalog", "shipping", "support", "identity", "inventory",
                "marketing", "payroll", "scheduling", "compliance", "loyalty")
NOISE_DOMAINS = ("reporting", "integrations", "exports", "webhooks", "search", "admin", "cli",
                 "notifications", "imports", "dashboards", "feeds", "audit_trail", "tooling", "jobs")
RELEVANT_DOMAIN_NOISE_DIRS = ("utils", "handlers", "formatting", "validation", "helpers", "parsers")
LIB_NAMES = ("textkit", "netutils", "cachelib", "pipeline", "configlib", "mathx", "imaging", "streamio",
             "timekit", "datashape", "crypto_utils", "fsutils", "geom", "scheduler_lib", "templating",
             "metrics_lib", "retrykit", "serde", "clikit", "diffkit")

ENTITY_NOUNS = (
    "Customer", "Invoice", "Payment", "Product", "Order", "Shipment", "Address", "Ticket", "Account",
    "Subscription", "Coupon", "Refund", "Warehouse", "Supplier", "Category", "Review", "Employee",
    "Department", "Project", "Assignment", "Contract", "Vendor", "Carrier", "Parcel", "Voucher",
    "Wallet", "Ledger", "Budget", "Campaign", "Segment", "Lead", "Opportunity", "Quote", "Receipt",
    "Tenant", "Membership", "Role", "Permission", "Device", "Location", "Region", "Currency",
    "Discount", "Bundle", "Variant", "Brand", "Manufacturer", "Stock", "Reservation", "Booking",
    "Shift", "Timesheet", "Payslip", "Claim", "Policy", "Incident", "Escalation", "Survey",
)
ENTITY_SUFFIXES = ("", "Line", "Item", "Rate", "Note", "Tag", "Change", "Entry", "Link", "Snapshot")

NOISE_NOUNS = (
    "token", "chunk", "buffer", "payload", "header", "frame", "packet", "window", "metric", "sample",
    "span", "cursor", "offset", "digest", "column_width", "glyph", "vertex", "edge", "node", "graph",
    "matrix", "vector", "path", "url", "query_string", "cookie", "host", "port", "socket", "stream",
    "pixel", "color", "palette", "font", "layout", "margin", "cell", "grid", "row_text", "field_name",
    "word", "phrase", "locale", "timezone", "interval", "deadline", "quota", "limit", "threshold",
    "weight", "score", "rank", "bucket", "shard", "partition", "checksum", "nonce", "salt", "cipher",
    "template", "snippet", "fragment", "label", "caption", "slug", "marker", "hint", "flag", "option",
    "setting", "profile_name", "job_spec", "worker", "queue", "lease", "lock", "timer", "counter",
)
NOISE_VERBS = ("parse", "render", "load", "dump", "fetch", "merge", "split", "normalize", "validate",
               "compute", "resolve", "encode", "decode", "flush", "collect", "filter", "build", "format",
               "scan", "expand", "compress", "trim", "pad", "hash", "sort", "group", "rotate", "clamp",
               "estimate", "convert", "sanitize", "tokenize", "wrap", "index", "match", "select_best")
CLASS_SUFFIXES = ("Reader", "Writer", "Builder", "Cache", "Pool", "Parser", "Config", "Client",
                  "Tracker", "Formatter", "Registry_", "Buffer", "Planner", "Scanner", "Encoder")


def camel(snake: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in snake.split("_") if p)


def snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


# --- filler code ---------------------------------------------------------------------------------


class Names:
    """Unique identifiers for one module. Relevant modules pass a ``prefix`` (their model's name)
    so that the names they define never collide with the names irrelevant modules use."""

    def __init__(self, rng: random.Random, prefix: str = "") -> None:
        self.rng = rng
        self.prefix = prefix
        self.used: set[str] = set()

    def _unique(self, make) -> str:
        for _ in range(50):
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name
        i = 2
        base = make()
        while f"{base}_{i}" in self.used:
            i += 1
        self.used.add(f"{base}_{i}")
        return f"{base}_{i}"

    def noun(self) -> str:
        return self.rng.choice(NOISE_NOUNS)

    def func(self) -> str:
        r = self.rng
        return self._unique(lambda: f"{r.choice(NOISE_VERBS)}_{r.choice(NOISE_NOUNS)}")

    def klass(self, make) -> str:
        """A class name (or any module-level name) from ``make()``, with the module's prefix."""
        return self._unique(lambda: self.prefix + make())

    def cls(self) -> str:
        r = self.rng
        return self.klass(lambda: camel(r.choice(NOISE_NOUNS)) + r.choice(CLASS_SUFFIXES).rstrip("_"))

    def const(self) -> str:
        r = self.rng
        pre = snake(self.prefix).upper() + "_" if self.prefix else ""
        return self._unique(lambda: f"{pre}{r.choice(('DEFAULT', 'MAX', 'MIN', 'TYPICAL'))}_{r.choice(NOISE_NOUNS).upper()}"
                            f"_{r.choice(('SIZE', 'COUNT', 'LIMIT', 'WIDTH', 'RETRIES', 'TIMEOUT'))}")

    def typevar(self) -> str:
        return f"_{self.prefix}T" if self.prefix else "T"


@dataclass
class Chunk:
    lines: list[str]
    imports: set[str] = field(default_factory=set)  # "import x" / "from x import y" lines
    defines: list[str] = field(default_factory=list)  # public names


def _doc(rng: random.Random, subject: str) -> str:
    return rng.choice((
        f"Return the {subject} for the given input.",
        f"Compute the {subject}, skipping empty values.",
        f"Build the {subject} used by the callers in this package.",
        f"Normalise and return the {subject}; raise ValueError on bad input.",
        f"Helper for the {subject}: kept small and pure so it is easy to test.",
    ))


def t_parse(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun = n.func(), n.noun()
    sep = rng.choice((";", ",", "|", "&"))
    lines = [
        f"def {name}(line: str, *, strict: bool = False) -> dict[str, str]:",
        f'    """{_doc(rng, noun.replace("_", " ") + " fields")}"""',
        "    fields: dict[str, str] = {}",
        f'    for part in line.strip().split("{sep}"):',
        "        if not part:",
        "            continue",
        '        key, sep, value = part.partition("=")',
        "        if not sep:",
        "            if strict:",
        f'                raise ValueError(f"malformed {noun} part: {{part!r}}")',
        "            continue",
        "        fields[key.strip().lower()] = value.strip()",
    ]
    if calls:
        lines.append(f"    fields = {{k: {rng.choice(calls)}(v) for k, v in fields.items()}}")
    lines.append("    return fields")
    return Chunk(lines, set(), [name])


def t_aggregate(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun, key = n.func(), n.noun(), n.noun()
    lines = [
        f"def {name}(items: Iterable[Mapping[str, Any]]) -> dict[str, float]:",
        f'    """{_doc(rng, "totals per " + key.replace("_", " "))}"""',
        "    totals: defaultdict[str, float] = defaultdict(float)",
        "    counts: Counter[str] = Counter()",
        "    for item in items:",
        f'        group = str(item.get("{key}", "unknown"))',
        f'        value = item.get("{noun}")',
        "        if value is None:",
        "            continue",
        "        try:",
        "            totals[group] += float(value)",
        "        except (TypeError, ValueError):",
        '            logging.getLogger(__name__).debug("skipping %r", value)',
        "            continue",
        "        counts[group] += 1",
        f"    if {rng.choice(('True', 'counts'))}:",
        "        return {k: totals[k] / counts[k] for k in totals if counts[k]}",
        "    return dict(totals)",
    ]
    return Chunk(lines, {"from collections import Counter, defaultdict", "from typing import Any, Iterable, Mapping",
                         "import logging"}, [name])


def t_regex(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun = n.func(), n.noun()
    const = n.klass(lambda: f"_{noun.upper()}_RE")
    pat = rng.choice((r"^(?P<key>[a-z_]+)\s*[:=]\s*(?P<value>.+)$", r"(?P<key>\w+)@(?P<value>[\w.-]+)",
                      r"\{\{\s*(?P<key>\w+)\s*\}\}(?P<value>)", r"(?P<key>[A-Z]{2,})-(?P<value>\d+)"))
    lines = [
        f'{const} = re.compile(r"{pat}")',
        "",
        "",
        f"def {name}(text: str) -> list[tuple[str, str]]:",
        f'    """{_doc(rng, "matches of " + noun.replace("_", " "))}"""',
        "    found = []",
        "    for raw in text.splitlines():",
        f"        m = {const}.search(raw)",
        "        if m is None:",
        "            continue",
        '        found.append((m.group("key"), m.group("value").strip()))',
        "    found.sort(key=lambda kv: kv[0])",
        "    return found",
    ]
    return Chunk(lines, {"import re"}, [name])


def t_files(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun = n.func(), n.noun()
    ext = rng.choice(("json", "txt", "cfg", "ndjson"))
    lines = [
        f"def {name}(directory: Path, pattern: str = \"*.{ext}\") -> list[dict]:",
        f'    """{_doc(rng, noun.replace("_", " ") + " documents on disk")}"""',
        "    results: list[dict] = []",
        "    for path in sorted(directory.glob(pattern)):",
        "        if not path.is_file():",
        "            continue",
        '        text = path.read_text(encoding="utf-8")',
        "        try:",
        "            data = json.loads(text)",
        "        except json.JSONDecodeError:",
        f'            data = {{"raw": text, "{noun}": None}}',
        '        data.setdefault("source", path.name)',
        "        results.append(data)",
        "    return results",
    ]
    return Chunk(lines, {"import json", "from pathlib import Path"}, [name])


def t_dataclass(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    cls = n.cls()
    fields = []
    seen = set()
    for _ in range(rng.randint(3, 7)):
        f_name = rng.choice(NOISE_NOUNS)
        if f_name in seen:
            continue
        seen.add(f_name)
        fields.append((f_name, rng.choice(("int", "str", "float", "bool", "list[str]", "dict[str, int]"))))
    lines = ["@dataclass(frozen=True)", f"class {cls}:", f'    """A {cls} value ({len(fields)} fields)."""', ""]
    for f_name, typ in fields:
        default = {"int": "0", "str": '""', "float": "0.0", "bool": "False"}.get(typ)
        if default is None:
            default = f"field(default_factory={typ.split('[')[0]})"
        lines.append(f"    {f_name}: {typ} = {default}")
    lines += ["", "    @classmethod", f"    def from_dict(cls, data: dict[str, Any]) -> \"{cls}\":",
              "        known = {f.name for f in fields(cls)}",
              "        return cls(**{k: v for k, v in data.items() if k in known})",
              "", "    def to_dict(self) -> dict[str, Any]:", "        return asdict(self)"]
    return Chunk(lines, {"from dataclasses import asdict, dataclass, field, fields", "from typing import Any"}, [cls])


def t_class(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    cls, noun, other = n.cls(), n.noun(), n.noun()
    lines = [
        f"class {cls}:",
        f'    """Keeps track of {noun.replace("_", " ")} values and their {other.replace("_", " ")}."""',
        "",
        "    def __init__(self, capacity: int = 128, *, name: str | None = None) -> None:",
        "        self.capacity = capacity",
        f"        self.name = name or {cls!r}",
        "        self._items: list[tuple[str, int]] = []",
        "        self._closed = False",
        "",
        "    def __len__(self) -> int:",
        "        return len(self._items)",
        "",
        "    def __repr__(self) -> str:",
        '        return f"<{type(self).__name__} {self.name} {len(self)}/{self.capacity}>"',
        "",
        "    @property",
        "    def full(self) -> bool:",
        "        return len(self._items) >= self.capacity",
        "",
        f"    def add(self, {noun}: str, {other}: int = 1) -> None:",
        "        if self._closed:",
        '            raise RuntimeError("closed")',
        "        if self.full:",
        "            self._items.pop(0)",
        f"        self._items.append(({noun}, {other}))",
        "",
        f"    def total(self) -> int:",
        "        return sum(v for _, v in self._items)",
        "",
        f"    def top(self, k: int = 5) -> list[str]:",
        "        ranked = sorted(self._items, key=lambda kv: (-kv[1], kv[0]))",
        "        return [key for key, _ in ranked[:k]]",
        "",
        "    def close(self) -> None:",
        "        self._closed = True",
        "        self._items.clear()",
    ]
    if calls:
        lines[-2:-2] = [f"        {rng.choice(calls)}(self.name)"]
    return Chunk(lines, set(), [cls])


def t_retry(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name = n._unique(lambda: rng.choice(("retrying", "with_retries", "backoff", "retry_on_error", "persistent")))
    lines = [
        f"def {name}(attempts: int = 3, delay: float = 0.1, exceptions: tuple = (OSError,)):",
        '    """Retry the decorated function on the given exceptions, with exponential backoff."""',
        "",
        "    def decorate(func):",
        "        @functools.wraps(func)",
        "        def wrapper(*args, **kwargs):",
        "            wait = delay",
        "            for attempt in range(1, attempts + 1):",
        "                try:",
        "                    return func(*args, **kwargs)",
        "                except exceptions:",
        "                    if attempt == attempts:",
        "                        raise",
        "                    time.sleep(wait)",
        "                    wait *= 2",
        "            return None",
        "",
        "        return wrapper",
        "",
        "    return decorate",
    ]
    return Chunk(lines, {"import functools", "import time"}, [name])


def t_chunks(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun, t = n.func(), n.noun(), n.typevar()
    lines = [
        f"def {name}(values: Iterable[{t}], size: int = {rng.choice((8, 16, 32, 64, 100))}) -> Iterator[list[{t}]]:",
        f'    """Yield {noun.replace("_", " ")} values in lists of at most ``size``."""',
        "    if size <= 0:",
        '        raise ValueError("size must be positive")',
        "    it = iter(values)",
        "    while True:",
        "        batch = list(itertools.islice(it, size))",
        "        if not batch:",
        "            return",
        "        yield batch",
    ]
    return Chunk(lines, {"import itertools", "from typing import Iterable, Iterator, TypeVar", f"{t} = TypeVar(\"{t}\")"},
                 [name])


def t_hash(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun = n.func(), n.noun()
    algo = rng.choice(("sha256", "sha1", "blake2b", "md5"))
    lines = [
        f"def {name}(parts: Iterable[str], *, length: int = 16) -> str:",
        f'    """A stable short {algo} digest of the {noun.replace("_", " ")} parts (sorted first)."""',
        f"    h = hashlib.{algo}()",
        "    for part in sorted(parts):",
        '        h.update(part.encode("utf-8"))',
        '        h.update(b"\\x00")',
        "    return h.hexdigest()[:length]",
    ]
    return Chunk(lines, {"import hashlib", "from typing import Iterable"}, [name])


def t_dates(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun = n.func(), n.noun()
    lines = [
        f"def {name}(start: datetime, end: datetime, step_minutes: int = {rng.choice((5, 15, 30, 60))}) -> list[datetime]:",
        f'    """Every {noun.replace("_", " ")} boundary between ``start`` and ``end``, in UTC."""',
        "    if start.tzinfo is None:",
        "        start = start.replace(tzinfo=timezone.utc)",
        "    if end.tzinfo is None:",
        "        end = end.replace(tzinfo=timezone.utc)",
        "    out = []",
        "    current = start",
        "    step = timedelta(minutes=step_minutes)",
        "    while current < end:",
        "        out.append(current)",
        "        current += step",
        "    return out",
    ]
    return Chunk(lines, {"from datetime import datetime, timedelta, timezone"}, [name])


def t_enum(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    cls = n.klass(lambda: camel(rng.choice(NOISE_NOUNS)) + rng.choice(("Kind", "Mode", "Level", "Style")))
    members = []
    for w in rng.sample(("low", "medium", "high", "auto", "manual", "fast", "slow", "strict", "lenient",
                         "compact", "verbose", "off"), rng.randint(3, 6)):
        members.append(f'    {w.upper()} = "{w}"')
    lines = [f"class {cls}(str, enum.Enum):", f'    """How a {cls[:-4].lower() or "value"} behaves."""', ""] + members
    lines += ["", "    @classmethod", f"    def parse(cls, text: str) -> \"{cls}\":", "        try:",
              "            return cls(text.strip().lower())", "        except ValueError:",
              f"            return cls.{members[0].split('=')[0].strip()}"]
    return Chunk(lines, {"import enum"}, [cls])


def t_async(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun = n.func(), n.noun()
    lines = [
        f"async def {name}_all(sources: list[str], limit: int = 4) -> dict[str, int]:",
        f'    """Process every {noun.replace("_", " ")} source concurrently, at most ``limit`` at a time."""',
        "    semaphore = asyncio.Semaphore(limit)",
        "    results: dict[str, int] = {}",
        "",
        "    async def one(source: str) -> None:",
        "        async with semaphore:",
        "            await asyncio.sleep(0)",
        "            results[source] = len(source)",
        "",
        "    await asyncio.gather(*(one(s) for s in sources))",
        "    return results",
    ]
    return Chunk(lines, {"import asyncio"}, [f"{name}_all"])


def t_validate(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    err = n.klass(lambda: camel(rng.choice(NOISE_NOUNS)) + "Error")
    name, noun = n.func(), n.noun()
    lo, hi = rng.randint(0, 5), rng.randint(50, 5000)
    lines = [
        f"class {err}(ValueError):",
        f'    """Raised when a {noun.replace("_", " ")} is out of range."""',
        "",
        "",
        f"def {name}(value: Any, *, low: int = {lo}, high: int = {hi}) -> int:",
        f'    """{_doc(rng, noun.replace("_", " "))}"""',
        "    if isinstance(value, str):",
        "        value = value.strip()",
        "        if not value:",
        f'            raise {err}("empty value")',
        "    try:",
        "        number = int(value)",
        "    except (TypeError, ValueError) as exc:",
        f'        raise {err}(f"not a number: {{value!r}}") from exc',
        "    if not low <= number <= high:",
        f'        raise {err}(f"{{number}} is outside [{{low}}, {{high}}]")',
        "    return number",
    ]
    return Chunk(lines, {"from typing import Any"}, [err, name])


def t_lru(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    cls = n.klass(lambda: camel(rng.choice(NOISE_NOUNS)) + "LRU")
    lines = [
        f"class {cls}:",
        '    """A small least-recently-used mapping."""',
        "",
        f"    def __init__(self, maxsize: int = {rng.choice((32, 128, 256, 1024))}) -> None:",
        "        self.maxsize = maxsize",
        "        self._data: OrderedDict[str, Any] = OrderedDict()",
        "        self.hits = 0",
        "        self.misses = 0",
        "",
        "    def get(self, key: str, default: Any = None) -> Any:",
        "        if key in self._data:",
        "            self._data.move_to_end(key)",
        "            self.hits += 1",
        "            return self._data[key]",
        "        self.misses += 1",
        "        return default",
        "",
        "    def put(self, key: str, value: Any) -> None:",
        "        self._data[key] = value",
        "        self._data.move_to_end(key)",
        "        while len(self._data) > self.maxsize:",
        "            self._data.popitem(last=False)",
        "",
        "    def stats(self) -> dict[str, int]:",
        '        return {"hits": self.hits, "misses": self.misses, "size": len(self._data)}',
    ]
    return Chunk(lines, {"from collections import OrderedDict", "from typing import Any"}, [cls])


def t_cli(rng: random.Random, n: Names, calls: list[str]) -> Chunk:
    name, noun = n.func(), n.noun()
    lines = [
        f"def {name}_main(argv: list[str] | None = None) -> int:",
        f'    """Command-line entry point: print the {noun.replace("_", " ")} summary of each argument."""',
        f'    parser = argparse.ArgumentParser(description="{noun.replace("_", " ")} tool")',
        '    parser.add_argument("paths", nargs="*")',
        '    parser.add_argument("--verbose", "-v", action="store_true")',
        "    args = parser.parse_args(argv)",
        "    status = 0",
        "    for p in args.paths:",
        "        if not os.path.exists(p):",
        '            print(f"missing: {p}", file=sys.stderr)',
        "            status = 1",
        "            continue",
        "        size = os.path.getsize(p)",
        "        if args.verbose:",
        '            print(f"{p}: {size} bytes")',
    ]
    if calls:
        lines.append(f"        {rng.choice(calls)}(p)")
    lines.append("    return status")
    return Chunk(lines, {"import argparse", "import os", "import sys"}, [f"{name}_main"])


TEMPLATES = (t_parse, t_aggregate, t_regex, t_files, t_dataclass, t_class, t_retry, t_chunks, t_hash,
             t_dates, t_enum, t_async, t_validate, t_lru, t_cli)


def lookalike_chunk(rng: random.Random, n: Names) -> Chunk:
    """SQLAlchemy words in another sense: what real irrelevant code says now and then."""
    kind = rng.randrange(3)
    if kind == 0:
        cls = n.cls()
        lines = [f"class {cls}:", '    """A document with free-form metadata."""', "",
                 "    def __init__(self, body: str, metadata: dict | None = None) -> None:",
                 "        self.body = body", "        self.metadata = dict(metadata or {})", "",
                 "    def tag(self, key: str, value: str) -> None:", "        self.metadata[key] = value"]
        return Chunk(lines, set(), [cls])
    if kind == 1:
        lines = ["# plugin registry: name -> factory", "_plugin_registry: dict[str, Callable[..., Any]] = {}", "", "",
                 "def register_plugin(name: str):", '    """Register the decorated factory under ``name``."""', "",
                 "    def decorate(factory):", "        _plugin_registry[name] = factory", "        return factory", "",
                 "    return decorate"]
        return Chunk(lines, {"from typing import Any, Callable"}, ["register_plugin"])
    name = n.func()
    lines = [f"def {name}_table(rows: list[list[str]], headers: list[str]) -> str:",
             '    """Render rows as a plain-text Table(...) with aligned columns."""',
             "    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]",
             '    fmt = "  ".join("{:<%d}" % w for w in widths)',
             "    out = [fmt.format(*headers), fmt.format(*('-' * w for w in widths))]",
             "    out.extend(fmt.format(*r) for r in rows)",
             '    return "\\n".join(out)']
    return Chunk(lines, set(), [f"{name}_table"])


def _sort_imports(imports: set[str]) -> list[str]:
    plain = sorted(i for i in imports if i.startswith("import "))
    froms = sorted(i for i in imports if i.startswith("from "))
    other = sorted(i for i in imports if not i.startswith(("import ", "from ")))
    return plain + froms + ([""] if other else []) + other


def filler_module(rng: random.Random, *, target_lines: int, doc: str, local_imports: list[str],
                  calls: list[str], logger: bool, lookalike: bool, all_names: bool,
                  header_imports: list[str] | None = None, names: Names | None = None,
                  prelude: list[str] | None = None) -> tuple[str, list[str]]:
    """A realistic module of about ``target_lines`` lines; returns (text, public names)."""
    n = names or Names(rng)
    chunks: list[Chunk] = []
    if lookalike:
        chunks.append(lookalike_chunk(rng, n))
    total = 0
    while total < target_lines - 20:
        c = rng.choice(TEMPLATES)(rng, n, calls)
        chunks.append(c)
        total += len(c.lines) + 3
    rng.shuffle(chunks)
    imports: set[str] = set()
    for c in chunks:
        imports |= c.imports
    if logger:
        imports.add("import logging")
    typevars = sorted(i for i in imports if not i.startswith(("import ", "from ")))
    imports -= set(typevars)
    lines = [f'"""{doc}"""', "", "from __future__ import annotations", ""]
    lines += _sort_imports(imports)
    if header_imports:
        lines += [""] + header_imports
    if local_imports:
        lines += [""] + local_imports
    lines.append("")
    if logger:
        lines += ["logger = logging.getLogger(__name__)", ""]
    if typevars:
        lines += typevars + [""]
    for i in range(rng.randint(1, 3)):
        lines.append(f"{n.const()} = {rng.choice((8, 16, 30, 64, 100, 256, 1000, 4096))}")
    public = [name for c in chunks for name in c.defines]
    if all_names:
        lines += ["", "__all__ = ["] + [f'    "{p}",' for p in public[:6]] + ["]"]
    lines += [""]
    if prelude:
        lines += ["", *prelude]
    for c in chunks:
        lines += ["", ""] + c.lines
    return "\n".join(lines).rstrip() + "\n", public


# --- the relevant part -----------------------------------------------------------------------------


@dataclass
class Model:
    name: str
    table: str
    base: int
    module: str  # dotted
    file: str
    columns: list[tuple[str, str]]  # (attr, kind)


@dataclass
class BaseDef:
    index: int
    domain: str
    name: str
    kind: str
    module: str
    file: str
    models: list[Model] = field(default_factory=list)
    model_modules: list[tuple[str, list[Model]]] = field(default_factory=list)  # (stem, models)


BASE_FORMS = ("DeclarativeBase", "declarative_base", "generate_base", "declarative_base")


class Project:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rel_rng = random.Random(f"unibase-bench:{args.seed}:relevant")
        self.app = APP_NAMES[args.seed % len(APP_NAMES)]
        self.files: dict[str, str] = {}  # rel -> text
        self.relevant: list[str] = []
        self.bases: list[BaseDef] = []
        self.dirs: set[str] = set()

    # paths --------------------------------------------------------------------------------------
    def add(self, rel: str, text: str, relevant: bool) -> None:
        assert rel not in self.files, rel
        self.files[rel] = text
        if relevant:
            self.relevant.append(rel)
        parent = rel.rpartition("/")[0]
        if rel.endswith(".py"):
            self.dirs.add(parent)

    def src(self, *parts: str) -> str:
        return "/".join(("src", self.app) + parts)

    def mod(self, *parts: str) -> str:
        return ".".join((self.app,) + parts)

    # the relevant set ---------------------------------------------------------------------------
    def plan_relevant(self) -> None:
        a, r = self.args, self.rel_rng
        k_bases = a.bases
        if k_bases > len(BASE_DOMAINS):
            raise SystemExit(f"at most {len(BASE_DOMAINS)} bases")
        if a.models < k_bases:
            raise SystemExit("--models must be at least --bases (every base has a model)")
        # models per base: the first base gets the most, so it is the canonical one
        first = max(1, round(a.models * 2 / (k_bases + 1))) if k_bases > 1 else a.models
        counts = [first]
        rest = a.models - first
        for i in range(1, k_bases):
            share = rest // (k_bases - i)
            counts.append(share)
            rest -= share
        if k_bases > 1 and any(c >= counts[0] for c in counts[1:]):
            raise SystemExit("--models too small for the first base to have the most models")
        if any(c < 1 for c in counts):
            raise SystemExit("--models too small: every base needs a model")
        # unique entity names
        pool = [n + s for s in ENTITY_SUFFIXES for n in ENTITY_NOUNS]
        order = r.sample(ENTITY_NOUNS, len(ENTITY_NOUNS)) + r.sample(pool[len(ENTITY_NOUNS):], len(pool) - len(ENTITY_NOUNS))
        if a.models > len(order):
            raise SystemExit(f"at most {len(order)} models")
        names = order[: a.models]
        it = iter(names)
        for i in range(k_bases):
            domain = BASE_DOMAINS[i]
            kind = BASE_FORMS[0] if i == 0 else BASE_FORMS[1 + (i - 1) % (len(BASE_FORMS) - 1)]
            if i == 0:
                b = BaseDef(i, domain, "Base", kind, self.mod("db", "base"), self.src("db", "base.py"))
            else:
                stem = ("database", "orm", "db_base")[(i - 1) % 3]
                b = BaseDef(i, domain, f"{camel(domain)}Base", kind, self.mod(domain, stem), self.src(domain, f"{stem}.py"))
            models = [next(it) for _ in range(counts[i])]
            j = 0
            while j < len(models):
                size = min(r.choice((1, 1, 2, 2, 3)), len(models) - j)
                group = models[j: j + size]
                stem = snake(group[0])
                mm = []
                for name in group:
                    cols = self._columns(r)
                    m = Model(name, plural(snake(name)), i, self.mod(domain, "models", stem),
                              self.src(domain, "models", f"{stem}.py"), cols)
                    mm.append(m)
                    b.models.append(m)
                b.model_modules.append((stem, mm))
                j += size
            self.bases.append(b)
        fixed = k_bases + sum(len(b.model_modules) for b in self.bases) + k_bases + 2  # + models/__init__ + session + env
        self.n_importers = a.relevant - fixed
        if self.n_importers < 0:
            raise SystemExit(f"--relevant must be at least {fixed} for {a.bases} bases and {a.models} models")

    @staticmethod
    def _columns(r: random.Random) -> list[tuple[str, str]]:
        pool = [("name", "str"), ("code", "str"), ("title", "str"), ("description", "text"), ("amount", "num"),
                ("quantity", "int"), ("status", "str"), ("is_active", "bool"), ("created_at", "dt"),
                ("updated_at", "dt"), ("notes", "text"), ("priority", "int"), ("email", "str"), ("reference", "str"),
                ("starts_on", "date"), ("ends_on", "date"), ("score", "num"), ("external_id", "str")]
        k = r.randint(4, 9)
        picked = r.sample(pool, k)
        order = {c: i for i, c in enumerate(pool)}
        return sorted(picked, key=lambda c: order[c])

    def all_models(self) -> list[Model]:
        return [m for b in self.bases for m in b.models]

    def write_relevant(self) -> None:
        r = self.rel_rng
        a = self.args
        by_name = {m.name: m for m in self.all_models()}
        # base modules
        for b in self.bases:
            self.add(b.file, self._base_module(b), True)
        # model modules and re-exports
        earlier: list[Model] = []
        for b in self.bases:
            for stem, models in b.model_modules:
                self.add(models[0].file, self._model_module(b, models, earlier, r), True)
                earlier.extend(models)
            self.add(self.src(b.domain, "models", "__init__.py"), self._models_init(b), True)
        self.add(self.src("db", "session.py"), self._session_module(), True)
        self.add("migrations/env.py", self._env_module(), True)
        # importers
        kinds = (("services", "service"), ("repositories", "repository"), ("api", "routes"), ("tasks", "jobs"),
                 ("tests", "test"))
        used: set[str] = set()
        all_models = self.all_models()
        for i in range(self.n_importers):
            b = self.bases[i % len(self.bases)]
            folder, suffix = kinds[(i // len(self.bases)) % len(kinds)]
            own = b.models
            main = r.choice(own)
            stem = snake(main.name)
            if folder == "tests":
                rel = f"tests/{b.domain}/test_{stem}.py"
            else:
                rel = self.src(b.domain, folder, f"{stem}_{suffix}.py")
            k = 2
            while rel in used:
                rel = rel[:-3].rstrip("0123456789").rstrip("_") + f"_{k}.py"
                k += 1
            used.add(rel)
            others = [m for m in all_models if m is not main]
            extra = r.sample(others, r.randint(1, 3))
            self.add(rel, self._importer(rel, folder, main, extra, i, r), True)
        assert len(self.relevant) == a.relevant, (len(self.relevant), a.relevant)
        # the packages of the relevant files: docstring-only __init__.py files (irrelevant)
        del by_name

    # module texts ---------------------------------------------------------------------------------
    def _base_module(self, b: BaseDef) -> str:
        head = f'"""The declarative base of the {b.domain} models."""\n\nfrom __future__ import annotations\n\n'
        if b.kind == "DeclarativeBase":
            return head + (
                "from datetime import datetime\n\n"
                "from sqlalchemy import DateTime\n"
                "from sqlalchemy.orm import DeclarativeBase\n\n\n"
                f"class {b.name}(DeclarativeBase):\n"
                '    """Every model of the application subclasses this."""\n\n'
                "    type_annotation_map = {datetime: DateTime(timezone=True)}\n\n"
                "    def to_dict(self) -> dict:\n"
                "        return {c.key: getattr(self, c.key) for c in self.__table__.columns}\n"
            )
        if b.kind == "generate_base":
            return head + (
                "from sqlalchemy.orm import registry\n\n"
                "mapper_registry = registry()\n"
                f"{b.name} = mapper_registry.generate_base()\n"
            )
        return head + f"from sqlalchemy.orm import declarative_base\n\n{b.name} = declarative_base()\n"

    def _column_line(self, b: BaseDef, attr: str, kind: str) -> str:
        sa_type = {"str": "String(120)", "text": "Text", "num": "Numeric(12, 2)", "int": "Integer",
                   "bool": "Boolean", "dt": "DateTime", "date": "Date"}[kind]
        py_type = {"str": "str", "text": "str", "num": "Decimal", "int": "int", "bool": "bool", "dt": "datetime",
                   "date": "date"}[kind]
        extra = ""
        if attr in ("code", "email", "external_id", "reference"):
            extra = ", unique=True"
        elif attr in ("is_active",):
            extra = ", default=True"
        elif attr == "created_at":
            extra = ", server_default=func.now()"
        elif attr in ("notes", "description", "ends_on"):
            extra = ", nullable=True"
        if b.kind == "DeclarativeBase":
            opt = " | None" if "nullable=True" in extra else ""
            return f"    {attr}: Mapped[{py_type}{opt}] = mapped_column({sa_type}{extra})"
        return f"    {attr} = Column({sa_type}{extra})"

    def _model_module(self, b: BaseDef, models: list[Model], earlier: list[Model], r: random.Random) -> str:
        mapped = b.kind == "DeclarativeBase"
        lines = [f'"""{", ".join(m.name for m in models)}: {b.domain} models."""', "", "from __future__ import annotations",
                 "", "import enum"]
        if mapped:
            lines += ["from datetime import date, datetime", "from decimal import Decimal", "",
                      "from sqlalchemy import Boolean, Date, DateTime, Enum, ForeignKey, Integer, Numeric, String, Text, func",
                      "from sqlalchemy.orm import Mapped, mapped_column, relationship"]
        else:
            lines += ["", "from sqlalchemy import Boolean, Column, Date, DateTime, Enum, ForeignKey, Integer, Numeric, "
                      "String, Text, func", "from sqlalchemy.orm import relationship"]
        # the base: absolute or relative, by base
        lines.append("")
        if b.index == 0:
            lines.append(f"from {self.mod('db', 'base')} import Base" if r.random() < 0.5 else "from ...db.base import Base")
        else:
            stem = b.module.rsplit(".", 1)[1]
            lines.append(f"from ..{stem} import {b.name}" if r.random() < 0.5 else f"from {b.module} import {b.name}")
        for m in models:
            status = f"{m.name}Status"
            lines += ["", "", f"class {status}(str, enum.Enum):", f'    """Lifecycle of a {snake(m.name).replace("_", " ")}."""', ""]
            for s in r.sample(("draft", "active", "pending", "closed", "archived", "cancelled", "approved"), 3):
                lines.append(f'    {s.upper()} = "{s}"')
            lines += ["", "", f"class {m.name}({b.name}):", f'    """A {snake(m.name).replace("_", " ")}."""', "",
                      f'    __tablename__ = "{m.table}"', ""]
            lines.append("    id: Mapped[int] = mapped_column(Integer, primary_key=True)" if mapped
                         else "    id = Column(Integer, primary_key=True)")
            for attr, kind in m.columns:
                lines.append(self._column_line(b, attr, kind))
            lines.append(f"    state: Mapped[{status}] = mapped_column(Enum({status}), default={status}.{s.upper()})" if mapped
                         else f"    state = Column(Enum({status}), default={status}.{s.upper()})")
            # foreign keys: to earlier models of this base, sometimes to another base (cross-base)
            targets = [e for e in earlier + [x for x in b.models if x in models[: models.index(m)]]]
            own = [t for t in targets if t.base == b.index]
            cross = [t for t in targets if t.base != b.index]
            fks = []
            if own:
                fks += r.sample(own, min(len(own), r.randint(0, 2)))
            if cross and r.random() < 0.35:
                fks.append(r.choice(cross))
            for t in fks:
                col = f"{snake(t.name)}_id"
                if mapped:
                    lines.append(f'    {col}: Mapped[int | None] = mapped_column(ForeignKey("{t.table}.id"), index=True)')
                    lines.append(f'    {snake(t.name)}: Mapped["{t.name}"] = relationship()')
                else:
                    lines.append(f'    {col} = Column(Integer, ForeignKey("{t.table}.id"), index=True)')
                    target = t.name
                    if t.base == b.index and r.random() < 0.15:
                        target = f"{t.module}.{t.name}"  # module-qualified: rewritten by UB003
                    lines.append(f'    {snake(t.name)} = relationship("{target}")')
            lines += ["", "    def __repr__(self) -> str:", f'        return f"<{m.name} {{self.id}}>"']
            attrs = [c for c, _ in m.columns]
            if "name" in attrs or "title" in attrs:
                label = "name" if "name" in attrs else "title"
                lines += ["", "    @property", "    def label(self) -> str:", f'        return (self.{label} or "").strip()']
            if "amount" in attrs and "quantity" in attrs:
                lines += ["", "    def total(self) -> Decimal:" if mapped else "    def total(self):",
                          "        return (self.amount or 0) * (self.quantity or 0)"]
        return "\n".join(lines).rstrip() + "\n"

    def _models_init(self, b: BaseDef) -> str:
        lines = [f'"""The {b.domain} models."""', ""]
        names = []
        for stem, models in b.model_modules:
            lines.append(f"from .{stem} import {', '.join(m.name for m in models)}")
            names += [m.name for m in models]
        lines += ["", "__all__ = ["] + [f'    "{n}",' for n in names] + ["]"]
        return "\n".join(lines) + "\n"

    def _session_module(self) -> str:
        lines = ['"""Engine, sessions and schema creation."""', "", "from __future__ import annotations", "", "import os", "",
                 "from sqlalchemy import create_engine", "from sqlalchemy.orm import sessionmaker", ""]
        for b in self.bases:
            lines.append(f"from {b.module} import {b.name}")
        lines.append("")
        for b in self.bases:
            lines.append(f"import {self.mod(b.domain, 'models')}  # noqa: F401  (registers the models)")
        lines += ["", 'engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///app.db"))',
                  "SessionLocal = sessionmaker(bind=engine, expire_on_commit=False)", "", "",
                  "def init_db() -> None:", '    """Create every table."""']
        for b in self.bases:
            lines.append(f"    {b.name}.metadata.create_all(engine)")
        lines += ["", "", "def get_session():", "    session = SessionLocal()", "    try:", "        yield session",
                  "    finally:", "        session.close()"]
        return "\n".join(lines) + "\n"

    def _env_module(self) -> str:
        lines = ['"""Alembic environment."""', "", "from __future__ import annotations", ""]
        for b in self.bases:
            lines.append(f"from {b.module} import {b.name}")
        lines += ["", "target_metadata = [" + ", ".join(f"{b.name}.metadata" for b in self.bases) + "]", "", "",
                  "def run_migrations_offline(context) -> None:",
                  '    context.configure(url="sqlite://", target_metadata=target_metadata, literal_binds=True)',
                  "    with context.begin_transaction():", "        context.run_migrations()"]
        return "\n".join(lines) + "\n"

    def _import_form(self, rel: str, folder: str, m: Model, r: random.Random, form: int) -> tuple[list[str], str, bool]:
        """(import lines, expression naming the class, function-local?) for one model."""
        b = self.bases[m.base]
        stem = m.module.rsplit(".", 1)[1]
        importer_dom = rel.split("/")[2] if rel.startswith("src/") else None
        same_domain = importer_dom == b.domain and folder != "tests"
        if form == 0:
            return [f"from {m.module} import {m.name}"], m.name, False
        if form == 1:
            return [f"from {self.mod(b.domain, 'models')} import {m.name}"], m.name, False
        if form == 2 and same_domain:
            return [f"from ..models.{stem} import {m.name}"], m.name, False
        if form == 3 and same_domain:
            return [f"from ..models import {stem}"], f"{stem}.{m.name}", False
        if form == 4:
            alias = f"{stem}_models"
            return [f"import {m.module} as {alias}"], f"{alias}.{m.name}", False
        if form == 5:
            return [f"from {m.module} import {m.name} as {m.name}Model"], f"{m.name}Model", False
        if form == 6:
            return [f"from {m.module} import {m.name}"], m.name, True
        if form == 7:
            return [f"from {self.mod(b.domain)} import models as {b.domain}_models"], f"{b.domain}_models.{m.name}", False
        return [f"from {m.module} import {m.name}"], m.name, False

    def _importer(self, rel: str, folder: str, main: Model, extra: list[Model], i: int, r: random.Random) -> str:
        a = self.args
        imports: list[str] = []
        local: dict[str, list[str]] = {}
        exprs: dict[str, str] = {}
        for j, m in enumerate([main] + extra):
            form = (i + j * 3) % 8
            lines, expr, is_local = self._import_form(rel, folder, m, r, form)
            exprs[m.name] = expr
            if is_local:
                local[m.name] = lines
            else:
                for line in lines:
                    if line not in imports:
                        imports.append(line)
        tc = []
        if i % 5 == 4 and extra:
            m = extra[-1]
            if m.name not in local:
                line = f"from {m.module} import {m.name}"
                if line in imports and exprs[m.name] == m.name:
                    imports.remove(line)
                    tc.append(line)
        names = Names(r, prefix=main.name)
        svc = f"{main.name}{camel(folder.rstrip('s')) if folder != 'tests' else 'Checks'}"
        names.used.add(svc)
        cols = [c for c, _ in main.columns]
        e = exprs[main.name]
        body = [
            f"class {svc}:",
            f'    """{folder.capitalize()} for {snake(main.name).replace("_", " ")} records."""',
            "",
            "    def __init__(self, session: Session) -> None:",
            "        self.session = session",
            "",
            f"    def get(self, ident: int) -> {e} | None:",
            f"        return self.session.get({e}, ident)",
            "",
            f"    def list_recent(self, limit: int = 50) -> list[{e}]:",
            f"        stmt = select({e}).order_by({e}.id.desc()).limit(limit)",
            "        return list(self.session.scalars(stmt))",
            "",
            f"    def find(self, {cols[0]}: str) -> {e} | None:",
            f"        stmt = select({e}).where({e}.{cols[0]} == {cols[0]})",
            "        return self.session.scalars(stmt).first()",
            "",
            f"    def create(self, **values) -> {e}:",
            f"        obj = {e}(**values)",
            "        self.session.add(obj)",
            "        self.session.flush()",
            "        return obj",
        ]
        for m in extra:
            ex = exprs[m.name]
            fn = f"count_{snake(m.name)}"
            if m.name in local:
                body += ["", "", f"def {fn}(session: Session) -> int:",
                         f'    """How many {plural(snake(m.name)).replace("_", " ")} there are."""']
                body += [f"    {line}" for line in local[m.name]]
                body += [f"    return session.scalar(select(func.count()).select_from({ex})) or 0"]
            else:
                body += ["", "", f"def {fn}(session: Session) -> int:",
                         f'    """How many {plural(snake(m.name)).replace("_", " ")} there are."""',
                         f"    return session.scalar(select(func.count()).select_from({ex})) or 0"]
        if tc:
            tm = extra[-1]
            body += ["", "", f'def describe_{snake(tm.name)}(obj: "{tm.name}") -> str:',
                     f'    return f"{tm.name} #{{obj.id}}"']
        header = ["from sqlalchemy import func, select", "from sqlalchemy.orm import Session"]
        local_imports = list(imports)
        if tc:
            local_imports += ["", "if TYPE_CHECKING:"] + [f"    {t}" for t in tc]
            header = ["from typing import TYPE_CHECKING", ""] + header
        doc = f"{folder.capitalize()}: {snake(main.name).replace('_', ' ')} and related records."
        text, _ = filler_module(
            r, target_lines=r.randint(100, 300) - len(body), doc=doc, local_imports=local_imports, calls=[],
            logger=r.random() < a.loggers, lookalike=False, all_names=False, header_imports=header, names=names,
            prelude=body)
        return text

    # the irrelevant part ----------------------------------------------------------------------------
    def write_noise(self) -> None:
        a = self.args
        # docstring-only __init__.py for every package holding relevant files
        pkg_inits = set()
        for rel in self.relevant:
            if not rel.startswith("src/"):
                continue
            parts = rel.split("/")[1:-1]
            for k in range(1, len(parts) + 1):
                pkg_inits.add("src/" + "/".join(parts[:k]) + "/__init__.py")
        for rel in ("tests/__init__.py",) + tuple(f"tests/{b.domain}/__init__.py" for b in self.bases):
            pkg_inits.add(rel)
        pkg_inits -= set(self.files)
        budget = a.files - len(self.files)
        if budget < len(pkg_inits):
            raise SystemExit(f"--files must be at least {len(self.files) + len(pkg_inits)}")
        for rel in sorted(pkg_inits):
            pkg = rel.rsplit("/", 2)[-2]
            self.add(rel, f'"""{pkg.replace("_", " ").capitalize()} package."""\n', False)
        budget = a.files - len(self.files)
        # packages of irrelevant modules: (dir, dotted module prefix or None for lib, in app?)
        layout = self._noise_layout(budget)
        for pkg_dir, dotted, modules in layout:
            self._write_noise_package(pkg_dir, dotted, modules)
        assert len(self.files) == a.files, (len(self.files), a.files)

    def _noise_layout(self, budget: int) -> list[tuple[str, str, int]]:
        """Split ``budget`` files into packages of 6-16 files (each counting its __init__.py)."""
        layout_rng = random.Random(f"unibase-bench:{self.args.seed}:layout:{self.args.files}")
        out: list[tuple[str, str, int]] = []
        app_budget = budget // 2
        spots = []
        for b in self.bases:
            for d in RELEVANT_DOMAIN_NOISE_DIRS:
                spots.append((self.src(b.domain, d), self.mod(b.domain, d)))
        for d in NOISE_DOMAINS:
            spots.append((self.src(d), self.mod(d)))
        remaining = app_budget
        counter = 0
        i = 0
        while remaining > 0:
            base_dir, base_mod = spots[i % len(spots)]
            gen = i // len(spots)
            if gen:
                sub = f"{layout_rng.choice(NOISE_NOUNS)}_{gen}"
                base_dir, base_mod = f"{base_dir}/{sub}", f"{base_mod}.{sub}"
            size = min(remaining, layout_rng.randint(6, 16))
            out.append((base_dir, base_mod, size))
            remaining -= size
            i += 1
            counter += 1
        remaining = budget - app_budget
        i = 0
        while remaining > 0:
            lib = LIB_NAMES[i % len(LIB_NAMES)]
            gen = i // len(LIB_NAMES)
            pkg_dir, pkg_mod = f"src/{lib}", lib
            if gen:
                sub = f"{layout_rng.choice(NOISE_NOUNS)}_{gen}"
                pkg_dir, pkg_mod = f"{pkg_dir}/{sub}", f"{pkg_mod}.{sub}"
            size = min(remaining, layout_rng.randint(6, 16))
            out.append((pkg_dir, pkg_mod, size))
            remaining -= size
            i += 1
        return out

    def _write_noise_package(self, pkg_dir: str, dotted: str, size: int) -> None:
        a = self.args
        rng = random.Random(f"unibase-bench:{a.seed}:noise:{pkg_dir}")
        # parent packages must exist too (they count against the budget only when missing)
        n_modules = size - 1 if f"{pkg_dir}/__init__.py" not in self.files else size
        stems: list[str] = []
        used = set()
        while len(stems) < n_modules:
            stem = f"{rng.choice(NOISE_NOUNS)}_{rng.choice(('utils', 'io', 'lib', 'ops', 'helpers', 'tools', 'codec', 'model_', 'store', 'view', 'rules', 'types'))}".rstrip("_")
            if stem in used:
                stem = f"{stem}{len(stems)}"
            used.add(stem)
            stems.append(stem)
        exported: dict[str, list[str]] = {}
        texts: dict[str, str] = {}
        for k, stem in enumerate(stems):
            frng = random.Random(f"unibase-bench:{a.seed}:noise:{pkg_dir}/{stem}")
            local_imports, calls = [], []
            earlier = stems[:k]
            for dep in frng.sample(earlier, min(len(earlier), frng.randint(0, 2))):
                names = exported[dep][:2]
                if not names:
                    continue
                if frng.random() < a.abs_imports:
                    local_imports.append(f"from {dotted}.{dep} import {', '.join(names)}")
                else:
                    local_imports.append(f"from .{dep} import {', '.join(names)}")
                calls += [n for n in names if n[:1].islower()]
            text, public = filler_module(
                frng, target_lines=frng.randint(100, 300),
                doc=f"{stem.replace('_', ' ').capitalize()}: helpers of the {dotted.rsplit('.', 1)[-1].replace('_', ' ')} package.",
                local_imports=local_imports, calls=calls, logger=frng.random() < a.loggers,
                lookalike=frng.random() < a.lookalikes, all_names=frng.random() < a.dunder_all)
            exported[stem] = public
            texts[stem] = text
        if f"{pkg_dir}/__init__.py" not in self.files:
            init = f'"""{dotted.rsplit(".", 1)[-1].replace("_", " ").capitalize()} package."""\n'
            if stems and exported[stems[0]] and rng.random() < 0.5:
                first = stems[0]
                init += f"\nfrom .{first} import {exported[first][0]}\n"
            self.add(f"{pkg_dir}/__init__.py", init, False)
        for stem in stems:
            self.add(f"{pkg_dir}/{stem}.py", texts[stem], False)
        # a nested package's parents need __init__.py files too: borrow them from the budget by
        # creating them here only if missing (the layout keeps nesting to one level below a spot)
        parent = pkg_dir.rsplit("/", 1)[0]
        while stems and parent.count("/") >= 1 and f"{parent}/__init__.py" not in self.files and parent != "src":
            # counted: replace the last module of this package so the total stays exact
            victim = f"{pkg_dir}/{stems[-1]}.py"
            del self.files[victim]
            stems.pop()
            self.add(f"{parent}/__init__.py", f'"""{parent.rsplit("/", 1)[-1].replace("_", " ").capitalize()} package."""\n', False)
            parent = parent.rsplit("/", 1)[0]

    # output ---------------------------------------------------------------------------------------
    def manifest(self) -> dict:
        a = self.args
        return {
            "generator_version": GENERATOR_VERSION,
            "params": {"files": a.files, "relevant": a.relevant, "bases": a.bases, "models": a.models, "seed": a.seed,
                       "abs_imports": a.abs_imports, "loggers": a.loggers, "lookalikes": a.lookalikes,
                       "dunder_all": a.dunder_all},
            "app": self.app,
            "canonical": {"file": self.bases[0].file, "name": self.bases[0].name},
            "bases": [{"file": b.file, "name": b.name, "kind": b.kind, "models": [m.name for m in b.models]}
                      for b in self.bases],
            "models": sum(len(b.models) for b in self.bases),
            "relevant_files": sorted(self.relevant),
            "py_files": sum(1 for f in self.files if f.endswith(".py")),
            "bytes": sum(len(t.encode()) for f, t in self.files.items() if f.endswith(".py")),
            "lines": sum(t.count("\n") for f, t in self.files.items() if f.endswith(".py")),
            "digest": self.digest(),
        }

    def digest(self) -> str:
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0" + self.files[rel].encode() + b"\0")
        return h.hexdigest()


def build(args: argparse.Namespace) -> Project:
    p = Project(args)
    p.plan_relevant()
    p.write_relevant()
    p.write_noise()
    p.files["pyproject.toml"] = (
        f'[project]\nname = "{p.app}"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["SQLAlchemy>=2.0"]\n\n[tool.setuptools.packages.find]\nwhere = ["src"]\n'
    )
    return p


def generate(out: Path, *, files: int = 2000, relevant: int = 200, bases: int = 3, models: int = 60, seed: int = 1,
             abs_imports: float = 0.3, loggers: float = 0.5, lookalikes: float = 0.02, dunder_all: float = 0.1,
             force: bool = False) -> dict:
    """Write the tree to ``out`` (replacing it when ``force``); return the manifest."""
    args = argparse.Namespace(files=files, relevant=relevant, bases=bases, models=models, seed=seed,
                              abs_imports=abs_imports, loggers=loggers, lookalikes=lookalikes, dunder_all=dunder_all)
    if files < relevant:
        raise SystemExit("--files must be at least --relevant")
    project = build(args)
    manifest = project.manifest()
    if out.exists():
        if not force and any(out.iterdir()):
            raise SystemExit(f"{out} exists and is not empty; pass --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for rel, text in project.files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("out", type=Path, help="directory to create")
    p.add_argument("--files", type=int, default=2000, help="total .py files (default 2000)")
    p.add_argument("--relevant", type=int, default=200, help="files that matter to unibase (default 200)")
    p.add_argument("--bases", type=int, default=3, help="declarative bases (default 3)")
    p.add_argument("--models", type=int, default=60, help="models over all bases (default 60)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--abs-imports", type=float, default=0.3)
    p.add_argument("--loggers", type=float, default=0.5)
    p.add_argument("--lookalikes", type=float, default=0.02)
    p.add_argument("--dunder-all", type=float, default=0.1)
    p.add_argument("--clean", action="store_true", help="irrelevant code shares no word with relevant code")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    a = p.parse_args(argv)
    if a.clean:
        a.abs_imports = a.loggers = a.lookalikes = a.dunder_all = 0.0
    m = generate(a.out, files=a.files, relevant=a.relevant, bases=a.bases, models=a.models, seed=a.seed,
                 abs_imports=a.abs_imports, loggers=a.loggers, lookalikes=a.lookalikes, dunder_all=a.dunder_all,
                 force=a.force)
    print(f"{a.out}: {m['py_files']} .py files ({len(m['relevant_files'])} relevant), {m['lines']} lines, "
          f"{m['bytes'] / 1e6:.1f} MB; {len(m['bases'])} bases, {m['models']} models; digest {m['digest'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
