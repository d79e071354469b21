"""The one place that reads, transforms, re-parses, diffs and writes files.

Codemods are pure; this module feeds them the current text of each file (phase after phase,
in memory), re-parses every output before accepting it, and writes a phase's files atomically.
Encoding, BOM, line endings and everything outside an edit are kept as they were: LibCST
round-trips the bytes it does not change.
"""

from __future__ import annotations

import ast
import difflib
import io
import multiprocessing
import os
import tempfile
import tokenize
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from .plan import Operation, Plan, fingerprint
from .project import link_out_of
from .steps import STEPS, Step, step_of


class ApplyError(RuntimeError):
    """Applying the plan cannot go on; nothing has been written."""


@dataclass(frozen=True)
class FileChange:
    path: str
    before: bytes
    after: bytes
    created: bool = False


@dataclass(frozen=True)
class Phase:
    step: Step
    operations: tuple[Operation, ...]
    changes: tuple[FileChange, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass
class _Tree:
    root: Path
    current: dict[str, bytes] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    # a MoveModels target's newest content as a tree, not yet rendered: several moves into one
    # module then cost one parse and one rendering instead of one per move
    pending: dict[str, tuple[cst.Module, Step]] = field(default_factory=dict)

    def read(self, rel: str) -> bytes:
        if rel in self.pending:
            self.render(rel)
        if rel not in self.current:
            path = self.root / rel
            try:
                self.current[rel] = path.read_bytes()
            except FileNotFoundError:
                raise ApplyError(f"{rel} does not exist; run `unibase plan` again") from None
        return self.current[rel]

    def target(self, rel: str) -> cst.Module:
        """The tree to move code into: the pending one, or the file parsed."""
        if rel in self.pending:
            return self.pending.pop(rel)[0]
        return _parse(rel, self.read(rel))

    def render(self, rel: str) -> None:
        module, step = self.pending.pop(rel)
        data = module.bytes
        _reparse(rel, data, step, self.current[rel])
        self.current[rel] = data

    def render_all(self) -> None:
        for rel in list(self.pending):
            self.render(rel)


def _parse(rel: str, data: bytes) -> cst.Module:
    from .discovery import decode_problem

    if (problem := decode_problem(data)) is not None:
        # LibCST would raise UnicodeDecodeError (or read past a NUL byte)
        what, line = problem
    else:
        try:
            return cst.parse_module(data)
        except cst.ParserSyntaxError as exc:
            what, line = exc.message.splitlines()[0], exc.raw_line
    raise ApplyError(
        f"{rel} line {line} does not parse ({what}) and the plan needs to change it; "
        "fix it, or add it to [tool.unibase] exclude"
    )


def _reparse(rel: str, data: bytes, step: Step, before: bytes) -> None:
    """Refuse output that does not parse. The interpreter's own parser decides, unless the file
    did not parse with it before either (syntax newer than the interpreter): then LibCST does."""
    problem = _compile_error(data)
    if problem is None or _compile_error(before) is not None and _libcst_parses(data):
        return
    raise ApplyError(f"{step.code} produced code for {rel} that does not parse ({problem}); nothing was written")


def _compile_error(data: bytes) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like are the file's own
            ast.parse(data)
    except (SyntaxError, ValueError) as exc:
        return f"line {getattr(exc, 'lineno', '?')}: {getattr(exc, 'msg', exc)}"
    return None


def _libcst_parses(data: bytes) -> bool:
    try:
        cst.parse_module(data)
    except cst.ParserSyntaxError:
        return False
    return True


def check_paths(root: Path, plan: Plan) -> None:
    """Refuse a plan (an edited one, say) that names a file outside the project."""
    names = list(plan.fingerprints) + [rel for op in plan.operations for rel in op.files()]
    for rel in names:
        if not isinstance(rel, str) or not rel or "\\" in rel:
            raise ApplyError(f"the plan names a file {rel!r} that is not a relative POSIX path; plan the project again")
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or ".git" in parts:
            raise ApplyError(f"the plan names {rel}, which is outside the project; plan the project again")
        if (target := link_out_of(root, rel)) is not None:
            raise ApplyError(f"{rel} is a symbolic link to {target}; unibase does not write outside the project: "
                             "replace the link with a copy of the file, or exclude it")


def check_fresh(root: Path, plan: Plan) -> None:
    """Refuse a plan whose files changed since it was made (or that names files outside the project)."""
    check_paths(root, plan)
    for rel, digest in sorted(plan.fingerprints.items()):
        path = root / rel
        if not path.exists():
            raise ApplyError(f"the plan is stale: {rel} no longer exists; run `unibase plan` again")
        if fingerprint(path) != digest:
            raise ApplyError(f"the plan is stale: {rel} changed since it was planned; run `unibase plan` again")


def compute_phases(root: Path, plan: Plan, skip: Iterable[str] = ()) -> list[Phase]:
    """Run every step of the plan in memory; return the changes of each phase in order."""
    skip = {s.upper() for s in skip}
    tree = _Tree(root)
    phases: list[Phase] = []
    for step in STEPS:
        ops = tuple(o for o in plan.operations if type(o) in step.operations)
        if step.code in skip or not ops:
            continue
        before: dict[str, bytes] = {}
        if _parallel(ops):
            _run_parallel(tree, ops, step, before)
            ops_left: tuple[Operation, ...] = ()
        else:
            ops_left = ops
        for op in ops_left:
            if _kind(op) == "create":
                (new,) = op.files()
                if (root / new).exists() or new in tree.current:
                    raise ApplyError(f"{new} already exists; move it away or run `unibase plan` again")
                tree.current[new] = b""
                tree.created.add(new)
            for rel in op.files():
                if rel not in before:
                    before[rel] = tree.read(rel)
            _run(tree, op, step)
        tree.render_all()
        changes = tuple(
            FileChange(rel, data, tree.current[rel], rel in tree.created)
            for rel, data in before.items()
            if tree.current[rel] != data
        )
        phases.append(Phase(step, ops, changes))
    return phases


# Below this many single-file operations in a step, starting worker processes costs more than
# it saves (measured on two cores: a LibCST transform takes 0.1-0.5 s per file).
PARALLEL_MIN_OPS = 16


def _parallel(ops: tuple[Operation, ...]) -> bool:
    files = [f for op in ops for f in op.files()]
    return (
        len(ops) >= PARALLEL_MIN_OPS
        and (os.cpu_count() or 1) > 1
        and all(_kind(op) == "file" for op in ops)
        and len(set(files)) == len(files)
        and "fork" in multiprocessing.get_all_start_methods()
    )


def _transform_one(job: tuple[Operation, str, bytes, str]) -> tuple[bytes | None, str | None]:
    """Worker: one single-file operation on the file's bytes; an error comes back as text."""
    op, rel, data, code = job
    step = next(s for s in STEPS if s.code == code)
    try:
        out = _transform_file(op, rel, data)
        _reparse(rel, out, step, data)
        return out, None
    except ApplyError as exc:
        return None, str(exc)


def _run_parallel(tree: _Tree, ops: tuple[Operation, ...], step: Step, before: dict[str, bytes]) -> None:
    """The operations of one step touch one file each and no file twice: transform them in
    worker processes, in order; the first error (in plan order) stops the phase."""
    jobs = []
    for op in ops:
        (rel,) = op.files()
        data = tree.read(rel)
        before.setdefault(rel, data)
        jobs.append((op, rel, data, step.code))
    workers = min(os.cpu_count() or 1, 8)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.map(_transform_one, jobs, chunksize=max(1, len(jobs) // (workers * 4))))
    for (_, rel, _, _), (out, error) in zip(jobs, results):
        if error is not None:
            raise ApplyError(error)
        tree.current[rel] = out  # type: ignore[assignment]


def _kind(op: Operation) -> str:
    """How the command of ``op`` works: ``pair`` (``transform_pair`` of a source and a target
    module, as MoveModels), ``create`` (``create()`` returns a new file's bytes) or ``file``
    (``transform`` of one module, maybe with a ``transform_bytes`` shortcut)."""
    command = step_of(type(op)).command(op)
    return "pair" if hasattr(command, "transform_pair") else "create" if hasattr(command, "create") else "file"


def _run(tree: _Tree, op: Operation, step: Step) -> None:
    kind = _kind(op)
    if kind == "pair":
        source, target = op.files()
        src = _parse(source, tree.read(source))  # scope analysis needs a freshly parsed tree
        new_src, new_dst = step.command(op)(op).transform_pair(src, tree.target(target))
        for rel, mod in ((source, new_src), (target, new_dst)):
            tree.pending[rel] = (mod, step)
        return
    if kind == "create":
        (rel,) = op.files()
        data = step.command(op)(op).create()
        _reparse(rel, data, step, b"")
        tree.current[rel] = data
        return
    (rel,) = op.files()
    before = tree.read(rel)
    data = _transform_file(op, rel, before)
    _reparse(rel, data, step, before)
    tree.current[rel] = data


def _transform_file(op: Operation, rel: str, data: bytes) -> bytes:
    """A single-file operation on the file's bytes; the command's byte-level shortcut first."""
    command = step_of(type(op)).command(op)(op)
    quick = getattr(command, "transform_bytes", None)
    if quick is not None and (out := quick(data)) is not None:
        return out
    return command.transform(_parse(rel, data)).bytes


# --- writing ------------------------------------------------------------------------------------


def write_phase(root: Path, phase: Phase) -> None:
    """Write every file of a phase or none: each goes to a temporary file first, then all are
    renamed into place; a failure part-way restores the files already replaced."""
    staged: list[tuple[Path, Path, FileChange]] = []
    try:
        for change in phase.changes:
            path = root / change.path
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".unibase-", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(change.after)
            try:
                os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
            except OSError:
                pass
            staged.append((Path(tmp), path, change))
    except OSError as exc:
        for tmp, _, _ in staged:
            tmp.unlink(missing_ok=True)
        raise ApplyError(f"cannot write {exc.filename}: {exc.strerror}; nothing was changed") from None
    done: list[tuple[Path, FileChange]] = []
    try:
        for tmp, path, change in staged:
            os.replace(tmp, _real(path))
            done.append((path, change))
    except OSError as exc:
        for path, change in done:
            if change.created:
                _real(path).unlink(missing_ok=True)
            else:
                _real(path).write_bytes(change.before)
        for tmp, _, _ in staged:
            tmp.unlink(missing_ok=True)
        raise ApplyError(f"cannot write {exc.filename}: {exc.strerror}; the phase was rolled back") from None


def _real(path: Path) -> Path:
    """Write through a symlinked module to the file it points at, keeping the link
    (``check_paths`` refused links that lead out of the project)."""
    return path.resolve() if path.is_symlink() else path


# --- diffs --------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    return data.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding, errors="surrogateescape")


def unified_diff(change: FileChange) -> str:
    a = _decode(change.before).splitlines(keepends=True)
    b = _decode(change.after).splitlines(keepends=True)
    lines = list(difflib.unified_diff(a, b, "/dev/null" if change.created else f"a/{change.path}", f"b/{change.path}"))
    out = [f"diff --git a/{change.path} b/{change.path}\n"]
    if change.created:
        out.append("new file mode 100644\n")
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def phase_diff(phase: Phase) -> str:
    return "".join(unified_diff(c) for c in phase.changes)
